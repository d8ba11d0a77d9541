"""The admin console: one Gradio Blocks app over the core service, one tab per module.

``needle serve`` mounts it at ``/admin`` (see :mod:`admin.face`);
:func:`admin.face.launch` serves it alone, the same way, which is how the tests and a quick local look run it.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin.jobs import IndexingJobs
from admin.roles import enforce_roles
from admin.tabs.accounts import build_accounts_tab
from admin.tabs.audit import build_audit_tab
from admin.tabs.channels import build_channels_tab
from admin.tabs.chunks import build_chunks_tab
from admin.tabs.connectors import build_connectors_tab
from admin.tabs.debugger import DEBUGGER_TAB, DebuggerTab, build_debugger_tab
from admin.tabs.feedback import build_feedback_tab
from admin.tabs.gaps import build_gaps_tab
from admin.tabs.lab import build_lab_tab
from admin.tabs.sources import SourcesTab, build_sources_tab
from admin.tabs.traces import build_traces_tab
from admin.tabs.usage import build_usage_tab
from pipelines.service.facade import NeedleService

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
    """The console's layout and events; serve it with :func:`admin.face.launch` or `admin.face.mount`."""
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
            build_connectors_tab(service)
            build_chunks_tab(service)
            debugger = build_debugger_tab(service)
            build_traces_tab(service, debugger, tabs)
            feedback = build_feedback_tab(service, debugger, tabs)
            build_lab_tab(service, tabs, feedback)
            gaps = build_gaps_tab(service)
            build_usage_tab(service)
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
        # ?verified=<id> (an expert's renewal reminder) opens the Gaps tab on that verified answer.
        blocks.load(gaps.actions.open_linked, None, [tabs, *gaps.linked_outputs], api_visibility="private")
        # A viewer's "view as" boxes are disabled, with the reason, as soon as the page opens.
        blocks.load(debugger.view_as_controls, None, debugger.view_as, api_visibility="private")
    enforce_roles(blocks, service.accounts)
    return blocks
