"""Settings for a test site on a temporary data directory, with the small real models."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import MODELS_DIR, TEST_CHAT, TEST_EMBED


def make_settings(data_dir: Path, sample: bool = False, **models: object):
    from appliance.config import Settings

    model_cfg = {"dir": MODELS_DIR, "chat": [TEST_CHAT], "embedding": TEST_EMBED, "context_size": 2048,
                 "threads": 2, "max_queue": 8, **models}
    return Settings(storage={"data_dir": data_dir}, models=model_cfg, handbooks={"sample": sample},
                    ui={"max_answer_tokens": 1024})
