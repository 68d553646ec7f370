"""Switch off every dependency's telemetry and hub access before anything imports them.

Imported first by the ``appliance`` package, so these are set before chromadb, gradio,
huggingface_hub, transformers or sentence-transformers are imported anywhere in the process.
"""

import logging
import os

TELEMETRY_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    # onnxruntime (Whisper's voice-activity filter, chromadb) sends 1DS telemetry to Microsoft by
    # default in its official Linux wheels; this stops it before the library initialises
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# not telemetry, but noise on a terminal or in the service's log
QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def apply() -> None:
    """Force the switches: a value set elsewhere must not turn telemetry back on."""
    for key, value in TELEMETRY_ENV.items():
        os.environ[key] = value
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken PDF is reported once, by us


def state() -> dict[str, str | None]:
    """What the process has now, for `appliance doctor`."""
    return {key: os.environ.get(key) for key in TELEMETRY_ENV}


apply()
