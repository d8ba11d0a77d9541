"""Accounts tab (owners only): who may sign in to the console and with which role.

The rules are the core's (:class:`pipelines.records.accounts.AccountStore`, the same as ``needle admins``):
usernames and password length are checked there, the last owner cannot be removed or demoted, the
login set in the environment is changed in the environment, and every change is written to the audit
log with the owner who made it. A new password or a removal also ends that account's sessions; "End
sessions" signs an account out everywhere without changing anything else. Editors and viewers who open
the tab read a note instead of controls they may not use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin import render
from admin.roles import session_may
from admin.tabs.tables import readonly_table
from pipelines.base.errors import NeedleError
from pipelines.records.accounts import MIN_PASSWORD_CHARS, ROLES, Account
from pipelines.service.facade import NeedleService

ACCOUNT_HEADERS = ["Username", "Role", "Added by", "Added (UTC)", "Note"]
ACCOUNT_COLUMN_WIDTHS = ["26%", "12%", "18%", "20%", "24%"]
OWNERS_ONLY = (
    "**Accounts are managed by owners.** Your account may not add, change or remove console accounts; "
    "ask an owner of this Needle (or run `needle admins` on the server)."
)


def account_rows(accounts: list[Account]) -> list[list[str]]:
    """One row per account, oldest first, the username first (a click on a row picks it)."""
    return [
        [
            account.username,
            account.role,
            account.created_by or "",
            render.timestamp(account.created_at),
            "set by NEEDLE_ADMIN_USERNAME; change it there" if account.from_environment else "",
        ]
        for account in accounts
    ]


@dataclass
class AccountsTab:
    """The parts the page wires: what the tab shows on opening."""

    note: gr.Markdown
    panel: gr.Column
    table: gr.Dataframe


class AccountsActions:
    """The tab's handlers: each one call to the core's account store, by the signed-in owner."""

    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def open(self) -> tuple[Any, ...]:
        """On opening the tab: the accounts for an owner; for anyone else a note, and no controls."""
        if not session_may(self.service.accounts, "owner"):
            return gr.Markdown(OWNERS_ONLY, visible=True), gr.Column(visible=False), gr.skip()
        return gr.Markdown(visible=False), gr.Column(visible=True), self.listing()

    def listing(self) -> list[list[str]]:
        return account_rows(self.service.accounts.list())

    def add(self, username: str, role: str, password: str, request: gr.Request) -> tuple[Any, ...]:
        accounts = self.service.accounts
        account = _call(accounts.add, username or "", password or "", role or "", _actor(request))
        message = f"✅ Added **{render.md_text(account.username)}** as {account.role}."
        return message, self.listing(), ""

    def set_role(self, username: str, role: str, request: gr.Request) -> tuple[Any, ...]:
        account = _call(self.service.accounts.set_role, _required(username), role or "", _actor(request))
        message = (
            f"✅ **{render.md_text(account.username)}** is now {account.role}; it applies to their next "
            "click."
        )
        return message, self.listing(), ""

    def reset_password(self, username: str, password: str, request: gr.Request) -> tuple[Any, ...]:
        name = _required(username)
        _call(self.service.accounts.set_password, name, password or "", _actor(request))
        message = (
            f"✅ New password set for **{render.md_text(name)}**; their sessions were ended, so they sign "
            "in again with it."
        )
        return message, self.listing(), ""

    def end_sessions(self, username: str, request: gr.Request) -> tuple[Any, ...]:
        name = _required(username)
        ended = _call(self.service.accounts.sign_out, name, _actor(request))
        message = f"✅ Ended {ended} session(s) of **{render.md_text(name)}**; the account stays."
        return message, self.listing(), ""

    def ask_remove(self, username: str) -> tuple[gr.Group, str]:
        name = _required(username)
        if self.service.accounts.get(name) is None:
            raise gr.Error(f"No account {name!r}; refresh the list.", print_exception=False)
        text = (
            f"Remove the account **{render.md_text(name)}**? It can no longer sign in and its sessions "
            "end now. Its changes stay in the audit log."
        )
        return gr.Group(visible=True), text

    def cancel_remove(self) -> gr.Group:
        return gr.Group(visible=False)

    def remove(self, username: str, request: gr.Request) -> tuple[Any, ...]:
        name = _required(username)
        _call(self.service.accounts.remove, name, _actor(request))
        message = f"🗑️ Removed the account **{render.md_text(name)}** and ended its sessions."
        return gr.Group(visible=False), message, self.listing(), ""

    def select_row(self, event: gr.SelectData) -> tuple[str, str]:
        """Clicking a row picks that account (and its role) for the buttons below."""
        row = event.row_value or []
        return (str(row[0]), str(row[1])) if row else ("", "viewer")


def _actor(request: gr.Request | None) -> str | None:
    return request.username if request else None


def _required(username: str | None) -> str:
    name = (username or "").strip()
    if not name:
        raise gr.Error("Type a username, or click an account in the list.", print_exception=False)
    return name


def _call(method: Any, *args: Any) -> Any:
    """A core call; its refusals ("this is the last owner: add another owner first") are for the owner
    to read, not server errors."""
    try:
        return method(*args)
    except NeedleError as error:
        raise gr.Error(str(error), duration=None, print_exception=False) from None


def build_accounts_tab(service: NeedleService) -> AccountsTab:
    """The tab's layout and events."""
    actions = AccountsActions(service)
    with gr.Tab("Accounts", id="accounts") as tab:
        note = gr.Markdown(visible=False, elem_id="accounts-note")
        with gr.Column(visible=False) as panel:
            gr.Markdown(
                "Who may sign in to this console, and what each role may do: a **viewer** reads, an "
                "**editor** also changes sources, audiences, channels and retrieval settings and reads the "
                "audit log, an **owner** also manages accounts. Every change here is in the audit log. "
                "The same can be done on the server with `needle admins`."
            )
            table = readonly_table(
                ACCOUNT_HEADERS,
                "accounts-table",
                "Accounts (click a row to pick it)",
                column_widths=ACCOUNT_COLUMN_WIDTHS,
            )
            with gr.Row(equal_height=True):
                username = gr.Textbox(label="Username", max_lines=1, scale=2, elem_id="account-username")
                role = gr.Dropdown(list(ROLES), value="viewer", label="Role", scale=1, elem_id="account-role")
                password = gr.Textbox(
                    label=f"Password (new or reset; at least {MIN_PASSWORD_CHARS} characters)",
                    type="password",
                    max_lines=1,
                    scale=2,
                    elem_id="account-password",
                )
            with gr.Row():
                add_button = gr.Button("Add account", variant="primary", elem_id="account-add")
                role_button = gr.Button("Change role", elem_id="account-set-role")
                password_button = gr.Button("Reset password", elem_id="account-reset-password")
                sessions_button = gr.Button("End sessions", elem_id="account-end-sessions")
                remove_button = gr.Button("Remove…", variant="stop", elem_id="account-remove")
            with gr.Group(visible=False, elem_id="account-confirm") as confirm_box:
                confirm_text = gr.Markdown()
                with gr.Row():
                    confirm_button = gr.Button(
                        "Yes, remove it", variant="stop", elem_id="account-confirm-remove"
                    )
                    cancel_button = gr.Button("Cancel")
            status = gr.Markdown(elem_id="account-status")

    changed = [status, table, password]  # the password box is emptied after every change
    tab.select(actions.open, None, [note, panel, table], api_visibility="private")
    table.select(actions.select_row, None, [username, role], api_visibility="private")
    add_button.click(
        actions.add, [username, role, password], changed, api_name="add_account", show_progress_on=[status]
    )
    role_button.click(
        actions.set_role, [username, role], changed, api_name="set_account_role", show_progress_on=[status]
    )
    password_button.click(
        actions.reset_password,
        [username, password],
        changed,
        api_name="reset_account_password",
        show_progress_on=[status],
    )
    sessions_button.click(
        actions.end_sessions, [username], changed, api_name="end_account_sessions", show_progress_on=[status]
    )
    remove_button.click(actions.ask_remove, [username], [confirm_box, confirm_text], api_visibility="private")
    cancel_button.click(actions.cancel_remove, None, [confirm_box], api_visibility="private")
    confirm_button.click(
        actions.remove,
        [username],
        [confirm_box, *changed],
        api_name="remove_account",
        show_progress_on=[status],
    )
    return AccountsTab(note=note, panel=panel, table=table)
