"""The console's endpoints as an API client sees them: a real server, a real service, a logged-in client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from admin import render
from pipelines.samples import handbook_dir
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, Console

HANDBOOK = handbook_dir()
DEFAULT_KNOBS = ([], [], 30, 30, 5, "rrf", 60, 1.0, 1.0)


@pytest.fixture(scope="module")
def client(console: Console) -> Iterator[Client]:
    client = Client(console.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    yield client
    client.close()


def _rows(table: dict[str, Any]) -> list[list[Any]]:
    return table["data"]


def _sources(client: Client) -> dict[str, list[Any]]:
    table, _choices, _overview = client.predict(api_name="/list_sources")
    return {row[-1]: row for row in _rows(table)}


def _upload(
    client: Client,
    paths: list[Path],
    title: str = "",
    url: str = "",
    tags: str = "",
    on_conflict: str = "report",
) -> Any:
    """(results, summary, sources table, source choices, header line, conflict text, conflict choices)."""
    files = [handle_file(str(path)) for path in paths]
    return client.predict(files, title, url, tags, on_conflict, api_name="/upload")


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_upload_indexes_good_files_and_rejects_a_corrupt_one_with_its_reason(
    client: Client, console: Console, tmp_path: Path
) -> None:
    before = console.service.store.count_documents()
    corrupt = _write(tmp_path, "broken-handbook.pdf", b"%PDF-1.7\nthis is not really a pdf\n")

    results, summary, sources_table, _choices, overview, *_ = _upload(
        client, [HANDBOOK / "leave-policy.md", corrupt], tags="HR, policies"
    )

    by_file = {row[0]: row for row in _rows(results)}
    assert by_file["leave-policy.md"][1] == "✅ indexed"
    assert int(by_file["leave-policy.md"][2]) > 0
    assert by_file["broken-handbook.pdf"][1] == "❌ rejected"
    assert by_file["broken-handbook.pdf"][3]  # a reason a person can act on
    assert "1 indexed, 1 rejected" in summary
    listed = {row[1]: row for row in _rows(sources_table)}
    assert "broken-handbook.pdf" not in listed
    leave = listed["leave-policy.md"]
    assert leave[0] == "Leave Policy"
    assert leave[2] == "markdown"
    assert leave[5] == "hr, policies"
    assert leave[render.SOURCE_HEADERS.index("Uploaded by")] == ADMIN_USER  # the logged-in admin
    assert leave[render.SOURCE_HEADERS.index("Audience")] == "everyone"  # a new source's default
    assert leave[4] == (HANDBOOK / "leave-policy.md").stat().st_size  # bytes, shown as KB, sorts as a number
    assert f"**{len(_rows(sources_table))}** source" in overview  # the header counts follow the upload
    assert console.service.store.count_documents() == before + int(by_file["leave-policy.md"][2])


def test_title_and_url_with_several_files_is_refused_before_anything_is_indexed(
    client: Client, console: Console
) -> None:
    before = console.service.store.count_documents()
    with pytest.raises(AppError, match="one document"):
        _upload(client, [HANDBOOK / "it-setup-guide.md", HANDBOOK / "performance-reviews.txt"], title="Two")
    assert console.service.store.count_documents() == before


def test_upload_with_title_url_then_reindex_then_delete(client: Client, console: Console) -> None:
    results, *_ = _upload(
        client,
        [HANDBOOK / "emergency-procedures.txt"],
        title="Fire & flood",
        url="https://intranet.example/sos",
    )
    source_id = _rows(results)[0][-1]
    assert _sources(client)[source_id][0] == "Fire & flood"

    status, table, _choices, _overview = client.predict(source_id, api_name="/reindex_source")
    assert "1 indexed" in status
    assert source_id in {row[-1] for row in _rows(table)}

    status, table, _choices, overview = client.predict(source_id, api_name="/delete_source")
    assert f"Deleted `{source_id}`" in status
    assert f"**{len(_rows(table))}** source" in overview
    assert source_id not in {row[-1] for row in _rows(table)}
    assert source_id not in _sources(client)
    with pytest.raises(AppError, match="no source"):
        client.predict(source_id, api_name="/delete_source")


def test_chunks_come_in_reading_order_with_their_metadata(client: Client, console: Console) -> None:
    results, *_ = _upload(client, [HANDBOOK / "performance-reviews.txt"])
    source_id = _rows(results)[0][-1]
    expected = console.service.source_chunks(source_id)

    table, summary = client.predict(source_id, "", api_name="/source_chunks")
    rows = _rows(table)
    assert [int(row[0]) for row in rows] == list(range(1, len(expected) + 1))
    assert [row[5] for row in rows] == [passage.content for passage in expected]
    assert all(len(row[4]) == 64 for row in rows)  # sha256 content hash
    assert summary == f"{len(expected)} chunks."

    word = expected[-1].content.split()[-1].strip(".,;:")
    table, summary = client.predict(source_id, word.upper(), api_name="/source_chunks")
    assert 1 <= len(_rows(table)) <= len(expected)
    assert all(word.casefold() in row[5].casefold() for row in _rows(table))


def test_debug_query_shows_every_stage_and_leaves_a_trace_that_reopens(
    client: Client, console: Console
) -> None:
    _upload(client, [HANDBOOK / "leave-policy.md"])
    question = "How many vacation days can I carry over into next year?"

    out = client.predict(question, [], [], 10, 8, 3, "weighted", 60, 2.0, 0.5, api_name="/debug_query")
    (
        trace_id,
        heading,
        asked,
        answer,
        citations,
        timings,
        bm25,
        dense,
        fused,
        reranked,
        note,
        prompt,
        used,
        _fb,
    ) = out

    assert asked == question
    assert f"`{trace_id}`" in heading
    assert f"?trace={trace_id}" in heading
    assert answer.strip()
    assert 0 < len(_rows(bm25)) <= 10
    assert 0 < len(_rows(dense)) <= 8
    assert len(_rows(fused)) == 3
    assert [row[0] for row in _rows(bm25)] == list(range(1, len(_rows(bm25)) + 1))
    assert _rows(bm25)[0][2] == "Leave Policy"
    assert _rows(dense)[0][2] == "Leave Policy"
    fused_row = _rows(fused)[0]
    assert fused_row[2] != "" or fused_row[4] != ""  # at least one retriever contributed
    assert _rows(reranked) == []
    assert "NEEDLE_RERANKER_MODEL" in note
    assert "Passages" in prompt
    assert question in prompt
    assert {row[0] for row in _rows(timings)} >= {"total"}
    assert used["settings"]["fusion"] == "weighted"
    assert used["settings"]["bm25_weight"] == 2.0
    assert all(str(row[0]).isdigit() for row in _rows(citations))

    trace = console.service.get_trace(trace_id)
    assert trace["origin"] == "admin"
    assert trace["user_id"] == ADMIN_USER
    reopened = client.predict(trace_id, api_name="/open_trace")
    assert reopened[6] == bm25
    assert reopened[8] == fused
    assert reopened[11] == prompt


def test_debug_query_rejects_bad_input_with_a_reason(client: Client) -> None:
    with pytest.raises(AppError, match="Please ask a question"):
        client.predict("   ", *DEFAULT_KNOBS, api_name="/debug_query")
    with pytest.raises(AppError, match="less than minimum value 1"):
        client.predict("vacation", [], [], 0, 30, 5, "rrf", 60, 1.0, 1.0, api_name="/debug_query")
    with pytest.raises(AppError, match="not a trace id"):
        client.predict("../../etc/passwd", api_name="/open_trace")
    with pytest.raises(AppError, match="No trace"):
        client.predict("0" * 32, api_name="/open_trace")


def test_traces_and_feedback_from_slack_are_listed_and_filterable(client: Client, console: Console) -> None:
    _upload(client, [HANDBOOK / "leave-policy.md"])
    service = console.service
    liked = service.ask("How do I report sick leave?", origin="slack", user_id="U_ALICE")
    disliked = service.ask("What is the parental leave allowance?", origin="slack", user_id="U_BOB")
    service.record_feedback(liked.trace_id, "up", user_id="U_ALICE")
    service.record_feedback(disliked.trace_id, "down", user_id="U_BOB", reason="missing the part-time rule")

    table = client.predict("slack", 50, api_name="/recent_traces")
    by_id = {row[-1]: row for row in _rows(table)}
    assert {liked.trace_id, disliked.trace_id} <= set(by_id)
    assert all(row[1] == "slack" for row in _rows(table))
    assert by_id[disliked.trace_id][3] == "What is the parental leave allowance?"
    assert (by_id[disliked.trace_id][6], by_id[disliked.trace_id][7]) == (0, 1)
    admin_only = client.predict("admin", 50, api_name="/recent_traces")
    assert disliked.trace_id not in {row[-1] for row in _rows(admin_only)}

    down = client.predict("down", "", api_name="/feedback")
    assert [row[-1] for row in _rows(down)] == [disliked.trace_id]
    assert _rows(down)[0][1:3] == ["👎", "missing the part-time rule"]
    assert _rows(client.predict("all", "PART-TIME", api_name="/feedback"))[0][-1] == disliked.trace_id
    assert liked.trace_id in {row[-1] for row in _rows(client.predict("up", "", api_name="/feedback"))}

    opened = client.predict(disliked.trace_id, api_name="/open_trace")
    assert opened[2] == "What is the parental leave allowance?"
    assert [row[2] for row in _rows(opened[13])] == ["missing the part-time rule"]


def _dependencies(console: Console) -> list[dict[str, Any]]:
    with httpx.Client(base_url=console.url) as http:
        login = http.post("login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        config = http.get("config")
        assert config.status_code == 200
        return config.json()["dependencies"]


@pytest.mark.slow  # over 8 s: kept out of the 10-minute default suite; CI runs it with the slow tests
def test_every_endpoint_refuses_unauthenticated_callers(console: Console, tmp_path: Path) -> None:
    dependencies = _dependencies(console)
    api_names = sorted({dep["api_name"] for dep in dependencies if dep.get("api_name")})
    assert {"upload", "list_sources", "delete_source", "debug_query", "open_trace", "recent_traces"} <= set(
        api_names
    )
    before = console.service.store.count_documents()
    with httpx.Client(base_url=console.url) as anonymous:
        wrong = anonymous.post("login", data={"username": ADMIN_USER, "password": "guess"})
        assert wrong.status_code >= 400
        for path in ("config", "gradio_api/info", "gradio_api/openapi.json"):
            assert anonymous.get(path).status_code in (401, 403), path
        for name in api_names:
            response = anonymous.post(f"gradio_api/call/{name}", json={"data": []})
            assert response.status_code in (401, 403), name
        for dep in dependencies:
            response = anonymous.post(
                "gradio_api/queue/join",
                json={"data": [], "fn_index": dep["id"], "session_hash": "anonymous", "event_data": None},
            )
            assert response.status_code in (401, 403), dep
        upload = anonymous.post(
            "gradio_api/upload", files={"files": ("leak.md", b"# hello\nanonymous upload")}
        )
        assert upload.status_code in (401, 403)
    with pytest.raises(Exception, match=r"(?i)login|auth|401|403"):
        Client(console.url, verbose=False)
    assert console.service.store.count_documents() == before


def test_a_file_over_the_limit_is_rejected_alone_and_the_others_are_indexed(
    console_factory: Callable[..., Console], tmp_path: Path
) -> None:
    small = console_factory(max_upload_mb=0.01)  # 10 KB
    big = _write(tmp_path, "big-notes.md", "# Notes\n" + "vacation days are counted in hours. " * 600)
    fine = _write(tmp_path, "short-note.md", "# Short\n\nThe VPN port is 443.\n")
    limited = Client(small.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    try:
        results, summary, sources_table, *_ = _upload(limited, [big, fine])
    finally:
        limited.close()
    by_file = {row[0]: row for row in _rows(results)}
    big_row = by_file["big-notes.md"]
    assert big_row[1] == "❌ rejected" and "over the upload limit" in big_row[3]
    assert by_file["short-note.md"][1] == "✅ indexed"
    assert "1 indexed, 1 rejected" in summary
    assert [row[1] for row in _rows(sources_table)] == ["short-note.md"]


def test_a_file_far_over_the_limit_is_refused_before_it_is_stored(
    console_factory: Callable[..., Console], tmp_path: Path
) -> None:
    small = console_factory(max_upload_mb=0.01)  # 10 KB; Gradio's ceiling is 40 KB
    huge = _write(tmp_path, "huge-notes.md", "# Notes\n" + "vacation days are counted in hours. " * 2000)
    limited = Client(small.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    try:
        with pytest.raises(Exception, match=r"(?i)size|large|413"):
            _upload(limited, [huge])
        assert _rows(limited.predict(api_name="/list_sources")[0]) == []
    finally:
        limited.close()
    assert small.service.store.count_documents() == 0


def test_uploading_a_new_version_without_tags_keeps_the_sources_tags(
    client: Client, console: Console, tmp_path: Path
) -> None:
    original = (HANDBOOK / "it-setup-guide.md").read_text(encoding="utf-8")
    (tmp_path / "v1").mkdir()
    first = _write(tmp_path / "v1", "it-setup-guide.md", original)
    _upload(client, [first], tags="it")
    second = _write(tmp_path, "it-setup-guide.md", original + "\nUpdated: the VPN port is unchanged.\n")
    results, summary, _table, _choices, _overview, question, choices = _upload(client, [second])
    assert _rows(results)[0][1] == "⚠️ same name" and "waiting for your decision" in summary
    assert render.md_text("it-setup-guide.md") in question  # the console asks before replacing
    assert choices["value"] == ["it-setup-guide.md"]  # ticked for the decision

    # The admin's answer: replace. The file held in this session becomes the new version, tags kept.
    results, _summary, sources_table, *_ = client.predict(
        ["it-setup-guide.md"], "", "", "", api_name="/replace_conflicts"
    )
    assert _rows(results)[0][1] == "🔁 replaced"
    assert {row[1]: row for row in _rows(sources_table)}["it-setup-guide.md"][5] == "it"
    assert "VPN port is unchanged" in " ".join(
        p.content for p in console.service.source_chunks(_rows(results)[0][-1])
    )


def test_a_different_document_with_the_same_name_can_be_kept_beside_the_first(
    client: Client, console: Console, tmp_path: Path
) -> None:
    (tmp_path / "hr").mkdir()
    _upload(client, [_write(tmp_path / "hr", "parking.md", "# Parking\n\nHR: staff park on level -2.\n")])
    before = console.service.store.count_documents()
    theirs = _write(tmp_path, "parking.md", "# Parking\n\nFacilities: visitors park on level -1.\n")

    results, *_ = _upload(client, [theirs])  # asked: nothing changes until the admin decides
    assert _rows(results)[0][1] == "⚠️ same name" and "already indexed" in _rows(results)[0][3]
    assert console.service.store.count_documents() == before

    results, _summary, sources_table, *_ = _upload(client, [theirs], on_conflict="keep_both")
    kept = _rows(results)[0][-1]
    assert _rows(results)[0][1] == "✅ indexed" and kept.endswith("-2")
    assert [row[1] for row in _rows(sources_table)].count("parking.md") == 2
    assert "visitors park" in console.service.source_chunks(kept)[0].content
