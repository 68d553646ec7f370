"""Where the tests find the repository and the small real models, and which models they use."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("APPLIANCE_TEST_MODELS_DIR", ROOT / "var" / "models"))
TEST_CHAT = "smollm2-135m-instruct-q4_1"
TEST_EMBED = "all-minilm-l6-v2"  # fast: for tests of the machinery
DEFAULT_EMBED = "embeddinggemma-300m"  # the box's default: handbook tests that are about retrieval
TEST_SPEECH = "whisper-base"
TEST_VOICE = "piper-en-us-joe-medium"  # not a default: `make setup` fetches it for the tests


def require_models(*model_ids: str) -> None:
    """Fail (not skip) when a model the test needs is missing: `make setup` fetches them."""
    import pytest

    from models.catalog import load_catalog
    from models.store import FileState, check_model

    for model_id in model_ids or (TEST_CHAT, TEST_EMBED, TEST_SPEECH):
        checks = check_model(MODELS_DIR, load_catalog().get(model_id))
        if any(c.state is not FileState.ok for c in checks):
            pytest.fail(f"model {model_id} missing in {MODELS_DIR}: run `make setup`")
