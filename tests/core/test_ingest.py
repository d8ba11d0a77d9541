"""Indexing through the real pipeline into the real persisted store, with the real embedding model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipelines.base.errors import SourceNotFoundError
from pipelines.base.sizes import upload_limit_bytes
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.core.bad_files import bad_files

REQUIRED_META = {
    "source_id",
    "title",
    "file_name",
    "url",
    "page",
    "chunk_index",
    "content_hash",
    "indexed_at",
    "uploaded_by",
    "tags",
}


def _store_bytes(service: NeedleService) -> dict[str, bytes]:
    return service.store.generation_files()


@pytest.mark.parametrize(
    "file_name",
    [
        "travel-and-expenses-policy.pdf",
        "benefits-overview.docx",
        "office-facilities.html",
        "leave-policy.md",
        "performance-reviews.txt",
        "leave-policy-zh.md",
        "it-vpn-zh.html",
    ],
)
def test_each_file_type_is_indexed_with_full_chunk_metadata(
    empty_service: NeedleService, file_name: str
) -> None:
    result = empty_service.ingest_file(
        HANDBOOK / file_name,
        url="https://intranet.acme.example/x",
        tags=["HR", "policies "],
        uploaded_by="ana",
    )
    assert result.status == "indexed", result.reason
    assert result.chunks >= 1
    chunks = empty_service.source_chunks(result.source_id)
    assert len(chunks) == result.chunks
    for number, passage in enumerate(chunks, start=1):
        assert set(passage.meta) >= REQUIRED_META
        assert passage.meta["chunk_index"] == number - 1
        assert passage.meta["content_hash"] == hashlib.sha256(passage.content.encode()).hexdigest()
        assert passage.meta["tags"] == ["hr", "policies"]
        assert passage.meta["uploaded_by"] == "ana"
        assert passage.meta["url"] == "https://intranet.acme.example/x"
        assert passage.content.strip()
    pages = [passage.meta["page"] for passage in chunks]
    if file_name.endswith(".pdf"):
        assert pages[0] == 1 and max(pages) == 4 and pages == sorted(pages)
    else:
        assert set(pages) == {None}


def test_html_boilerplate_and_scripts_are_not_indexed(empty_service: NeedleService) -> None:
    result = empty_service.ingest_file(HANDBOOK / "office-facilities.html")
    text = " ".join(p.content for p in empty_service.source_chunks(result.source_id))
    assert "DeskFlow" in text
    assert "<script" not in text and "function(" not in text and "cookie" not in text.lower()


def test_chunks_are_about_150_to_250_words(handbook_service: NeedleService) -> None:
    from pipelines.text.basics import word_count

    sizes = [
        word_count(p.content)
        for source in handbook_service.list_sources()
        for p in handbook_service.source_chunks(source.source_id)
    ]
    assert max(sizes) <= handbook_service.settings.chunk_words
    big = [size for size in sizes if size >= 100]
    assert len(big) >= len(sizes) / 3  # the rest are ends of pages and sections


def test_reingesting_changed_content_replaces_the_old_chunks(
    empty_service: NeedleService, tmp_path: Path
) -> None:
    path = tmp_path / "policy.md"
    path.write_text("# Policy\n\n" + "Old rule number one applies to everyone here. " * 60)
    first = empty_service.ingest_file(path)
    path.write_text("# Policy\n\nThe new rule is short.")
    second = empty_service.ingest_file(path)
    assert second.status == "indexed" and second.source_id == first.source_id
    chunks = empty_service.source_chunks(first.source_id)
    assert len(chunks) == 1 and "new rule" in chunks[0].content
    assert empty_service.store.count_documents() == 1
    assert [s.chunks for s in empty_service.list_sources()] == [1]


def test_identical_content_is_a_no_op(empty_service: NeedleService) -> None:
    first = empty_service.ingest_file(HANDBOOK / "leave-policy.md")
    before = _store_bytes(empty_service)
    second = empty_service.ingest_file(HANDBOOK / "leave-policy.md")
    assert second.status == "unchanged" and second.chunks == first.chunks
    assert _store_bytes(empty_service) == before
    retitled = empty_service.ingest_file(HANDBOOK / "leave-policy.md", title="Leave (2027)")
    assert retitled.status == "indexed"
    assert empty_service.list_sources()[0].title == "Leave (2027)"


def test_delete_and_list_sources(empty_service: NeedleService) -> None:
    kept = empty_service.ingest_file(HANDBOOK / "leave-policy.md")
    gone = empty_service.ingest_file(HANDBOOK / "it-setup-guide.md")
    listed = {s.source_id: s for s in empty_service.list_sources()}
    assert set(listed) == {kept.source_id, gone.source_id}
    assert listed[gone.source_id].chunks == gone.chunks
    assert listed[gone.source_id].file_type == "markdown"
    assert empty_service.delete_source(gone.source_id) == gone.chunks
    assert [s.source_id for s in empty_service.list_sources()] == [kept.source_id]
    assert empty_service.store.count_documents() == kept.chunks
    with pytest.raises(SourceNotFoundError):
        empty_service.delete_source(gone.source_id)


def test_bad_files_are_rejected_and_leave_the_store_byte_for_byte_unchanged(
    empty_service: NeedleService,
) -> None:
    empty_service.ingest_file(HANDBOOK / "leave-policy.md")
    before = _store_bytes(empty_service)
    limit = upload_limit_bytes(empty_service.settings.max_upload_mb)
    for name, (file_name, data, reason) in bad_files(limit).items():
        result = empty_service.ingest_bytes(file_name, data)
        assert result.status == "rejected", name
        assert reason.lower() in result.reason.lower(), (name, result.reason)
        assert _store_bytes(empty_service) == before, name


def test_a_bad_version_of_a_source_does_not_replace_the_good_one(empty_service: NeedleService) -> None:
    good = empty_service.ingest_bytes("handbook.pdf", (HANDBOOK / "code-of-conduct.pdf").read_bytes())
    bad = empty_service.ingest_bytes("handbook.pdf", b"%PDF-1.4 broken")
    assert bad.status == "rejected"
    assert empty_service.list_sources()[0].chunks == good.chunks


def test_store_persists_across_a_restart(service_factory) -> None:
    service = service_factory()
    indexed = service.ingest_file(HANDBOOK / "benefits-overview.docx")
    restarted = service_factory()
    assert [s.source_id for s in restarted.list_sources()] == [indexed.source_id]
    answer = restarted.ask("How much is the personal learning budget per year?")
    assert answer.citations and answer.citations[0].source_id == indexed.source_id


def test_reindex_uses_the_kept_original(service_factory) -> None:
    service = service_factory()
    first = service.ingest_file(HANDBOOK / "leave-policy.md", tags=["hr"])
    again = service.reindex_source(first.source_id)
    assert again.status == "indexed" and again.chunks == first.chunks
    assert service.list_sources()[0].tags == ["hr"]
    bigger_chunks = service_factory(chunk_words=400, chunk_overlap_words=20)
    assert bigger_chunks.ingest_file(HANDBOOK / "leave-policy.md", tags=["hr"]).status == "indexed"


def test_folders_are_expanded_to_supported_files(empty_service: NeedleService) -> None:
    results = empty_service.ingest_paths([HANDBOOK])
    assert len(results) == len(list(HANDBOOK.iterdir()))
    assert {r.status for r in results} == {"indexed"}
    assert empty_service.stats()["sources"] == len(results)


def test_a_new_conversion_version_reindexes_unchanged_files(service_factory, monkeypatch) -> None:
    first = service_factory()
    assert first.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    assert first.ingest_file(HANDBOOK / "leave-policy.md").status == "unchanged"
    monkeypatch.setattr("pipelines.service.facade.CONVERSION_VERSION", 99)
    upgraded = service_factory()
    assert upgraded.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    assert upgraded.ingest_file(HANDBOOK / "leave-policy.md").status == "unchanged"


def test_a_new_version_keeps_the_sources_title_url_and_tags_unless_changed(service_factory) -> None:
    service = service_factory()
    data = (HANDBOOK / "leave-policy.md").read_bytes()
    service.ingest_bytes("leave.md", data, title="Leave rules", url="https://wiki/leave", tags=["hr"])
    assert service.ingest_bytes("leave.md", data + b"\nUpdated.\n").status == "indexed"
    source = service.list_sources()[0]
    assert (source.title, source.url, source.tags) == ("Leave rules", "https://wiki/leave", ["hr"])
    service.ingest_bytes("leave.md", data, tags=["people"], title="  ")
    source = service.list_sources()[0]
    assert (source.title, source.tags) == ("Leave rules", ["people"])
    service.ingest_bytes("leave.md", data, tags=[])
    assert service.list_sources()[0].tags == []
