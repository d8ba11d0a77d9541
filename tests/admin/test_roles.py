"""Console roles through the real endpoints: viewers read, editors change, every handler is classified."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from admin.app import build_admin
from admin.face import launch
from admin.roles import EDITOR_HANDLERS, OWNER_HANDLERS, VIEWER_HANDLERS, enforce_roles
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK

PASSWORD = "a long enough password"


def test_every_console_handler_is_classified(service_factory: Callable[..., NeedleService]) -> None:
    """A new button must be placed in a role on purpose (unclassified handlers need an editor)."""
    service = service_factory()
    needs = enforce_roles(build_admin(service), service.accounts)
    classified = EDITOR_HANDLERS | VIEWER_HANDLERS | OWNER_HANDLERS
    assert set(needs) <= classified, sorted(set(needs) - classified)
    assert needs["SourcesActions.delete"] == "editor" and needs["ChunksActions.show"] == "viewer"


def test_a_viewer_reads_and_is_refused_changes_that_an_editor_makes(
    service_factory: Callable[..., NeedleService],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import logging

    from gradio_client import Client

    caplog.set_level(logging.INFO, logger="admin.roles")

    service = service_factory()
    result = service.ingest_file(HANDBOOK / "leave-policy.md")
    service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    service.accounts.add("ed", PASSWORD, "editor", actor="test")
    blocks = launch(service, port=None)
    try:
        viewer = Client(blocks.local_url, auth=("vera", PASSWORD), verbose=False)
        table, *_ = viewer.predict(api_name="/list_sources")
        assert len(table["data"]) == 1  # reading is allowed
        for call in (
            lambda: viewer.predict(result.source_id, api_name="/delete_source"),
            lambda: viewer.predict(result.source_id, "user:U0VERA1", api_name="/set_source_audience"),
            lambda: viewer.predict("C0HR0001", "", True, "questions", False, "", [], api_name="/set_channel"),
            lambda: viewer.predict("", "", 0, api_name="/audit_log"),
        ):
            with pytest.raises(Exception, match="needs the editor role"):
                call()
        assert [s.source_id for s in service.list_sources()] == [result.source_id]  # nothing changed
        # Each refusal is one line at INFO in the server's log, never a traceback.
        refusals = [r for r in caplog.records if r.name == "admin.roles"]
        assert len(refusals) == 4 and {r.levelno for r in refusals} == {logging.INFO}
        assert "vera (viewer) refused SourcesActions.delete" in refusals[0].getMessage()
        assert all(r.exc_info is None for r in refusals)
        assert "Traceback" not in capfd.readouterr().err
        assert service.channels.list() == []

        editor = Client(blocks.local_url, auth=("ed", PASSWORD), verbose=False)
        editor.predict("C0HR0001", "", True, "mention-only", False, "", [], api_name="/set_channel")
        assert service.channels.get("C0HR0001").followups == "mention-only"
        editor.predict(result.source_id, api_name="/delete_source")
        assert service.list_sources() == []
        assert {e.actor for e in service.audit.entries()} >= {"ed"}
        viewer.close()
        editor.close()
    finally:
        blocks.close()


def test_escalations_are_listed_for_admins(service_factory: Callable[..., NeedleService]) -> None:
    """ "Ask a person" in Slack records an escalation; the Feedback tab lists it with its trace id."""
    from gradio_client import Client

    from pipelines.records.escalations import Escalation, EscalationLog

    service = service_factory()
    log = EscalationLog(service.records)
    assert log.open(Escalation("t-123", "C0HELP1", "1700.1", "U0ASK", "S0HELP", "Can I work from Lisbon?"))
    assert not log.open(
        Escalation("t-123", "C0HELP1", "1700.1", "U0TWO", "S0HELP", "again")
    )  # once per answer
    service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    blocks = launch(service, port=None)
    try:
        client = Client(blocks.local_url, auth=("vera", PASSWORD), verbose=False)
        table = client.predict(api_name="/escalations")
        (row,) = table["data"]
        assert row[1:] == ["C0HELP1", "U0ASK", "S0HELP", "Can I work from Lisbon?", "t-123"]
        client.close()
    finally:
        blocks.close()


def test_a_viewer_sees_what_everyone_may_see_and_an_editor_sees_everything(
    service_factory: Callable[..., NeedleService],
) -> None:
    """Issue 12: through the console's real endpoints, a viewer's account reads only sources for
    everyone, and traces, feedback and escalations built from them; "view as" is refused to it. An
    editor keeps the whole view."""
    from gradio_client import Client

    from pipelines.records.audience import Viewer
    from pipelines.records.escalations import Escalation, EscalationLog
    from tests.core.test_audiences import RESTRICTED

    service = service_factory()
    public = service.ingest_file(HANDBOOK / "leave-policy.md")
    secret = service.ingest_file(RESTRICTED / "salary-bands-2027.md", audience="usergroup:S0HR")
    hr_member = Viewer(user_id="U0EVE", private=True, usergroups=frozenset({"S0HR"}))
    everyone_answer = service.ask("How many vacation days do I get?", origin="slack")
    hr_answer = service.ask("What does engineering band E4 pay?", viewer=hr_member, origin="slack")
    assert secret.source_id in {c.source_id for c in hr_answer.citations}  # the probe could see a leak
    service.record_feedback(everyone_answer.trace_id, "up", user_id="U0ONE")
    service.record_feedback(hr_answer.trace_id, "down", user_id="U0EVE", reason="wrong band")
    EscalationLog(service.records).open(
        Escalation(hr_answer.trace_id, "D0EVE", "1700.1", "U0EVE", "S0HRHELP", "What does E4 pay?")
    )
    service.accounts.add("vera", PASSWORD, "viewer", actor="test")
    service.accounts.add("ed", PASSWORD, "editor", actor="test")
    knobs = ([], [], 200, 200, 5, "weighted", 60, 1.0, 0.75, False)
    e4 = "What does engineering band E4 pay?"
    blocks = launch(service, port=None)
    try:
        viewer = Client(blocks.local_url, auth=("vera", PASSWORD), verbose=False)
        table, _picker, overview = viewer.predict(api_name="/list_sources")
        assert [row[-1] for row in table["data"]] == [public.source_id]
        assert "**1** source ·" in overview  # the counts do not reveal the restricted source either
        with pytest.raises(Exception, match="no source with id"):
            viewer.predict(secret.source_id, "", api_name="/source_chunks")
        listed = {row[-1] for row in viewer.predict("all", 50, api_name="/recent_traces")["data"]}
        assert everyone_answer.trace_id in listed and hr_answer.trace_id not in listed
        rated = {row[-1] for row in viewer.predict("all", "", api_name="/feedback")["data"]}
        assert rated == {everyone_answer.trace_id}
        assert viewer.predict(api_name="/escalations")["data"] == []
        for endpoint in ("/open_trace", "/rerun_trace"):
            with pytest.raises(Exception, match="not everyone may see"):
                viewer.predict(hr_answer.trace_id, api_name=endpoint)
        with pytest.raises(Exception, match="View as"):
            viewer.predict(e4, *knobs, "U0EVE", "", api_name="/debug_query")
        out = viewer.predict(e4, *knobs, "", "", api_name="/debug_query")
        assert "84,000" not in str(out) and secret.source_id not in str(out)
        trace = service.get_trace(out[0])
        assert trace["viewer"]["unrestricted"] is False and trace["viewer"]["user_id"] is None
        with pytest.raises(Exception, match="no source or chunk"):
            viewer.predict(everyone_answer.trace_id, secret.source_id, api_name="/find_in_lists")
        assert viewer.predict(everyone_answer.trace_id, api_name="/open_trace")[0] == everyone_answer.trace_id

        editor = Client(blocks.local_url, auth=("ed", PASSWORD), verbose=False)
        table, _picker, _overview = editor.predict(api_name="/list_sources")
        assert {row[-1] for row in table["data"]} == {public.source_id, secret.source_id}
        assert editor.predict(hr_answer.trace_id, api_name="/open_trace")[0] == hr_answer.trace_id
        rated = {row[-1] for row in editor.predict("all", "", api_name="/feedback")["data"]}
        assert rated == {everyone_answer.trace_id, hr_answer.trace_id}
        assert [row[-1] for row in editor.predict(api_name="/escalations")["data"]] == [hr_answer.trace_id]
        out = editor.predict(e4, *knobs, "U0EVE", "", api_name="/debug_query")
        assert service.get_trace(out[0])["viewer"]["user_id"] == "U0EVE"  # "view as" still works here
        viewer.close()
        editor.close()
    finally:
        blocks.close()
