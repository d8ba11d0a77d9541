"""One bad file name never stops a folder (issue 21.8).

A 255-byte name (the longest most filesystems take) used to be indexed and then fail while its original
was kept (``File name too long`` from the temporary file beside it): ``needle ingest`` stopped with a
traceback, skipped the rest of the folder, and died at the same file on every re-run. Originals are now
kept under short derived names, bidirectional controls are stripped from names, and a file whose
original cannot be kept is reported while the rest go on.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.service.facade import NeedleService
from tests.support.processes import needle_environment

ROOT = Path(__file__).resolve().parents[2]
#: 255 bytes in UTF-8; sorts between the other two files, so a stop there would skip ``z-last.md``.
LONG_NAME = "m" + "文" * 83 + "é.md"
BIDI_NAME = "invoice\u202egpj.md"  # displays as "invoicedm.jpg"


def write_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "a-first.md").write_text("# First\n\nThe first document talks about apples.\n")
    (folder / LONG_NAME).write_text("# Long\n\nThe long-named document talks about bananas.\n")
    (folder / BIDI_NAME).write_text("# Invoice\n\nThe invoice talks about dates and figs.\n")
    (folder / "z-last.md").write_text("# Last\n\nThe last document talks about cherries.\n")
    return folder


def test_a_folder_with_a_255_byte_name_is_indexed_whole_and_can_be_reindexed(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    assert len(LONG_NAME.encode("utf-8")) == 255
    service = service_factory()
    folder = write_folder(tmp_path / "docs")
    results = service.ingest_paths([folder])
    assert [result.status for result in results] == ["indexed"] * 4, results
    by_name = {result.file_name: result for result in results}
    assert set(by_name) == {"a-first.md", LONG_NAME, "invoicegpj.md", "z-last.md"}
    long_id = str(by_name[LONG_NAME].source_id)
    assert service.originals.get(long_id) == (LONG_NAME, (folder / LONG_NAME).read_bytes())
    kept = [path for path in (service.settings.data_dir / "originals").rglob("*") if path.is_file()]
    assert kept and max(len(path.name.encode()) for path in kept) <= 32
    assert service.reindex_source(long_id).status == "indexed"
    assert [result.status for result in service.ingest_paths([folder])] == ["unchanged"] * 4


def test_a_file_whose_original_cannot_be_kept_is_reported_and_the_rest_go_on(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    """A real on-disk obstacle (a file where the source's originals folder belongs), not a mock."""
    from pipelines.indexing.sources import source_id_for

    service = service_factory()
    folder = write_folder(tmp_path / "docs")
    originals = service.settings.data_dir / "originals"
    originals.mkdir(parents=True)
    (originals / source_id_for("a-first.md")).write_text("in the way")
    results = service.ingest_paths([folder])
    assert [result.status for result in results] == ["indexed"] * 4
    first = next(result for result in results if result.file_name == "a-first.md")
    assert any("original could not be kept" in warning for warning in first.warnings), first.warnings
    assert len(service.list_sources()) == 4


def _needle(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env=needle_environment(NEEDLE_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_needle_ingest_of_a_folder_with_a_255_byte_name_indexes_it_all_and_reruns(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "docs")
    data_dir = tmp_path / "data"
    first = _needle(data_dir, "ingest", str(folder))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr and first.stderr.strip() == ""
    lines = first.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("indexed") for line in lines), first.stdout
    assert any(LONG_NAME in line for line in lines) and not any("\u202e" in line for line in lines)
    again = _needle(data_dir, "ingest", str(folder))
    assert again.returncode == 0, again.stderr
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["unchanged"] * 4
