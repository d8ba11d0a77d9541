"""Slack channels synced end to end: the real connector and slack_sdk against the Slack stand-in, the real
sync engine, the embedded store with the bundled model, and answers through the service and
``needle ask --as-user``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pipelines import cli
from pipelines.base.settings import get_settings
from pipelines.connectors.slack_edits import note_message_event
from pipelines.connectors.sync import connector_source_id
from pipelines.records.audience import ADMIN, PUBLIC
from pipelines.service import NeedleService
from tests.bot.slack_api import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SlackState, slack_api_server
from tests.connectors.slack_workspace import (
    DANA,
    HR_PRIVATE,
    IT_HELP,
    KIM,
    LEE,
    SAM,
    Thread,
    seed_channels,
    seed_people,
    thread,
)

NAME = "slackhelp"


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with slack_api_server() as state:
        seed_people(state)
        seed_channels(state)
        yield state


@pytest.fixture
def synced(slack: SlackState, service: NeedleService, monkeypatch: pytest.MonkeyPatch) -> dict[str, Thread]:
    """#it-help and #hr-private with a fact each, synced once."""
    monkeypatch.setenv(f"NEEDLE_CONNECTOR_{NAME.upper()}_BOT_TOKEN", BOT_TOKEN)
    threads = {
        "wifi": thread(
            slack,
            IT_HELP,
            "What is the guest Wi-Fi password?",
            (SAM, "The guest Wi-Fi password is Orchid-2291; it changes every quarter."),
            (DANA, "thanks!"),
        ),
        "garage": thread(
            slack,
            HR_PRIVATE,
            "When is the Elm Street parking garage closed?",
            (SAM, "The Elm Street parking garage is closed on Sundays for cleaning."),
        ),
    }
    service.connectors.create(
        "slack", NAME, {"channels": f"{IT_HELP},#hr-private", "api_url": f"{slack.url}/api/"}, actor="admin"
    )
    run = service.connectors.sync(NAME)
    assert (run.status, run.listed, run.added, run.failed) == ("succeeded", 2, 2, 0), run
    return threads


def cited(service: NeedleService, question: str, viewer: object = PUBLIC) -> tuple[str, set[str]]:
    answer = service.ask(question, viewer=viewer)  # type: ignore[arg-type]
    return answer.text, {citation.url or "" for citation in answer.citations}


def permalink(item: Thread) -> str:
    return f"https://needle-test.slack.com/archives/{item.channel}/p{item.ts.replace('.', '')}"


@pytest.mark.slow
def test_a_synced_thread_answers_with_its_permalink_and_a_private_one_only_its_members(
    slack: SlackState,
    service: NeedleService,
    synced: dict[str, Thread],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, links = cited(service, "What is the guest Wi-Fi password?")
    assert "Orchid-2291" in text and permalink(synced["wifi"]) in links
    sources = {source.source_id: source for source in service.list_sources()}
    garage = sources[connector_source_id(NAME, synced["garage"].id)]
    assert garage.audience == [f"channel:{HR_PRIVATE}"]
    assert sources[connector_source_id(NAME, synced["wifi"].id)].audience == ["everyone"]
    text, links = cited(service, "When is the Elm Street parking garage closed?")  # anyone at all
    assert "Sunday" not in text and permalink(synced["garage"]) not in links

    # needle ask --as-user: a member of #hr-private gets the fact, someone else does not.
    monkeypatch.setenv("NEEDLE_DATA_DIR", str(service.settings.data_dir))
    monkeypatch.setenv("NEEDLE_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("NEEDLE_SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("NEEDLE_SLACK_API_URL", f"{slack.url}/api/")
    get_settings.cache_clear()
    try:
        answers = {}
        for user in (DANA, KIM):
            question = "When is the Elm Street parking garage closed?"
            assert cli.main(["ask", "--json", "--as-user", user, question]) == 0
            answers[user] = json.loads(capsys.readouterr().out)
    finally:
        get_settings.cache_clear()
    member, outsider = answers[DANA], answers[KIM]
    assert "Sunday" in member["answer"]
    assert permalink(synced["garage"]) in {c.get("url") for c in member["citations"]}
    assert "Sunday" not in outsider["answer"]
    assert permalink(synced["garage"]) not in {c.get("url") for c in outsider["citations"]}
    assert permalink(synced["garage"]) not in json.dumps(outsider)  # not in its passages either
    assert [call.args["channel"] for call in slack.of("conversations.members")] == [HR_PRIVATE, HR_PRIVATE]


@pytest.mark.slow
def test_an_edit_changes_the_answer_and_a_deleted_thread_is_pruned(
    slack: SlackState, service: NeedleService, synced: dict[str, Thread]
) -> None:
    wifi = synced["wifi"]
    edit_ts = slack.edit_message(
        IT_HELP, wifi.replies[0], "The guest Wi-Fi password is Tulip-7730 since Monday."
    )
    # The edit of a reply shows in no listing: the bot's message_changed event marks the thread.
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": IT_HELP,
        "ts": edit_ts,
        "message": {"type": "message", "user": SAM, "ts": wifi.replies[0], "thread_ts": wifi.ts},
    }
    assert note_message_event(service.records, event, BOT_USER_ID) == wifi.id
    run = service.connectors.sync(NAME)
    assert (run.changed, run.unchanged, run.removed) == (1, 1, 0), run
    text, links = cited(service, "What is the guest Wi-Fi password?")
    assert "Tulip-7730" in text and "Orchid-2291" not in text and permalink(wifi) in links

    # A new reply is seen from the listing alone.
    slack.add_user_message(
        IT_HELP, LEE, "Visitors can also use the Lobby-Guest network, no password.", wifi.ts
    )
    run = service.connectors.sync(NAME)
    assert (run.changed, run.unchanged) == (1, 1), run

    slack.delete_message(IT_HELP, wifi.ts)  # the question deleted: Slack leaves a tombstone over the replies
    run = service.connectors.sync(NAME)
    assert (run.status, run.removed) == ("succeeded", 1), run
    assert connector_source_id(NAME, wifi.id) not in {s.source_id for s in service.list_sources()}
    text, links = cited(service, "What is the guest Wi-Fi password?", ADMIN)
    assert "Tulip-7730" not in text and permalink(wifi) not in links


@pytest.mark.slow
def test_a_failing_slack_keeps_every_synced_thread(
    slack: SlackState, service: NeedleService, synced: dict[str, Thread]
) -> None:
    before = {source.source_id for source in service.list_sources()}
    slack.token_error = "token_expired"
    run = service.connectors.sync(NAME)
    assert run.status == "failed" and "refused the bot token (token_expired)" in (run.error or "")
    assert BOT_TOKEN not in (run.error or "")
    slack.token_error = None
    with slack.lock:
        slack.messages.clear()  # an empty listing: nothing to sync, and the engine's guard holds
    run = service.connectors.sync(NAME)
    assert {source.source_id for source in service.list_sources()} == before
    assert run.removed == 0
