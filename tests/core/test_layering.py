"""pipelines/ is the core: it never loads the faces or their frameworks, and one module knows the store.

Which package may import which (the layers, faces apart, no cycles) is checked statically by import-linter's
contracts in pyproject.toml (``lint-imports``, run by scripts/test.sh); these tests check what a static
graph cannot: what importing the core loads at run time, and who reads which store is configured.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pipelines

# slack_sdk is not here: the Slack connector reads channels with it (the contracts keep it there).
FORBIDDEN = ("bot", "admin", "slack_bolt", "gradio")


@pytest.mark.slow
def test_importing_the_core_loads_no_face() -> None:
    code = (
        "import sys, pipelines.service.facade, pipelines.cli, pipelines.app.server;"
        f"bad=[m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_backend_factory_asks_which_store_is_configured() -> None:
    """``NEEDLE_STORE`` is read in one place (``pipelines.stores.build_backend``); everything else gets a
    ``SearchBackend`` and never checks which one it is."""
    root = Path(pipelines.__file__).parent.parent
    store_classes = {"EmbeddedDocumentStore", "InMemoryDocumentStore", "ElasticsearchDocumentStore"}
    offenders = []
    for package in ("pipelines", "bot", "admin"):
        for path in (root / package).rglob("*.py"):
            relative = path.relative_to(root).as_posix()
            if relative in ("pipelines/stores/__init__.py", "pipelines/base/settings.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                owner = getattr(node, "value", None)
                owner_name = getattr(owner, "id", None) or getattr(owner, "attr", None)
                if isinstance(node, ast.Attribute) and node.attr == "store" and owner_name == "settings":
                    offenders.append(f"{relative}:{node.lineno} reads settings.store")
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "isinstance"
                    and any(isinstance(arg, ast.Name) and arg.id in store_classes for arg in ast.walk(node))
                ):
                    offenders.append(f"{relative}:{node.lineno} checks a store's class")
    assert offenders == []
