"""A small Slack workspace on the Web API stand-in, as the connector tests and end-to-end tests need it.

People: Dana (asks), Sam and Lee (answer), Kim (in no private channel). Channels: ``#it-help`` (public,
the bot in it), ``#hr-private`` (private, the bot and Dana and Sam in it), ``#random`` (public, the bot
not in it), ``#secret`` (private without the bot).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.bot.slack_api import BOT_ID, BOT_USER_ID, SlackState

DANA, SAM, LEE, KIM = "U0DANA", "U0SAM", "U0LEE", "U0KIM"
IT_HELP, HR_PRIVATE, RANDOM, SECRET = "C0ITHELP", "G0HRPRIV", "C0RANDOM", "G0SECRET"


@dataclass
class Thread:
    channel: str
    ts: str
    replies: list[str]

    @property
    def id(self) -> str:
        return f"{self.channel}/{self.ts}"


def seed_people(slack: SlackState) -> None:
    slack.add_user(DANA, "Dana", real_name="Dana Kim", email="dana@example.com")
    slack.add_user(SAM, "Sam Lee", email="sam@example.com")
    slack.add_user(LEE, "", real_name="Lee Park", email="lee@example.com")
    slack.add_user(KIM, "Kim", email="kim@example.com")
    slack.add_user(BOT_USER_ID, "Needle", bot=True)


def seed_channels(slack: SlackState) -> None:
    slack.add_channel(IT_HELP, "it-help", members=[DANA, SAM, LEE, KIM])
    slack.add_channel(HR_PRIVATE, "hr-private", private=True, members=[DANA, SAM])
    slack.add_channel(RANDOM, "random", member=False, members=[DANA])
    slack.add_channel(SECRET, "secret", private=True, member=False, members=[SAM])


def thread(
    slack: SlackState, channel: str, question: str, *answers: tuple[str, str], asker: str = DANA
) -> Thread:
    """A question by ``asker`` and ``(user, text)`` replies."""
    ts = slack.add_user_message(channel, asker, question)
    replies = [slack.add_user_message(channel, user, text, thread_ts=ts) for user, text in answers]
    return Thread(channel, ts, replies)


def bot_reply(slack: SlackState, channel: str, thread_ts: str, text: str) -> str:
    """Needle's own answer in a thread, as chat.postMessage leaves it."""
    ts = slack.next_ts()
    with slack.lock:
        slack.messages.setdefault(channel, {})[ts] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
        }
    return ts


def event_message(slack: SlackState, channel: str, subtype: str, text: str = "", user: str = DANA) -> str:
    """A message with a subtype (``channel_join``, ``bot_message``) at the channel's top level."""
    ts = slack.next_ts()
    message = {"type": "message", "subtype": subtype, "user": user, "text": text, "ts": ts}
    if subtype == "bot_message":
        message["bot_id"] = "B0OTHER"
    with slack.lock:
        slack.messages.setdefault(channel, {})[ts] = message
    return ts
