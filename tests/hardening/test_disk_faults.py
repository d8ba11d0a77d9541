"""Faults of the data directory's filesystem end in one plain sentence, and reads keep working (21.9).

The faults are real: a read-only bind mount (root writes through any ``chmod``, not through that) and a
tiny tmpfs filled to the last block (see :mod:`tests.support.filesystems`; both need root, as CI has).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from pipelines.base.disk_faults import DataDirectoryError, disk_fault
from pipelines.service.facade import NeedleService
from pipelines.stores.memory import EmbeddedDocumentStore
from pipelines.stores.records import SqliteRecordStore
from tests.conftest import HANDBOOK
from tests.support.filesystems import fill, read_only, tiny_filesystem
from tests.support.processes import needle_environment

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How many vacation days do I get?"


def _staging_leftovers(data_dir: Path) -> list[str]:
    return sorted(str(path.relative_to(data_dir)) for path in data_dir.rglob(".*"))


def _shared_with_others(data_dir: Path) -> list[str]:
    paths = [data_dir, *data_dir.rglob("*")]
    assert any(path.name.endswith(".sqlite3") for path in paths) and (data_dir / "originals").is_dir()
    return [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in paths if p.stat().st_mode & 0o077]


def test_reads_work_on_a_read_only_data_directory_and_writes_say_so(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    writer = service_factory()
    assert writer.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    writer.ask(QUESTION)  # a trace, in traces.sqlite3
    data_dir = writer.settings.data_dir
    writer.close()
    # Traces hold questions and restricted passages: files 0600, directories 0700.
    assert _shared_with_others(data_dir) == []
    with read_only(data_dir):
        service = service_factory()  # opening takes no write lock and creates nothing
        assert [source.file_name for source in service.list_sources()] == ["leave-policy.md"]
        answer = service.ask(QUESTION)
        assert answer.found and answer.citations[0].file_name == "leave-policy.md"
        with pytest.raises(DataDirectoryError, match="read-only"):
            service.ingest_file(HANDBOOK / "it-setup-guide.md")
        with pytest.raises(OSError, match="Read-only file system") as refused:
            service.delete_source(service.list_sources()[0].source_id)
        fault = disk_fault(refused.value, data_dir)
        assert fault is not None and fault.kind == "read_only"
        assert len(service.list_sources()) == 1


def test_a_record_database_on_a_read_only_filesystem_reads_and_refuses_writes(tmp_path: Path) -> None:
    records = SqliteRecordStore(tmp_path / "data" / "records.sqlite3")
    records.put("notes", "one", {"kind": "kept"})
    records.close()  # the last connection checkpoints the WAL and removes -wal and -shm
    with read_only(tmp_path / "data"):
        reader = SqliteRecordStore(tmp_path / "data" / "records.sqlite3")
        assert reader.read_only and reader.get("notes", "one") is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly") as refused:
            reader.put("notes", "two", {"kind": "new"})
        assert disk_fault(refused.value, tmp_path / "data").kind == "read_only"  # type: ignore[union-attr]
        missing = SqliteRecordStore(tmp_path / "data" / "absent.sqlite3")  # nothing to read: empty
        assert missing.get("notes", "one") is None
        reader.close()
        missing.close()


def _documents(count: int, start: int = 0) -> list[Document]:
    rng = np.random.default_rng(start)
    return [
        Document(
            id=f"doc-{start + number}",
            content=" ".join(rng.choice(["apple", "river", "stone", "cloud", "paper"], 400)),
            meta={"source_id": f"s{start + number}"},
            embedding=rng.standard_normal(384).tolist(),
        )
        for number in range(count)
    ]


def _write_until_refused(store: EmbeddedDocumentStore) -> OSError:
    for batch in range(1, 40):
        try:
            store.write_documents(_documents(20, start=batch * 100))
        except OSError as error:
            return error
    raise AssertionError("the tiny filesystem never filled up")


def test_a_full_disk_fails_a_write_whole_leaves_no_staging_files_and_reads_go_on(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk", size="2m") as disk:
        store = EmbeddedDocumentStore(disk / "store")
        store.write_documents(_documents(5))
        fill(disk, leave_bytes=96 * 1024)
        refused = _write_until_refused(store)
        assert disk_fault(refused).kind == "full"  # type: ignore[union-attr]
        count = store.count_documents()
        assert _staging_leftovers(disk / "store") == []
        manifest = json.loads((disk / "store" / "MANIFEST").read_text())
        published = {entry["name"] for entry in manifest["segments"]}
        assert {path.name for path in (disk / "store").iterdir() if path.is_dir()} == published
        again = EmbeddedDocumentStore(disk / "store")  # another process, while the disk is still full
        assert again.count_documents() == count >= 5
        assert len(again.bm25_retrieval("apple river", top_k=3)) == 3


def test_a_write_refused_at_its_manifest_leaves_no_unpublished_segment(tmp_path: Path) -> None:
    """Room for the new segment and not one block more: the segment is saved, the manifest is not, and
    the segment (unreachable, and taking the space the disk lacks) is removed at once."""
    scratch = EmbeddedDocumentStore(tmp_path / "scratch")
    scratch.write_documents(_documents(20, start=100))
    segment = next(path for path in (tmp_path / "scratch").iterdir() if path.is_dir())
    segment_bytes = sum(file.stat().st_blocks * 512 for file in segment.iterdir())
    with tiny_filesystem(tmp_path / "disk", size="2m") as disk:
        store = EmbeddedDocumentStore(disk / "store")
        store.write_documents(_documents(5))
        before = (disk / "store" / "MANIFEST").read_bytes()
        fill(disk, leave_bytes=segment_bytes)
        with pytest.raises(OSError, match="No space left"):
            store.write_documents(_documents(20, start=100))
        assert (disk / "store" / "MANIFEST").read_bytes() == before
        assert sorted(path.name for path in (disk / "store").iterdir()) == sorted(
            ["LOCK", "MANIFEST", *(e["name"] for e in json.loads(before)["segments"])]
        )
        assert store.count_documents() == 5


def test_sources_and_ask_work_while_the_disk_is_full_and_ingest_says_it_is(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    with tiny_filesystem(tmp_path / "disk", size="4m") as disk:
        writer = service_factory(data_dir=disk / "data")
        assert writer.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
        writer.close()
        fill(disk)
        service = service_factory(data_dir=disk / "data")
        assert len(service.list_sources()) == 1
        assert service.ask(QUESTION).found
        with pytest.raises(DataDirectoryError, match="full"):
            service.ingest_file(HANDBOOK / "it-setup-guide.md")
        assert _staging_leftovers(disk / "data") == []
        assert len(service.list_sources()) == 1


# -- the real command, as an admin runs it -------------------------------------------------------------


def _needle(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env=needle_environment(NEEDLE_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_sentence(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """A refused write: exit status 1, nothing on stdout, one ``needle:`` line on stderr naming it."""
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done
    assert len(lines) == 1 and lines[0].startswith("needle: "), done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def _reads_work(data_dir: Path) -> None:
    sources = _needle(data_dir, "sources")
    assert sources.returncode == 0 and sources.stderr == "", sources.stderr
    assert "leave-policy" in sources.stdout
    ask = _needle(data_dir, "ask", QUESTION)
    assert ask.returncode == 0 and ask.stderr == "", ask.stderr
    assert "25" in ask.stdout and "leave-policy.md" in ask.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)  # five processes that each load the embedder: minutes on a busy machine
def test_the_cli_on_a_read_only_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    indexed = _needle(data_dir, "ingest", str(HANDBOOK / "leave-policy.md"))
    assert indexed.returncode == 0, indexed.stderr
    source_id = indexed.stdout.split(" -> ")[1].split()[0]
    with read_only(data_dir):
        _reads_work(data_dir)
        refused = _needle(data_dir, "ingest", str(HANDBOOK / "it-setup-guide.md"))
        _one_sentence(refused, "read-only", str(data_dir))
        _one_sentence(_needle(data_dir, "delete", source_id), "read-only")
        _one_sentence(_needle(data_dir, "channels", "set", "C0123ABCD", "--enabled", "no"), "read-only")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_cli_on_a_full_disk(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk", size="4m") as disk:
        data_dir = disk / "data"
        assert _needle(data_dir, "ingest", str(HANDBOOK / "leave-policy.md")).returncode == 0
        filler = fill(disk, leave_bytes=128 * 1024)  # room to open the databases, not to index a folder
        folder = tmp_path / "folder"
        folder.mkdir()
        names = ("it-setup-guide.md", "leave-policy.md", "performance-reviews.txt", "remote-work-policy.docx")
        for name in names:
            (folder / name).write_bytes((HANDBOOK / name).read_bytes())
        (folder / "big.txt").write_text("Apples grow on trees in the valley. " * 3000)  # 108 kB
        midway = _needle(data_dir, "ingest", str(folder))
        _one_sentence(midway, "full", "stopped at")
        assert midway.stdout.count("\n") < 5
        assert _staging_leftovers(data_dir) == []
        fill(disk)
        _reads_work(data_dir)
        _one_sentence(_needle(data_dir, "ingest", str(folder)), "full")
        assert _staging_leftovers(data_dir) == []
        os.unlink(filler)
