"""What each console role may do, enforced on every event of the console in one place.

Roles nest (:mod:`pipelines.records.accounts`): a ``viewer`` reads (sources, chunks, the debugger, traces,
feedback, comparisons), an ``editor`` also changes sources, audiences, channel settings, test cases and
the retrieval configuration and reads the audit log, an ``owner`` also manages accounts. Each event
handler is classified below by name, whether or not its event is reachable through the API (a private
event still runs when its button is clicked); a handler nobody classified needs an ``editor``. The check
runs inside the event, before the handler, with the signed-in user Gradio attaches to the request; a
refusal is a plain message.

What an account may *see* is decided here too, by role, and enforced in the core: reading handlers go
through :func:`session_view`, a :class:`pipelines.app.visibility.ConsoleView` that shows a viewer only what
everyone may see.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import gradio as gr
from gradio.context import LocalContext

from admin.handlers import wrap_handlers
from pipelines.app.visibility import ConsoleView, console_viewer
from pipelines.records.accounts import AccountStore, Role
from pipelines.records.audience import Viewer
from pipelines.service.facade import NeedleService

logger = logging.getLogger(__name__)

#: Handlers that change something, and the least role they need. A handler in neither table needs an
#: editor too, so a new button is not open to viewers by accident; a test lists every handler.
EDITOR_HANDLERS = frozenset(
    {
        "SourcesActions.upload",
        "SourcesActions.replace_conflicts",
        "SourcesActions.keep_both",
        "SourcesActions.skip_conflicts",
        "SourcesActions.delete",
        "SourcesActions.reindex",
        "SourcesActions.set_audience",
        "SourcesActions.upload_background",
        # The checks before a change: a viewer is refused there, before "starting…" is shown.
        "SourcesActions.check_upload",
        "SourcesActions.check_source",
        "SourcesActions.check_audience",
        "JobsActions.cancel",
        "JobsActions.retry",
        "DebuggerActions.add_case",
        "LabActions.add",
        "LabActions.remove",
        "LabActions.import_file",
        "LabActions.promote",
        "LabActions.rollback",
        "ChannelsActions.save",
        "ChannelsActions.reset",
        "AuditActions.search",  # who changed what is for editors and owners
        "GapsActions.save_verified",
        "GapsActions.expire_verified",
        "GapsActions.remove_verified",
        "GapsActions.renew_verified",
        "ConnectorsActions.add",
        "ConnectorsActions.sync_now",
        "ConnectorsActions.pause",
        "ConnectorsActions.resume",
        "ConnectorsActions.confirm",
        "ConnectorsActions.dismiss",
        "ConnectorsActions.remove",
    }
)
#: Handlers that only read or move the page (any signed-in account).
VIEWER_HANDLERS = frozenset(
    {
        "SourcesActions.refresh",
        "SourcesActions.select_row",
        "SourcesActions.ask_delete",
        "SourcesActions.cancel_delete",
        "SourcesActions.announce_job",
        "SourcesActions.announce_upload",
        "SourcesActions.current_audience",
        "SourcesActions.choose_mode",
        "JobsActions.listing",
        "JobsActions.poll",
        "JobsActions.select_row",
        "ChunksActions.show",
        "ChunksActions.source_list",
        "DebuggerActions.ask",
        "DebuggerActions.filter_choices",
        "DebuggerActions.find",
        "DebuggerActions.ranking",
        "DebuggerActions.rerun",
        "DebuggerActions.show_trace",
        "TracesActions.recent",
        "TracesActions.open_row",
        "FeedbackActions.filtered",
        "FeedbackActions.select_row",
        "FeedbackActions.open_selected",
        "FeedbackActions.escalations",
        "GapsActions.topics",
        "GapsActions.select_topic",
        "GapsActions.from_trace",
        "GapsActions.verified",
        "GapsActions.open_verified",
        "GapsActions.open_linked",
        "GapsActions.select_verified",
        "UsageActions.figures",
        "LabActions.refresh",
        "LabActions.cases",
        "LabActions.compare",
        "LabActions.export_file",
        "LabActions.from_trace",
        "LabActions.prefill",
        "LabActions.unconfirm",
        "ChannelsActions.listing",
        "ConnectorsActions.listing",
        "ConnectorsActions.show",
        "ConnectorsActions.select_row",
        "ChannelsActions.show",
        "ChannelsActions.select_row",
        "AccountsActions.open",  # shows a note instead of the accounts to anyone but an owner
        "AccountsActions.select_row",
        "AccountsActions.cancel_remove",
        "AuditActions.open",  # shows a note instead of the log to a viewer
        "RowDetail.show",  # a clicked row's columns, on a narrow screen
        "PageActions.overview",
        "PageActions.open_linked_trace",
        "DebuggerActions.view_as_controls",
    }
)
#: Handlers only owners may run: account management.
OWNER_HANDLERS = frozenset(
    {
        "AccountsActions.add",
        "AccountsActions.set_role",
        "AccountsActions.reset_password",
        "AccountsActions.end_sessions",
        "AccountsActions.ask_remove",
        "AccountsActions.remove",
    }
)


def required_role(handler: str) -> Role:
    """The least role a handler (``Class.method``) needs."""
    if handler in OWNER_HANDLERS:
        return "owner"
    if handler in VIEWER_HANDLERS:
        return "viewer"
    return "editor"


def _signed_in_username() -> str | None:
    """The account of the event being handled; ``None`` on a console without sign-in (loopback only)."""
    return getattr(LocalContext.request.get(None), "username", None)


def session_viewer(accounts: AccountStore) -> Viewer:
    """The audience the current event's account reads with: editors and owners see every source, a
    viewer (or an account removed while signed in) what everyone may see."""
    username = _signed_in_username()
    if username is None:
        return console_viewer(None, signed_in=False)
    account = accounts.get(username)
    return console_viewer(account.role if account else None)


def session_view(service: NeedleService) -> ConsoleView:
    """The core as the current event's account may see it; every reading handler goes through this,
    so the rule of :mod:`pipelines.app.visibility` holds whichever tab or endpoint asks."""
    return ConsoleView(service, session_viewer(service.accounts))


def _guard(accounts: AccountStore, role: Role, handler: str) -> None:
    username = _signed_in_username()
    if username is None:  # no sign-in configured: a developer's console on loopback
        return
    account = accounts.get(username)
    if account is None or not account.may(role):
        have = account.role if account else "no role"
        # A refusal is an answer, not a fault: one line in the log, no traceback.
        logger.info("console: %s (%s) refused %s, which needs the %s role", username, have, handler, role)
        raise gr.Error(
            f"Your account ({username}, {have}) may not do this: it needs the {role} role. "
            "Ask an owner of this Needle to change your role.",
            print_exception=False,
        )


def session_may(accounts: AccountStore, role: Role) -> bool:
    """Whether the current event's account has at least ``role`` (a console without sign-in: yes), for
    tabs that show a note instead of controls an account may not use."""
    username = _signed_in_username()
    if username is None:
        return True
    account = accounts.get(username)
    return account is not None and account.may(role)


def enforce_roles(blocks: gr.Blocks, accounts: AccountStore) -> dict[str, Role]:
    """Wrap every event handler of ``blocks`` (see :func:`admin.handlers.wrap_handlers`): those that need
    more than a viewer check the role first; returns, per handler (``Class.method``), the role it needs."""
    needs: dict[str, Role] = {}

    def check(handler: str) -> Callable[[], None] | None:
        role = needs[handler] = required_role(handler)
        return None if role == "viewer" else functools.partial(_guard, accounts, role, handler)

    wrap_handlers(blocks, check)
    return needs
