"""One configured logger for the service. Never log message content or personal data."""

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    for noisy in ("httpx", "sentence_transformers", "urllib3", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
