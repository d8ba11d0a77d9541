"""Channels tab: what Needle does in each Slack channel, changed here without a restart.

The settings live in the core (:mod:`pipelines.records.channel_settings`); every question reads them
afresh, so a
save here applies to the next question in every bot process. This tab only shows them and sends the
form to the core, which validates it: an invalid value changes nothing and the form keeps what was typed.
"""

from __future__ import annotations

from typing import Any, NoReturn

import gradio as gr

from admin import render
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.records.channel_settings import ChannelChange, ChannelSettings, check_channel_id
from pipelines.service.facade import NeedleService

CHANNEL_HEADERS = [
    "Channel id",
    "Name",
    "Answers",
    "Follow-ups",
    "Private answers",
    "Escalation group",
    "Tags",
    "Values from",
    "Changed by",
    "Changed at (UTC)",
]
#: Widths that keep every column on screen at 1280 px with unbroken headers.
CHANNEL_COLUMN_WIDTHS = ["11%", "11%", "8%", "11%", "9%", "10%", "11%", "11%", "8%", "10%"]
FOLLOWUP_CHOICES = [
    ("Questions: answer later messages in its threads that ask something", "questions"),
    ("All: answer every later message in its threads", "all"),
    ("Mention only: answer only messages that mention Needle", "mention-only"),
]
ORIGIN_LABELS = {
    "stored": "set in the console or CLI",
    "environment": "environment defaults",
    "default": "defaults",
}


def channel_rows(channels: list[ChannelSettings]) -> list[list[Any]]:
    """One row per channel, in words an admin reads without the code (empty tags: every source)."""
    return [
        [
            channel.channel_id,
            f"#{channel.name}" if channel.name else "",
            "yes" if channel.enabled else "no",
            channel.followups,
            "yes" if channel.ephemeral else "no",
            channel.escalation_usergroup or "",
            ", ".join(channel.tags) or "all sources",
            ORIGIN_LABELS.get(channel.origin, channel.origin),
            channel.updated_by or "",
            render.timestamp(channel.updated_at),
        ]
        for channel in channels
    ]


def channel_choices(channels: list[ChannelSettings]) -> list[tuple[str, str]]:
    """The picker's entries: "#name (C0123)" or the bare id, with the id as the value."""
    return [
        (
            f"#{channel.name} ({channel.channel_id})" if channel.name else channel.channel_id,
            channel.channel_id,
        )
        for channel in channels
    ]


