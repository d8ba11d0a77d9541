"""Getting one answer onto Slack while it is written: streamed natively, or by editing a placeholder.

:class:`StreamWriter` uses Slack's streaming methods (``chat.startStream`` / ``appendStream`` /
``stopStream``): the first text starts the message, later text is appended at most once per interval,
and the stop adds the sources and feedback under the text. :class:`UpdateWriter` is the fallback for a
workspace that refuses streaming: it edits a placeholder with ``chat.update``. A stream that Slack refuses
part-way hands over to an :class:`UpdateWriter`, so the answer still arrives.

Both are driven from the answer's worker thread: ``on_text`` with each piece of LLM text, ``finish`` once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, messages
from bot.features import STREAMING, SlackFeatures
from bot.mrkdwn import StreamedMarkdown

logger = logging.getLogger(__name__)

Block = dict[str, Any]
#: The stream is over on Slack's side (it ends streams after a few minutes): edit it instead.
_STREAM_OVER = frozenset({"message_not_in_streaming_state", "message_not_found", "stopped_by_user"})


@dataclass(frozen=True)
class FinalReply:
    """What the finished message says.

    :param text: the message's plain ``text`` (notifications, and the bot's turn in thread history).
    :param blocks: the whole message as Block Kit, for a message posted or edited in one go.
    :param tail: the blocks under a streamed text (sources, feedback); the streamed text stays as it is.
    :param markdown: the answer's text as streamed (Markdown); ``None`` for the bot's own sentences, which
        never match a stream.
    """

    text: str
    blocks: list[Block]
    tail: list[Block] = field(default_factory=list)
    markdown: str | None = None


def _error_code(error: SlackApiError) -> str | None:
    return error.response.get("error") if error.response is not None else None


def _call_with_retry(call: Any, what: str, **kwargs: Any) -> Any:
    """A final write: retried after a rate limit (Slack says when); Slack's answer, or ``None`` (logged as
    an error) if it failed."""
    for attempt in range(3):
        try:
            return call(**kwargs)
        except SlackApiError as error:
            code = _error_code(error)
            if code == "ratelimited" and attempt < 2:
                time.sleep(float(error.response.headers.get("Retry-After", 1)))
                continue
            logger.error("%s failed in %s: %s", what, kwargs.get("channel"), code)
            return None
    return None


def _replace_message(client: WebClient, channel: str, ts: str, final: FinalReply) -> bool:
    """Make the message at ``ts`` the final answer in one edit; ``True`` if Slack took it."""
    return None is not _call_with_retry(
        client.chat_update, "chat.update", channel=channel, ts=ts, text=final.text, blocks=final.blocks
    )


class UpdateWriter:
    """Shows streamed text by editing a posted placeholder, at most once per ``interval`` seconds.

    Slack allows about one message edit per second per channel; editing on every token would be throttled
    and would make the final answer arrive late.

    :param text: the answer's text so far, already shown in the message (a stream that fell back).
    """

    def __init__(self, client: WebClient, channel: str, ts: str, interval: float, text: str = "") -> None:
        self.client = client
        self.channel = channel
        self.ts = ts
        self._interval = interval
        self._text = text
        self._last = time.monotonic()
        self.updates = 0

    def on_text(self, delta: str) -> None:
        self._text += delta
        if time.monotonic() - self._last >= self._interval:
            self.show()

    def show(self) -> None:
        """Edit the message to show the text so far, now."""
        if not self._text.strip():
            return
        self._last = time.monotonic()
        try:
            self.client.chat_update(
                channel=self.channel,
                ts=self.ts,
                text=blocks.streaming_text(self._text),
                blocks=blocks.streaming_blocks(self._text),
            )
            self.updates += 1
        except SlackApiError as error:  # the final edit will still bring the whole answer
            logger.warning("chat.update failed in %s: %s", self.channel, _error_code(error))

    def finish(self, final: FinalReply) -> bool:
        return _replace_message(self.client, self.channel, self.ts, final)


class StreamWriter:
    """Streams an answer into a thread with Slack's streaming methods.

    The text sent is escaped as accumulated (:class:`~bot.mrkdwn.StreamedMarkdown`), never piece by
    piece, so a token boundary inside ``<!channel>`` cannot rebuild a mention once Slack joins the pieces.
    A failed ``chat.appendStream`` keeps its text for the next one, which waits an interval like any
    other; a refusal of streaming (an error that is not
    passing, nor about this one message) is recorded for the workspace (:mod:`bot.features`) and the
    answer continues with ``chat.update`` edits.

    :param recipient_user_id: the asker; with ``recipient_team_id`` required by Slack outside DMs.
    :param interval: least seconds between ``chat.appendStream`` calls (the first text goes at once).
    """

    def __init__(
        self,
        client: WebClient,
        features: SlackFeatures,
        *,
        channel: str,
        thread_ts: str,
        recipient_user_id: str,
        recipient_team_id: str | None,
        interval: float,
    ) -> None:
        self.client = client
        self.features = features
        self.channel = channel
        self.thread_ts = thread_ts
        self.recipient_user_id = recipient_user_id
        self.recipient_team_id = recipient_team_id
        self._interval = interval
        self.ts: str | None = None
        self._markdown = StreamedMarkdown()  # all the text received, and how much of it is safe to send
        self._pending = ""  # safe to send, not yet sent to Slack
        self._next_append = 0.0  # monotonic time before which no chat.appendStream is made
        self._over = False  # Slack ended the stream: the finish edits the message instead
        self._fallback: UpdateWriter | None = None
        self._lost = False  # not even a fallback message could be posted

    @property
    def fell_back(self) -> bool:
        return self._fallback is not None

    @property
    def _streamed(self) -> str:
        """All the text received, as the LLM wrote it (Markdown)."""
        return self._markdown.text

    def on_text(self, delta: str) -> None:
        if self._fallback is not None:
            self._fallback.on_text(delta)
            return
        self._pending += self._markdown.add(delta)
        if self._lost or self._over or not self._pending.strip():
            return
        if self.ts is None:
            self._start()
        elif time.monotonic() >= self._next_append:
            self._append()

    def _start(self) -> None:
        try:
            response = self.client.chat_startStream(
                channel=self.channel,
                thread_ts=self.thread_ts,
                markdown_text=self._pending,
                recipient_user_id=self.recipient_user_id,
                recipient_team_id=self.recipient_team_id,
            )
        except SlackApiError as error:
            self.features.failed(STREAMING, _error_code(error))
            self._fall_back()
            return
        self.ts = str(response["ts"])
        self._pending = ""
        self._next_append = time.monotonic() + self._interval

    def _fall_back(self) -> None:
        """Streaming was refused: post the text so far and keep it growing with ``chat.update``."""
        try:
            posted = self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=blocks.streaming_text(self._streamed),
                blocks=blocks.streaming_blocks(self._streamed),
            )
        except SlackApiError as error:
            logger.error("could not post in %s: %s", self.channel, _error_code(error))
            self._lost = True
            return
        self._fallback = UpdateWriter(
            self.client, self.channel, str(posted["ts"]), self._interval, text=self._streamed
        )
        self.ts = self._fallback.ts

    def _append(self) -> None:
        try:
            self.client.chat_appendStream(channel=self.channel, ts=self.ts, markdown_text=self._pending)
        except SlackApiError as error:
            code = _error_code(error)
            if code in _STREAM_OVER:
                self._over = True
            elif self.features.failed(STREAMING, code):  # refused: go on with chat.update
                self._leave_stream()
            else:  # keep the text pending: the next append (an interval on, not the next token) or the stop
                self._next_append = time.monotonic() + self._interval
            return
        self._pending = ""
        self._next_append = time.monotonic() + self._interval

    def _leave_stream(self) -> None:
        """Streaming was refused mid-answer: end the stream and edit its message from now on; if Slack
        will not end it either, post the text so far anew (the stream's message ends by itself)."""
        try:
            self.client.chat_stopStream(channel=self.channel, ts=self.ts)
        except SlackApiError as error:
            logger.warning("chat.stopStream failed in %s: %s", self.channel, _error_code(error))
            self._fall_back()
            return
        assert self.ts is not None
        self._fallback = UpdateWriter(self.client, self.channel, self.ts, self._interval, text=self._streamed)
        self._fallback.show()  # the text the refused appends held, at once

    def finish(self, final: FinalReply) -> bool:
        """Deliver the finished message; ``True`` if Slack took it."""
        if self._fallback is not None:
            return self._fallback.finish(final)
        if self.ts is None:  # nothing was streamed (an extract, or a sentence of the bot's): post it whole
            return self._post(final)
        if not self._over:
            same = final.markdown is not None and final.markdown.strip() == self._streamed.strip()
            rest = self._pending + self._markdown.finish()
            try:
                self.client.chat_stopStream(
                    channel=self.channel,
                    ts=self.ts,
                    markdown_text=rest if same and rest else None,
                    blocks=final.tail if same else None,
                )
                if same:
                    return True
            except SlackApiError as error:
                logger.warning("chat.stopStream failed in %s: %s", self.channel, _error_code(error))
        # The streamed text is not the final answer (renumbered sources, a notice) or the stream is over:
        # the message becomes the final answer in one edit.
        return _replace_message(self.client, self.channel, self.ts, final)

    def _post(self, final: FinalReply) -> bool:
        posted = _call_with_retry(
            self.client.chat_postMessage,
            "chat.postMessage",
            channel=self.channel,
            thread_ts=self.thread_ts,
            text=final.text,
            blocks=final.blocks,
        )
        if posted is None:
            return False
        self.ts = str(posted["ts"])
        return True


def placeholder(client: WebClient, channel: str, thread_ts: str | None) -> str | None:
    """Post the "Searching..." placeholder of the update path; its ts, or ``None`` (logged) if refused."""
    try:
        posted = client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=messages.PLACEHOLDER,
            blocks=blocks.placeholder_blocks(),
        )
    except SlackApiError as error:
        logger.error("could not post in %s: %s", channel, _error_code(error))
        return None
    return str(posted["ts"])
