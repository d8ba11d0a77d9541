"""Every file or folder of the repository that the README and the docs name exists.

The docs point readers at code (``pipelines/querying/answering.py``), scripts and results by path. MkDocs
checks links between pages, not paths in code spans, so a module moved or renamed would leave the docs
sending people to nothing; this test catches that when the move is made.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("pipelines/", "bot/", "admin/", "scripts/", "tests/", "infra/", "results/", "docs/", ".ci/")
#: Paths the docs name on purpose although they are not in the repository: generated or local only.
NOT_COMMITTED = {
    "tests/artifacts/",  # screenshots of the browser tests, git-ignored
    "infra/.env",  # named to say that compose would look for it there
}
#: A path with a placeholder or a pattern in it names a family of files, not one.
PATTERN = re.compile(r"[<>{}*…]|\.\.\.")


def _named_paths() -> list[tuple[str, str]]:
    named = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for span in re.findall(r"`([^`\s]+)`", page.read_text(encoding="utf-8")):
            path = span.rstrip(".,:;)")
            if path.startswith(TOP_LEVEL) and not PATTERN.search(path) and path not in NOT_COMMITTED:
                named.append((str(page.relative_to(ROOT)), path))
    return named


def test_the_docs_name_many_paths() -> None:
    assert len(_named_paths()) > 100  # the pattern still finds them: a broken pattern would check nothing


def test_every_path_the_docs_name_exists() -> None:
    missing = [f"{page}: {path}" for page, path in _named_paths() if not (ROOT / path).exists()]
    assert missing == [], "update the docs to the new path, or add the path to NOT_COMMITTED with a reason"
