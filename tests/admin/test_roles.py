"""Console roles through the real endpoints: viewers read, editors change, every handler is classified."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from admin.app import build_admin, launch
from admin.roles import EDITOR_HANDLERS, OWNER_HANDLERS, VIEWER_HANDLERS, enforce_roles
from pipelines.service import NeedleService
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
) -> None:
    from gradio_client import Client

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

    from pipelines.escalations import Escalation, EscalationLog

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
