"""A file named like an indexed source but with other content: replace it, keep both, or report it.

The console asks the admin (``report``, then replace or keep both); ``needle ingest`` replaces by default,
as scripts that sync a folder of updated documents expect, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.indexing.sources import source_id_for
from pipelines.service.facade import NeedleService

NAME = "remote-work-policy.md"
OURS = "# Remote Work Policy\n\nEngineering staff may work remotely three days a week.\n"
THEIRS = "# Remote Work Policy\n\nSales staff must be in the office on Mondays and Fridays.\n"


def _file(folder: Path, text: str, name: str = NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def service(service_factory: Callable[..., NeedleService], tmp_path: Path) -> NeedleService:
    service = service_factory()
    first = service.ingest_file(_file(tmp_path / "engineering", OURS), tags=["engineering"])
    assert first.status == "indexed" and first.source_id == source_id_for(NAME)
    return service


def test_report_indexes_nothing_and_names_the_document_it_would_replace(
    service: NeedleService, tmp_path: Path
) -> None:
    before = service.store.count_documents()
    result = service.ingest_file(_file(tmp_path / "sales", THEIRS), on_conflict="report")
    assert result.status == "conflict"
    assert result.source_id == source_id_for(NAME)
    assert "already indexed" in result.reason and "Remote Work Policy" in result.reason
    assert service.store.count_documents() == before
    text = " ".join(p.content for p in service.source_chunks(source_id_for(NAME)))
    assert "Engineering staff" in text and "Sales staff" not in text


def test_identical_bytes_are_no_conflict(service: NeedleService, tmp_path: Path) -> None:
    result = service.ingest_file(_file(tmp_path / "again", OURS), on_conflict="report")
    assert result.status == "unchanged" and result.source_id == source_id_for(NAME)


def test_keep_both_adds_a_new_source_and_later_uploads_find_their_own_copy(
    service: NeedleService, tmp_path: Path
) -> None:
    theirs = _file(tmp_path / "sales", THEIRS)
    kept = service.ingest_file(theirs, on_conflict="keep_both", tags=["sales"])
    assert kept.status == "indexed" and not kept.replaced
    assert kept.source_id == f"{source_id_for(NAME)}-2"
    by_id = {source.source_id: source for source in service.list_sources()}
    assert by_id[source_id_for(NAME)].tags == ["engineering"]
    assert by_id[kept.source_id].tags == ["sales"] and by_id[kept.source_id].file_name == NAME

    # Either version uploaded again is recognised as the copy that holds it, not as a new conflict.
    assert service.ingest_file(theirs, on_conflict="report").source_id == kept.source_id
    assert service.ingest_file(theirs, on_conflict="report").status == "unchanged"
    third = service.ingest_file(
        _file(tmp_path / "hr", OURS + "\nHR adds: ask your manager.\n"), on_conflict="keep_both"
    )
    assert third.source_id == f"{source_id_for(NAME)}-3"


def test_replace_is_the_default_keeps_tags_and_says_it_replaced(
    service: NeedleService, tmp_path: Path
) -> None:
    result = service.ingest_file(_file(tmp_path / "v2", OURS + "\nUpdated for 2027.\n"))
    assert result.status == "indexed" and result.replaced
    assert result.source_id == source_id_for(NAME)
    (source,) = service.list_sources()
    assert source.tags == ["engineering"]
    assert "Updated for 2027" in " ".join(p.content for p in service.source_chunks(source.source_id))


def test_progress_advances_chunk_by_chunk_within_one_file(
    service_factory: Callable[..., NeedleService], tmp_path: Path
) -> None:
    service = service_factory(embedding_batch_size=2, chunk_words=40, chunk_overlap_words=0)
    paragraphs = [
        f"Rule {n}: the office on floor {n} opens at {n % 12 + 1} o'clock sharp." * 4 for n in range(12)
    ]
    path = _file(tmp_path, "# Office rules\n\n" + "\n\n".join(paragraphs) + "\n", "office-rules.md")
    seen: list[tuple[int, int]] = []
    result = service.ingest_file(path, progress=lambda done, total: seen.append((done, total)))
    assert result.status == "indexed"
    total = result.chunks
    assert total >= 6
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len({done for done, _ in seen if 0 < done < total}) >= 2  # it moved while the file was embedded


def test_needle_ingest_replaces_by_default_and_can_keep_both_or_report(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest", str(_file(tmp_path / "a", OURS))]) == 0
    assert cli.main(["ingest", str(_file(tmp_path / "b", THEIRS + "v2\n"))]) == 0
    assert f"replaced   {NAME} -> {source_id_for(NAME)}" in capsys.readouterr().out

    assert cli.main(["ingest", "--on-conflict", "report", str(_file(tmp_path / "c", THEIRS))]) == 1
    captured = capsys.readouterr()
    assert f"conflict   {NAME}: a different document with this file name is already indexed" in captured.err

    assert cli.main(["ingest", "--json", "--on-conflict", "keep-both", str(tmp_path / "c" / NAME)]) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    assert printed["status"] == "indexed" and printed["source_id"] == f"{source_id_for(NAME)}-2"
    assert cli.main(["sources", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
