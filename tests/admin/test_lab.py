"""The retrieval lab and the debugger's lab features through the console's API, on a real server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from pipelines.indexing.sources import source_id_for
from pipelines.records.audience import ADMIN
from pipelines.service.facade import NeedleService
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, Console
from tests.conftest import HANDBOOK, make_settings

QUESTION = "Can I bring my bike to work?"
FACILITIES = source_id_for("office-facilities.html")


@pytest.fixture(scope="module")
def lab(console_factory: Callable[..., Console]) -> Console:
    console = console_factory()
    for name in ("office-facilities.html", "leave-policy.md", "it-setup-guide.md"):
        assert console.service.ingest_file(HANDBOOK / name).status == "indexed"
    restricted = console.service.ingest_file(
        HANDBOOK / "remote-work-policy.docx", audience="channel:C0REMOTE"
    )
    assert restricted.status == "indexed", restricted
    return console


@pytest.fixture(scope="module")
def client(lab: Console) -> Iterator[Client]:
    client = Client(lab.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
    yield client
    client.close()


def _rows(table: dict) -> list[list]:
    return table["data"]


def test_the_debugger_finds_a_source_in_every_list_views_as_a_channel_reruns_and_adds_a_case(
    client: Client, lab: Console
) -> None:
    service = lab.service
    out = client.predict(QUESTION, [], [], 200, 200, 5, "weighted", 60, 1.0, 0.75, api_name="/debug_query")
    trace_id = out[0]
    trace = service.get_trace(trace_id)
    assert trace["viewer"]["unrestricted"] is True  # blank "view as": an admin

    rows, why = client.predict(trace_id, FACILITIES, api_name="/find_in_lists")
    explained = [row for row in _rows(rows) if row[5] != ""]
    assert explained and "Fusion" not in why and "BM25 rank" in why and "fused rank" in why
    best = _rows(rows)[0]
    fused_ids = [item["id"] for item in trace["fused"]]
    if best[7] == "yes":  # it reached the answerer: its fused rank is where the trace has it
        assert int(best[5]) <= len(fused_ids)

    # View as a channel: a source only #remote may see is kept out of an answer posted elsewhere.
    remote = "What is the remote work policy?"
    elsewhere = client.predict(
        remote, [], [], 200, 200, 5, "weighted", 60, 1.0, 0.75, False, "", "C0OTHER", api_name="/debug_query"
    )
    inside = client.predict(
        remote, [], [], 200, 200, 5, "weighted", 60, 1.0, 0.75, False, "", "C0REMOTE", api_name="/debug_query"
    )
    remote_id = source_id_for("remote-work-policy.docx")
    sources_of = lambda t: {i["source_id"] for i in service.get_trace(t)["bm25"]}  # noqa: E731
    assert remote_id not in sources_of(elsewhere[0]) and remote_id in sources_of(inside[0])
    assert service.get_trace(elsewhere[0])["viewer"]["channel_id"] == "C0OTHER"
    with pytest.raises(AppError, match="Slack id"):
        client.predict(
            remote,
            [],
            [],
            200,
            200,
            5,
            "weighted",
            60,
            1.0,
            0.75,
            False,
            "not an id",
            "",
            api_name="/debug_query",
        )
    rows, why = client.predict(elsewhere[0], remote_id, api_name="/find_in_lists")
    assert "excluded by audience: only channel:C0REMOTE may see it" in why

    # Re-run: the trace's own question, viewer and settings, a new trace.
    rerun = client.predict(elsewhere[0], api_name="/rerun_trace")
    again = service.get_trace(rerun[0])
    assert rerun[0] != elsewhere[0] and again["question"] == remote
    assert again["viewer"]["channel_id"] == "C0OTHER" and again["settings"]["fusion"] == "weighted"

    # "This question should have found…"
    status = client.predict(trace_id, FACILITIES, "", "bikes are in the garage", api_name="/add_case")
    assert "Added test case" in status
    case = next(c for c in service.cases.list() if c.trace_id == trace_id)
    assert (case.question, case.expected_sources, case.origin, case.added_by) == (
        QUESTION,
        [FACILITIES],
        "debugger",
        ADMIN_USER,
    )
    with pytest.raises(AppError, match="no source"):
        client.predict(trace_id, "no-such-source", "", "", api_name="/add_case")
    service.cases.remove(case.case_id)


def test_cases_compare_promote_and_roll_back_and_the_next_answer_in_another_service_follows(
    client: Client, lab: Console, tmp_path: Path
) -> None:
    service = lab.service
    answer = service.ask(QUESTION, origin="slack", user_id="U0ANN")
    service.record_feedback(answer.trace_id, "down", user_id="U0ANN", reason="where do bikes go?")
    # The feedback tab's "add as a test case" fills the form from the trace; an empty question is refused.
    question, trace_id, note, _status = client.predict(answer.trace_id, api_name="/lab_from_trace")
    assert (question, trace_id, note) == (QUESTION, answer.trace_id, "where do bikes go?")
    with pytest.raises(AppError, match="needs a question"):
        client.predict("", answer.trace_id, FACILITIES, "", note, api_name="/add_test_case")
    status, cases, *_ = client.predict(question, trace_id, FACILITIES, "", note, api_name="/add_test_case")
    assert "Added case" in status
    added = next(c for c in service.cases.list() if c.trace_id == answer.trace_id)
    assert (added.origin, added.added_by, added.note) == ("feedback", ADMIN_USER, "where do bikes go?")
    client.predict(
        "How many vacation days do I get?",
        "",
        source_id_for("leave-policy.md"),
        "",
        "",
        api_name="/add_test_case",
    )
    assert len(_rows(cases)) + 1 == len(service.cases.list()) == 2

    exported = client.predict(api_name="/export_cases")
    lines = Path(exported).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["question"] for line in lines] == [QUESTION, "How many vacation days do I get?"]

    # A chunk the answerer gets today that neither retriever ranks first: one candidate each loses it.
    trace = service.get_trace(answer.trace_id)
    firsts = {trace["bm25"][0]["id"], trace["dense"][0]["id"]}
    chunk = next(p.id for p in answer.passages if p.id not in firsts)
    client.predict(QUESTION, "", "", chunk, "a chunk case", api_name="/add_test_case")
    summary, metrics, outcomes = client.predict("bm25_top_k=1,dense_top_k=1", api_name="/compare")
    names = {row[0] for row in _rows(metrics)}
    assert names == {"ndcg@10", "recall@100", "mrr@10", "hit@5", "answered"}  # top_k is 5 on both sides
    assert "LOST" in json.dumps(_rows(outcomes)) and "lost" in summary
    # Each case links to its runs' traces (the console's ?trace= form), which the debugger opens.
    links = [re.search(r"\?trace=(\w+)\)", cell) for row in _rows(outcomes) for cell in row[-2:]]
    assert len(links) == 2 * len(_rows(outcomes)) and all(links)
    lost = next(row for row in _rows(outcomes) if "LOST" in row[3])
    candidate_trace = re.search(r"\?trace=(\w+)\)", lost[-1]).group(1)
    opened = client.predict(candidate_trace, api_name="/open_trace")
    assert opened[0] == candidate_trace and "compare" in opened[1] and ADMIN_USER in opened[1]
    assert service.get_trace(candidate_trace)["settings"]["bm25_top_k"] == 1
    with pytest.raises(AppError, match="loses"):
        client.predict("bm25_top_k=1,dense_top_k=1", "too shallow", False, api_name="/promote")
    assert service.configs.live() is None

    # Three passages instead of five no longer give the answerer the chunk case's chunk: lost too.
    with pytest.raises(AppError, match="loses"):
        client.predict("top_k=3", "fewer passages", False, api_name="/promote")
    status, live, history, _pick = client.predict(
        "fusion=rrf,top_k=6", "rrf, one more passage", False, api_name="/promote"
    )
    promoted = service.configs.live()
    assert promoted is not None and promoted.config_id in status and promoted.promoted_by == ADMIN_USER
    assert promoted.values["fusion"] == "rrf" and promoted.metrics["candidate"]
    assert promoted.config_id in live and _rows(history)[0][0] == promoted.config_id

    # The next answer, in another process on the same data directory, uses the promoted configuration.
    other = NeedleService(make_settings(service.settings.data_dir))
    try:
        trace = other.get_trace(other.ask(QUESTION, viewer=ADMIN).trace_id)
        assert trace["retrieval_config"] == promoted.config_id
        assert trace["settings"]["fusion"] == "rrf" and trace["settings"]["top_k"] == 6
        assert len(trace["passages"]) == 6

        # A promotion after it, then the named /rollback API back to it by its id.
        client.predict("fusion=rrf,top_k=4", "four passages", True, api_name="/promote")  # confirmed
        assert service.configs.live().values["top_k"] == 4
        # A script's fresh session: the dropdown's choices in it are those of an unopened page.
        script = Client(lab.url, auth=(ADMIN_USER, ADMIN_PASSWORD), verbose=False)
        status, live, history, _pick = script.predict(promoted.config_id, api_name="/rollback")
        assert "Rolled back" in status and service.configs.live().values["top_k"] == 6

        status, live, history, _pick = client.predict("default", api_name="/rollback")
        assert "Rolled back" in status and service.configs.live().values == {}
        trace = other.get_trace(other.ask(QUESTION, viewer=ADMIN).trace_id)
        assert trace["retrieval_config"] == service.configs.live().config_id
        assert trace["settings"]["fusion"] == "weighted" and trace["settings"]["top_k"] == 5
    finally:
        other.close()

    with pytest.raises(AppError, match="no promoted configuration"):
        script.predict("no-such-config", api_name="/rollback")
    for case in service.cases.list():
        script.predict(case.case_id, api_name="/remove_test_case")
    assert service.cases.list() == []
    status, cases, *_ = client.predict(handle_file(exported), api_name="/import_cases")
    assert "Imported 2" in status and len(_rows(cases)) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no source"}\n')
    with pytest.raises(AppError, match="line 1"):
        client.predict(handle_file(str(bad)), api_name="/import_cases")
    # The console checks sources as `needle cases import` does: one unknown source, nothing imported.
    unknown = tmp_path / "unknown.jsonl"
    good = json.dumps({"question": "Vacation days?", "expected_sources": [source_id_for("leave-policy.md")]})
    unknown.write_text(good + "\n" + json.dumps({"question": "Q", "expected_sources": ["no-such-source"]}))
    with pytest.raises(AppError, match=r"line 2.*no-such-source"):
        client.predict(handle_file(str(unknown)), api_name="/import_cases")
    assert len(service.cases.list()) == 2