class ChannelsActions:
    """The tab's event handlers: each reads the form, calls the core and shows what it now holds."""

    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def listing(self) -> tuple[list[list[Any]], gr.Dropdown, gr.Dropdown]:
        """The table, the channel picker (keeping what is typed in it) and the tags known from sources."""
        table, picker = self._table()
        return table, picker, gr.Dropdown(choices=self._known_tags())

    def show(self, channel_id: str | None) -> tuple[Any, ...]:
        """The settings in force for the picked channel, to edit (the defaults when none are stored)."""
        channel = self.service.channels.get(_checked_id(channel_id))
        return (*self._form(channel), _describe(channel, "Showing"))

    def _table(self) -> tuple[list[list[Any]], gr.Dropdown]:
        channels = self.service.channels.list()
        return channel_rows(channels), gr.Dropdown(choices=channel_choices(channels))

    def _known_tags(self) -> list[str]:
        return render.tag_choices(self.service.list_sources())

    def _form(self, channel: ChannelSettings) -> tuple[Any, ...]:
        """The form's fields (name, enabled, follow-ups, private, escalation group, tags) for ``channel``."""
        known = sorted(set(self._known_tags()) | set(channel.tags))
        return (
            channel.name or "",
            channel.enabled,
            channel.followups,
            channel.ephemeral,
            channel.escalation_usergroup or "",
            gr.Dropdown(choices=known, value=list(channel.tags)),
        )

    def save(
        self,
        channel_id: str | None,
        name: str,
        enabled: bool,
        followups: str,
        ephemeral: bool,
        escalation_usergroup: str,
        tags: list[str] | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """Store every field of the form for the channel; the actor is the logged-in admin.

        Tags are lowercased because sources' tags are: a channel limited to "HR" would otherwise match no
        source tagged "hr" and answer nothing, silently.
        """
        channel_id = _checked_id(channel_id)
        change = ChannelChange(
            name=name or "",
            enabled=bool(enabled),
            tags=sorted({tag.strip().lower() for tag in tags or [] if tag.strip()}),
            followups=followups,
            ephemeral=bool(ephemeral),
            escalation_usergroup=escalation_usergroup or "",
        )
        user = request.username if request else None
        try:
            channel = self.service.channels.set(channel_id, change, actor=user)
        except NeedleError as error:
            _refuse(f"Nothing was changed: {error}.")
        return (*self._form(channel), _describe(channel, "Saved"), *self._table())

    def reset(self, channel_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Forget the channel's stored settings: the environment's defaults apply to its next question.
        The values it had stay readable in the audit log."""
        channel_id = _checked_id(channel_id)
        user = request.username if request else None
        try:
            removed = self.service.channels.unset(channel_id, actor=user)
        except NeedleError as error:
            _refuse(str(error))
        channel = self.service.channels.get(channel_id)
        if removed:
            status = _describe(channel, "Back to defaults (the previous values are in the audit log).")
        else:
            status = _describe(channel, "Nothing to reset: this channel already follows the defaults.")
        return (*self._form(channel), status, *self._table())

    def select_row(self, event: gr.SelectData) -> str | None:
        """Clicking a row picks that channel (its id is the first column)."""
        row = event.row_value or []
        return str(row[0]) if row else None


def _refuse(message: str) -> NoReturn:
    """Show ``message`` until the admin closes it (a vanishing toast is easily missed); the form keeps
    what was typed. Not logged as a server error: it is an admin's typo."""
    raise gr.Error(message, duration=None, print_exception=False)


def _checked_id(channel_id: str | None) -> str:
    if not (channel_id or "").strip():
        _refuse("Pick a channel or type its id (C0123ABCD) first.")
    try:
        return check_channel_id(channel_id or "")
    except NeedleError as error:
        _refuse(str(error))


def _describe(channel: ChannelSettings, prefix: str) -> str:
    """One line on whose values the form shows, so an admin knows whether saving changes anything."""
    where = ORIGIN_LABELS.get(channel.origin, channel.origin)
    who = ""
    if channel.origin == "stored":
        who = f", last changed by {render.md_text(channel.updated_by or 'unknown')} at "
        who += f"{render.timestamp(channel.updated_at)} UTC"
    return f"{prefix} `{channel.channel_id}`: values from {where}{who}."


def build_channels_tab(service: NeedleService) -> gr.Tab:
    """The tab's layout and events."""
    actions = ChannelsActions(service)
    with gr.Tab("Channels", id="channels") as tab:
        gr.Markdown(
            "What Needle does in each Slack channel. A change applies to the next question in every "
            "running bot, with no restart. Channels not listed follow the defaults set when Needle was "
            "deployed; “Back to defaults” returns a channel to them. Every change is in the audit log."
        )
        table = readonly_table(
            CHANNEL_HEADERS,
            "channels-table",
            "Channels (click a row to edit it)",
            column_widths=CHANNEL_COLUMN_WIDTHS,
        )
        with gr.Row():
            channel = gr.Dropdown(
                label="Channel (pick one, or type an id such as C0123ABCD)",
                choices=[],
                allow_custom_value=True,
                scale=3,
                elem_id="channel-picker",
            )
            show_button = gr.Button("Show settings", scale=1, elem_id="channel-show")
            refresh_button = gr.Button("Refresh list", scale=1)
        with gr.Row():
            with gr.Column():
                name = gr.Textbox(
                    label="Name (for people reading the list)", max_lines=1, elem_id="channel-name"
                )
                enabled = gr.Checkbox(
                    label="Needle answers in this channel", value=True, elem_id="channel-enabled"
                )
                ephemeral = gr.Checkbox(
                    label="Answers are private (only the asker sees them) by default",
                    elem_id="channel-ephemeral",
                )
                escalation = gr.Textbox(
                    label="Escalation user group for “Ask a person” (S0123ABCD; blank for none)",
                    max_lines=1,
                    elem_id="channel-escalation",
                )
            with gr.Column():
                followups = gr.Radio(
                    FOLLOWUP_CHOICES,
                    value="questions",
                    label="Later messages in a thread Needle answered",
                    elem_id="channel-followups",
                )
                tags = gr.Dropdown(
                    label="Answer only from sources with these tags (none: every source)",
                    choices=[],
                    multiselect=True,
                    allow_custom_value=True,
                    elem_id="channel-tags",
                )
        with gr.Row():
            save_button = gr.Button("Save", variant="primary", elem_id="channel-save")
            reset_button = gr.Button("Back to defaults", elem_id="channel-reset")
        status = gr.Markdown(elem_id="channel-status")

    form = [name, enabled, followups, ephemeral, escalation, tags]
    listing = [table, channel, tags]
    tab.select(actions.listing, None, listing, api_visibility="private")
    refresh_button.click(actions.listing, None, listing, api_name="list_channels")
    # Progress and errors show on the status line only: the form stays readable, with what was typed.
    quiet = {"show_progress_on": [status]}
    show_button.click(actions.show, [channel], [*form, status], api_name="channel_settings", **quiet)
    channel.select(actions.show, [channel], [*form, status], api_visibility="private", **quiet)
    table.select(actions.select_row, None, [channel], api_visibility="private").success(
        actions.show, [channel], [*form, status], api_visibility="private", **quiet
    )
    changed = [*form, status, table, channel]
    save_button.click(actions.save, [channel, *form], changed, api_name="set_channel", **quiet)
    reset_button.click(actions.reset, [channel], changed, api_name="reset_channel", **quiet)
    return tab
