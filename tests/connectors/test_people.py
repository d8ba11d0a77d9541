"""Mapping source people (emails) to Slack users: users.lookupByEmail on the Slack stand-in, cached in a
real record store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.connectors import directory
from pipelines.connectors.base import ConnectorError, PeopleDirectory, audience_for
from pipelines.connectors.people import COLLECTION, SlackPeople
from pipelines.stores.records import SqliteRecordStore
from tests.bot.slack_api import BOT_TOKEN, Fault, SlackState, slack_api_server
from tests.conftest import make_settings
from tests.connectors.slack_workspace import DANA, SAM, seed_people

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> Iterator[SlackState]:
    with slack_api_server() as state:
        seed_people(state)
        state.add_user("U0GONE", "Gone", email="gone@example.com", deleted=True)
        state.add_user("U0ROBOT", "Robot", email="robot@example.com", bot=True)
        yield state


@pytest.fixture
def records(tmp_path: Path) -> Iterator[SqliteRecordStore]:
    store = SqliteRecordStore(tmp_path / "records.sqlite3")
    yield store
    store.close()


def people(slack: SlackState, records: SqliteRecordStore, clock: Clock) -> SlackPeople:
    return SlackPeople(records, BOT_TOKEN, base_url=f"{slack.url}/api/", clock=clock)


def lookups(slack: SlackState) -> list[str]:
    return [call.args["email"] for call in slack.of("users.lookupByEmail")]


def test_an_email_maps_to_its_slack_user_and_is_asked_once_a_day(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    clock = Clock()
    directory: PeopleDirectory = people(slack, records, clock)
    assert directory.slack_user(" Dana@Example.com ") == DANA
    assert directory.slack_user("dana@example.com") == DANA
    assert lookups(slack) == ["dana@example.com"]
    clock.now += 23 * HOUR
    assert directory.slack_user("dana@example.com") == DANA
    assert len(lookups(slack)) == 1
    clock.now += 2 * HOUR
    assert directory.slack_user("dana@example.com") == DANA
    assert len(lookups(slack)) == 2


def test_the_cache_is_shared_through_the_record_store(slack: SlackState, records: SqliteRecordStore) -> None:
    clock = Clock()
    assert people(slack, records, clock).slack_user("sam@example.com") == SAM
    another_replica = people(slack, records, clock)
    assert another_replica.slack_user("sam@example.com") == SAM
    assert lookups(slack) == ["sam@example.com"]


def test_misses_map_to_no_one_are_listed_and_are_asked_again_within_the_hour(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    clock = Clock()
    directory = people(slack, records, clock)
    assert directory.slack_user("nobody@example.com") is None
    assert directory.slack_user("gone@example.com") is None
    assert directory.slack_user("robot@example.com") is None
    assert directory.slack_user("not-an-address") is None
    assert lookups(slack) == ["nobody@example.com", "gone@example.com", "robot@example.com"]
    reasons = {entry.email: entry.reason for entry in directory.unmapped()}
    assert reasons == {
        "nobody@example.com": "no Slack account has this email",
        "gone@example.com": "the Slack account is deactivated",
        "robot@example.com": "the address belongs to a bot",
    }
    assert directory.slack_user("nobody@example.com") is None
    assert len(lookups(slack)) == 3  # the miss is cached

    slack.add_user("U0NEW", "New", email="nobody@example.com")  # the admin fixes the address
    clock.now += HOUR + 1
    assert directory.slack_user("nobody@example.com") == "U0NEW"
    assert "nobody@example.com" not in {entry.email for entry in directory.unmapped()}


def test_forget_asks_slack_again_at_once(slack: SlackState, records: SqliteRecordStore) -> None:
    directory = people(slack, records, Clock())
    assert directory.slack_user("new@example.com") is None
    slack.add_user("U0NEW", "New", email="new@example.com")
    assert directory.forget("New@example.com")
    assert directory.slack_user("new@example.com") == "U0NEW"
    assert not directory.forget("never@example.com")


def test_audience_for_maps_the_found_and_reports_the_rest(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    audience, unmapped = audience_for(
        ["dana@example.com", "SAM@example.com", "ghost@example.com"], people(slack, records, Clock())
    )
    assert audience == (f"user:{DANA}", f"user:{SAM}")
    assert unmapped == ("ghost@example.com",)


def test_slack_failing_raises_unless_an_answer_is_cached(
    slack: SlackState, records: SqliteRecordStore
) -> None:
    clock = Clock()
    directory = people(slack, records, clock)
    assert directory.slack_user("dana@example.com") == DANA
    clock.now += 2 * 24 * HOUR  # stale
    slack.faults.append(Fault("users.lookupByEmail", 500, times=2))
    assert directory.slack_user("dana@example.com") == DANA  # the stale answer, not a guess
    with pytest.raises(ConnectorError) as failed:
        directory.slack_user("sam@example.com")
    assert failed.value.retryable
    assert records.get(COLLECTION, "sam@example.com") is None  # a failure is not cached as a miss


def test_a_revoked_token_is_an_error_not_a_miss(slack: SlackState, records: SqliteRecordStore) -> None:
    slack.token_error = "token_revoked"
    with pytest.raises(ConnectorError) as failed:
        people(slack, records, Clock()).slack_user("dana@example.com")
    assert not failed.value.retryable and "token_revoked" in failed.value.reason
    assert records.get(COLLECTION, "dana@example.com") is None


def test_the_deployment_gets_a_directory_only_with_a_bot_token(
    slack: SlackState, records: SqliteRecordStore, tmp_path: Path
) -> None:
    assert directory.people_directory(records, make_settings(tmp_path)) is None
    settings = make_settings(
        tmp_path, slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1", slack_api_url=f"{slack.url}/api/"
    )
    people = directory.people_directory(records, settings)
    assert people is not None and people.slack_user("sam@example.com") == SAM
