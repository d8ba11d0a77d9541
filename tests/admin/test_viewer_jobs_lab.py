"""Issue 12: a viewer's account sees what everyone may see in the background jobs panel and the retrieval
lab too: no file name, title or id of a restricted source, through the console's real endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client

from admin.face import launch
from admin.jobs import IndexingJobs
from pipelines.app.visibility import ConsoleView, console_viewer
from pipelines.records.audience import Viewer
from pipelines.records.cases import RetrievalCase
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.core.test_audiences import RESTRICTED

PASSWORD = "a long enough password"


def _fn_index(blocks: Any, handler: str) -> int:
    """The id of a page event with no API name (the lab's listing runs when its tab is opened)."""
    (index,) = [i for i, fn in blocks.fns.items() if getattr(fn.fn, "__qualname__", "") == handler]
    return index


def _page_event(url: str, username: str, fn_index: int) -> list[Any]:
    """Run a page event as the browser does (Gradio's queue: join, then read the event stream); its
    outputs. ``gradio_client`` refuses events without an API name, which a page still runs."""
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("login", data={"username": username, "password": PASSWORD}).status_code == 200
        session = f"test-{username}-{fn_index}"
        joined = http.post(
            "gradio_api/queue/join",
            json={"data": [], "fn_index": fn_index, "session_hash": session, "event_data": None},
        )
        assert joined.status_code == 200, joined.text
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    return message["output"]["data"]
    raise AssertionError("the event did not complete")


def test_a_viewer_sees_no_restricted_names_in_the_jobs_panel_or_the_lab(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    public = service.ingest_file(HANDBOOK / "leave-policy.md")
    secret = service.ingest_file(RESTRICTED / "salary-bands-2027.md", audience="usergroup:S0HR")
    (secret_info,) = [s for s in service.list_sources() if s.source_id == secret.source_id]
    secrets = {secret.source_id, secret_info.title, secret_info.file_name, "salary", "board", "C0BOARD"}

    queue = service.jobs
    data = b"# A file\n\nSome words.\n"
    hidden = [
        # indexed into the restricted source
        queue.finish(
            queue.submit(secret_info.file_name, data), "done", result={"source_id": secret.source_id}
        ),
        # for a channel only, not indexed yet
        queue.submit("board-minutes-2027.md", data, audience=["channel:C0BOARD01"]),
        # named like the restricted source (whose audience it would keep), queued
        queue.submit(secret_info.file_name.upper(), data),
    ]
    shown = [
        queue.finish(queue.submit("leave-policy.md", data), "done", result={"source_id": public.source_id}),
        queue.submit("travel-policy.md", data),
        queue.finish(queue.submit("expenses.md", data, audience="everyone"), "failed", error="unreadable"),
    ]

    e4 = "What does engineering band E4 pay?"
    hr_member = Viewer(user_id="U0EVE", private=True, usergroups=frozenset({"S0HR"}))
    hr_answer = service.ask(e4, viewer=hr_member, origin="slack")
    secret_chunk = service.source_chunks(secret.source_id)[0].id
    for case in (
        RetrievalCase("How many vacation days do I get?", [public.source_id], origin="console"),
        RetrievalCase(e4, [secret.source_id], origin="console"),
        RetrievalCase("What is the band for E5?", expected_chunks=[secret_chunk], origin="console"),
        RetrievalCase(
            "Do bands change yearly?", [public.source_id], origin="trace", trace_id=hr_answer.trace_id
        ),
    ):
        service.cases.add(case)
    public_case = "How many vacation days do I get?"

    service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    service.accounts.add("ed", PASSWORD, "editor", actor="test")
    blocks = launch(service, port=None)
    lab_listing = _fn_index(blocks.blocks, "LabActions.refresh")
    try:
        viewer = Client(blocks.local_url, auth=("vera", PASSWORD), verbose=False)
        editor = Client(blocks.local_url, auth=("ed", PASSWORD), verbose=False)

        # The jobs panel.
        table, _timer = viewer.predict(api_name="/list_jobs")
        assert {row[-1] for row in table["data"]} == {job.job_id for job in shown}
        _assert_none_of(secrets, table)
        table, _timer = editor.predict(api_name="/list_jobs")
        assert {row[-1] for row in table["data"]} == {job.job_id for job in hidden + shown}

        # The lab: its case list, the export and a comparison.
        cases, remove_pick, *_config = _page_event(blocks.local_url, "vera", lab_listing)
        assert [row[1] for row in cases["data"]] == [public_case]
        _assert_none_of(secrets | {e4, hr_answer.trace_id}, [cases, remove_pick])
        exported = Path(viewer.predict(api_name="/export_cases")).read_text(encoding="utf-8")
        assert [json.loads(line)["question"] for line in exported.splitlines()] == [public_case]
        summary, metrics, outcomes = viewer.predict("top_k=3", api_name="/compare")
        assert "on 1 case(s)" in summary and [row[5] for row in outcomes["data"]] == [public_case]
        _assert_none_of(secrets | {e4}, [summary, metrics, outcomes])
        # The comparison searched only what everyone may see, so the viewer may open both runs' traces.
        run_traces = re.findall(r"\?trace=(\w+)\)", json.dumps(outcomes))
        assert len(run_traces) == 2
        as_viewer = ConsoleView(service, console_viewer("viewer"))
        assert all(as_viewer.may_see_trace(service.get_trace(trace_id)) for trace_id in run_traces)

        cases, *_rest = _page_event(blocks.local_url, "ed", lab_listing)
        assert len(cases["data"]) == 4
        exported = Path(editor.predict(api_name="/export_cases")).read_text(encoding="utf-8")
        assert len(exported.splitlines()) == 4
        viewer.close()
        editor.close()
    finally:
        blocks.close()


def _assert_none_of(secrets: set[str], shown: Any) -> None:
    text = json.dumps(shown, default=str).lower()
    leaked = sorted(secret for secret in secrets if secret.lower() in text)
    assert not leaked, leaked


def test_a_viewer_waiting_for_a_job_on_a_restricted_source_is_not_told_its_id() -> None:
    """The "waiting for another job" line names the source only to an account that may see it."""
    jobs = IndexingJobs()
    with jobs.running("deleting salary-bands-2027-abc123", "ed", "salary-bands-2027-abc123"):
        assert "salary" not in jobs.status("Your request", lambda source_id: False)
        assert "a change to a source" in jobs.status("Your request", lambda source_id: False)
        assert "deleting salary-bands-2027-abc123" in jobs.status("Your request", lambda source_id: True)
        assert "deleting salary-bands-2027-abc123" in jobs.status("Your request")
    with jobs.running("indexing 2 file(s)", "ed"):
        assert "indexing 2 file(s)" in jobs.status("Your upload", lambda source_id: False)
