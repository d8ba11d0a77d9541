"""The admin console: one Gradio Blocks app over the core service, one tab per module.

``needle serve`` mounts it at ``/admin`` (see :mod:`admin.face`); :func:`launch` serves it alone, the same
way, which is how the tests and a quick local look run it.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import uvicorn

from admin.jobs import IndexingJobs
from admin.roles import enforce_roles
from admin.tabs.accounts import build_accounts_tab
from admin.tabs.audit import build_audit_tab
from admin.tabs.channels import build_channels_tab
from admin.tabs.chunks import build_chunks_tab
from admin.tabs.debugger import DEBUGGER_TAB, DebuggerTab, build_debugger_tab
from admin.tabs.feedback import build_feedback_tab
from admin.tabs.lab import build_lab_tab
from admin.tabs.sources import SourcesTab, build_sources_tab
from admin.tabs.traces import build_traces_tab
from pipelines.links import ADMIN_PATH
from pipelines.service import NeedleService

TITLE = "Needle admin"


class PageActions:
    """What happens when the page opens: fill the sources table, and open the trace named in the URL."""

    def __init__(self, service: NeedleService, sources: SourcesTab, debugger: DebuggerTab) -> None:
        self.service = service
        self.sources = sources
        self.debugger = debugger

    def overview(self) -> tuple[Any, ...]:
        """The header's counts, the sources table and the source picker, as they are now."""
        table, picker, line = self.sources.refresh()
        return line, table, picker

    def open_linked_trace(self, request: gr.Request) -> tuple[Any, ...]:
        """``?trace=<id>`` (Slack's "Debug this answer" link) opens that trace in the debugger."""
        trace_id = (request.query_params.get("trace") or "").strip() if request else ""
        if not trace_id:
            return (gr.skip(), *(gr.skip() for _ in self.debugger.outputs))
        return (gr.Tabs(selected=DEBUGGER_TAB), *self.debugger.show_trace(trace_id))


def build_admin(service: NeedleService) -> gr.Blocks:
    """The console's layout and events; serve it with :func:`launch` or :func:`admin.face.mount`."""
    jobs = IndexingJobs()  # one per console, shared by every admin's session
    # Source pickers accept any value (allow_custom_value): their choices date from when the page loaded,
    # other admins add and delete sources meanwhile, and the core rejects ids it does not hold.
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        gr.Markdown(f"# {TITLE}")
        if service.accounts.list():  # signed-in consoles only: admin.sign_in serves `logout` beside it
            # A form, not a link: signing out changes state, so it is a POST (see admin.sign_in).
            gr.HTML(
                '<form method="post" action="logout"><button type="submit">Sign out</button></form>',
                elem_id="sign-out",
            )
        overview = gr.Markdown(elem_id="overview")
        with gr.Tabs() as tabs:
            sources = build_sources_tab(service, jobs, overview)
            build_chunks_tab(service)
            debugger = build_debugger_tab(service)
            build_traces_tab(service, debugger, tabs)
            feedback = build_feedback_tab(service, debugger, tabs)
            build_lab_tab(service, tabs, feedback)
            build_channels_tab(service)
            build_audit_tab(service)
            build_accounts_tab(service)
        page = PageActions(service, sources, debugger)
        blocks.load(
            page.overview, None, [overview, sources.table, sources.selected], api_visibility="private"
        )
        # The jobs panel starts polling at once if a worker is busy when the page opens.
        blocks.load(sources.jobs.actions.listing, None, sources.jobs.outputs, api_visibility="private")
        blocks.load(page.open_linked_trace, None, [tabs, *debugger.outputs], api_visibility="private")
        # A viewer's "view as" boxes are disabled, with the reason, as soon as the page opens.
        blocks.load(debugger.view_as_controls, None, debugger.view_as, api_visibility="private")
    enforce_roles(blocks, service.accounts)
    return blocks


@dataclass
class LaunchedConsole:
    """A console served on its own by :func:`launch`: its Blocks, its address, and how to stop it."""

    blocks: gr.Blocks
    local_url: str
    server: uvicorn.Server
    thread: threading.Thread | None

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)


def launch(
    service: NeedleService, *, host: str | None = None, port: int | None = None, block: bool = False
) -> LaunchedConsole:
    """Serve the console on its own, exactly as ``needle serve --faces admin`` mounts it (same sign-in,
    same-origin guard, upload limit and forwarded-header rule), at ``/admin/`` on ``host``:``port``.

    :param port: ``None`` picks a free one (see ``local_url``).
    :param block: wait until the server stops (for a terminal); tests keep the default and close it.
    :raises admin.security.AdminConfigError: no password is set and ``host`` is not loopback.
    """
    from admin.face import mount_console  # admin.face builds on this module
    from pipelines.server import create_app, uvicorn_config

    settings = service.settings
    if host is not None and host != settings.host:
        settings = settings.model_copy(update={"host": host})
    app = create_app(service)
    blocks = mount_console(app, service, settings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, port or 0))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, log_level="warning", timeout_graceful_shutdown=1))
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    local_url = f"http://{shown if ':' not in shown else f'[{shown}]'}:{bound}{ADMIN_PATH}/"
    if block:
        server.run(sockets=[sock])
        return LaunchedConsole(blocks, local_url, server, None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console's server did not start")
        time.sleep(0.05)
    return LaunchedConsole(blocks, local_url, server, thread)
