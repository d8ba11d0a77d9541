"""What one console session may see of sources, chunks, traces and feedback.

Rule (issue 12): a console account with the ``viewer`` role sees what everyone may see. Viewers are often
support staff or new team members who read traces to learn how Needle answers; the board minutes or the
salary bands they could not ask about in Slack must not reach them through the console either. Editors
and owners set audiences, so they see every source, as an admin at the server's terminal does.

The filtering lives here, in the core, so that every console handler asks the same object and a new
handler cannot forget a check of its own: the console builds one :class:`ConsoleView` per event with
:func:`console_viewer` and reads through it.

Background jobs and retrieval test cases follow the same rule. A job is listed when the source it
indexed is visible; one that indexed nothing (yet: queued, running, failed, cancelled) when it did not
ask for an audience the viewer is outside of and no hidden source has its file's name (it would replace
that source, and without an audience keep the source's). A test case is listed when every source and
chunk it expects is visible and the trace it came from (if any) may be shown.

A trace is shown to a restricted viewer only when nothing in it comes from a source that viewer may not
see *today* (every retriever list, the passages, the citations and the "might be related" list), and,
when the question was a follow-up in a thread, only when it was answered for everyone: the earlier
answers in its history (and so its prompt) may quote sources the trace no longer names. A source that
has since been deleted counts as restricted, because its audience can no longer be checked. A hidden
trace opened by id (a Slack "Debug this answer" link) is refused with a message that says why; hidden
sources and chunks are refused with the message of an unknown id, so their ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pipelines.base.errors import NeedleError, SourceNotFoundError
from pipelines.indexing.sources import source_id_for
from pipelines.lab.why import Explanation, Lists, explain_trace, trace_lists, trace_request
from pipelines.records.accounts import Role
from pipelines.records.answers import Passage, SourceInfo
from pipelines.records.audience import ADMIN, EVERYONE, PUBLIC, Viewer, parse_audience
from pipelines.records.cases import RetrievalCase
from pipelines.records.jobs import Job
from pipelines.stores.traces import FeedbackItem, Rating, Trace, TraceSummary

if TYPE_CHECKING:
    from pipelines.service.facade import NeedleService

#: A restricted viewer's trace list reads this many times the requested number of newest traces and keeps
#: the visible ones, so a list is not emptied by a run of restricted answers, nor made slow by a long one.
TRACE_SCAN_FACTOR = 4
MAX_TRACES_SCANNED = 4000
_LISTS = ("bm25", "dense", "fused", "reranked")


class HiddenFromViewer(NeedleError):
    """Something this console session may not see; the message says why in plain words."""


def console_viewer(role: Role | None, signed_in: bool = True) -> Viewer:
    """The audience a console session answers and reads with.

    :param role: the signed-in account's role; ``None`` for an account that no longer exists (removed
        while its session was open), which gets the narrowest view.
    :param signed_in: ``False`` for a console without sign-in (a developer's, on loopback only), which
        sees everything, as the terminal does.
    """
    if not signed_in:
        return ADMIN
    return ADMIN if role in ("editor", "owner") else PUBLIC


class ConsoleView:
    """The service as one console session may see it (see the module's rule).

    For an unrestricted viewer (editors, owners) every method is the service's own answer; for anyone
    else sources, chunks, traces and feedback are filtered to what ``viewer`` may see. Cheap to build:
    the visible sources are read once, on first use.
    """

    def __init__(self, service: NeedleService, viewer: Viewer) -> None:
        self.service = service
        self.viewer = viewer
        self._visible_ids: set[str] | None = None
        self._hidden_names: set[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.viewer.unrestricted

    # --- sources and chunks ------------------------------------------------------------------------
    def sources(self) -> list[SourceInfo]:
        """The sources this session may see, newest first."""
        return self.service.list_sources(self.viewer)

    def stats(self) -> dict[str, Any]:
        """The header's counts over the visible sources only (the counts would otherwise tell a viewer
        that restricted documents exist)."""
        if self.unrestricted:
            return self.service.stats()
        sources = self.sources()
        return {
            "sources": len(sources),
            "chunks": sum(source.chunks for source in sources),
            "last_updated": max((source.indexed_at for source in sources), default=None),
        }

    def may_see_source(self, source_id: str | None) -> bool:
        if self.unrestricted:
            return True
        if self._visible_ids is None:
            self._visible_ids = {source.source_id for source in self.sources()}
        return source_id in self._visible_ids

    def source_chunks(self, source_id: str) -> list[Passage]:
        """A visible source's chunks in reading order.

        :raises SourceNotFoundError: no such source, or one this session may not see (the same message,
            so a viewer cannot probe which restricted ids exist).
        """
        if not self.may_see_source(source_id):
            raise SourceNotFoundError(f"no source with id {source_id!r}")
        return self.service.source_chunks(source_id)

    def source(self, source_id: str) -> SourceInfo | None:
        return next((source for source in self.sources() if source.source_id == source_id), None)

    # --- background jobs and test cases -----------------------------------------------------------
    def may_see_job(self, job: Job) -> bool:
        """Whether a background job may be listed (file name, notes, id): see the module's rule."""
        if self.unrestricted:
            return True
        indexed = (job.result or {}).get("source_id")
        if indexed:
            return self.may_see_source(str(indexed))
        audience = job.options.get("audience")
        if audience is not None:
            try:
                if not self.viewer.may_see(parse_audience(audience)):
                    return False
            except NeedleError:  # a malformed audience: the job fails, and says nothing here
                return False
        # Named like a hidden source, it replaces that source (and, given no audience, keeps its
        # audience); either way the file's name is the hidden source's.
        return not self._named_like_a_hidden_source(job.file_name)

    def _named_like_a_hidden_source(self, file_name: str) -> bool:
        """Whether a hidden source has this file's name (an upload of the file would replace it)."""
        if self._hidden_names is None:
            self._hidden_names = {
                source_id_for(source.file_name)
                for source in self.service.list_sources(ADMIN)
                if not self.may_see_source(source.source_id)
            }
        return source_id_for(file_name) in self._hidden_names

    def jobs(self, limit: int = 100) -> list[Job]:
        """The newest ``limit`` background jobs, those this session may see."""
        return [job for job in self.service.jobs.list(limit=limit) if self.may_see_job(job)]

    def may_see_case(self, case: RetrievalCase) -> bool:
        """Whether a retrieval test case may be listed, exported or compared on: every source and chunk
        it expects is visible (a deleted one counts as hidden), and so is the trace it came from."""
        if self.unrestricted:
            return True
        if not all(self.may_see_source(source_id) for source_id in case.expected_sources):
            return False
        for chunk_id in case.expected_chunks:
            chunk = self.service.chunk(chunk_id)
            if chunk is None or not self.may_see_source(chunk.meta.get("source_id")):
                return False
        trace = self.service.get_trace(case.trace_id) if case.trace_id else None
        return trace is None or self.may_see_trace(trace)

    def cases(self) -> list[RetrievalCase]:
        """The retrieval test cases this session may see, oldest first."""
        return [case for case in self.service.cases.list() if self.may_see_case(case)]

    # --- traces and feedback -----------------------------------------------------------------------
    def may_see_trace(self, trace: Trace | dict[str, Any]) -> bool:
        """Whether every source the trace touched is visible, and its thread history is safe to show."""
        if self.unrestricted:
            return True
        if trace.get("history"):
            asked_for = trace_request(trace).viewer
            if asked_for.unrestricted or asked_for.principals() != [EVERYONE]:
                return False
        return all(self.may_see_source(source_id) for source_id in _sources_in(trace))

    def trace(self, trace_id: str) -> Trace | None:
        """A trace by id; ``None`` when there is none.

        :raises HiddenFromViewer: it uses a source this session may not see.
        """
        trace = self.service.get_trace(trace_id)
        if trace is None or self.may_see_trace(trace):
            return trace
        raise HiddenFromViewer(
            "This answer used documents that not everyone may see, and your account sees only what "
            "everyone may see. An editor or owner can open it."
        )

    def recent_traces(self, limit: int = 50, origin: str | None = None) -> list[TraceSummary]:
        """Newest first, only traces this session may see (see :data:`TRACE_SCAN_FACTOR`)."""
        if self.unrestricted:
            return self.service.recent_traces(limit=limit, origin=origin)
        scanned = self.service.recent_traces(
            limit=min(limit * TRACE_SCAN_FACTOR, MAX_TRACES_SCANNED), origin=origin
        )
        visible = self._visible_trace_ids(summary["trace_id"] for summary in scanned)
        return [summary for summary in scanned if summary["trace_id"] in visible][:limit]

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackItem]:
        """Votes, newest first, on answers this session may see (the question and answer are listed)."""
        items = self.service.feedback(limit=limit, rating=rating)
        if self.unrestricted:
            return items
        visible = self._visible_trace_ids(item["trace_id"] for item in items)
        return [item for item in items if item["trace_id"] in visible]

    def visible_trace_ids(self, trace_ids: Iterable[str]) -> set[str]:
        """Those of ``trace_ids`` whose answers this session may see, for lists keyed by trace id such as
        escalations. An id whose trace is gone counts as visible: there is no answer left to leak, only
        the question someone typed, which the list shows anyway."""
        ids = list(trace_ids)
        return set(ids) if self.unrestricted else self._visible_trace_ids(ids, missing_visible=True)

    def _visible_trace_ids(self, trace_ids: Iterable[str], missing_visible: bool = False) -> set[str]:
        visible = set()
        for trace_id in dict.fromkeys(trace_ids):
            trace = self.service.get_trace(trace_id)
            if (trace is None and missing_visible) or (trace is not None and self.may_see_trace(trace)):
                visible.add(trace_id)
        return visible

    # --- the debugger ------------------------------------------------------------------------------
    def answer_viewer(self, requested: Viewer = ADMIN) -> Viewer:
        """Who the debugger answers as: ``requested`` ("view as", or a re-run trace's viewer) for an
        unrestricted session; the everyone-only audience for anyone else.

        :raises HiddenFromViewer: a restricted session asked to "view as" someone: that person or channel
            may see more than everyone may.
        """
        if self.unrestricted:
            return requested
        if requested != ADMIN:
            raise HiddenFromViewer(
                "“View as” is for editors and owners: your account sees only what everyone may see, so "
                "the debugger answers with the documents for everyone. Leave both boxes blank."
            )
        return self.viewer

    def rerun_viewer(self, trace: Trace | dict[str, Any]) -> Viewer:
        """The viewer a re-run of ``trace`` answers as: the trace's own for an unrestricted session,
        otherwise this session's (today's index may hold sources the trace's asker may see)."""
        return trace_request(trace).viewer if self.unrestricted else self.viewer

    def trace_lists(self, trace: Trace | dict[str, Any]) -> Lists:
        """The trace's full fused ranking, recomputed, limited to what this session may see."""
        return trace_lists(self.service, trace, audience=None if self.unrestricted else self.viewer)

    def explain_trace(self, trace: Trace | dict[str, Any], target: str) -> Explanation:
        """Why ``target`` ranks where it does for the trace's question, within this session's audience.

        :raises NeedleError: the target does not exist or is not visible (the same message).
        """
        if not self.unrestricted:
            self._require_visible_target(target)
        return explain_trace(self.service, trace, target, audience=None if self.unrestricted else self.viewer)

    def _require_visible_target(self, target: str) -> None:
        target = (target or "").strip()
        chunk = self.service.chunk(target) if target else None
        source_id = chunk.meta.get("source_id") if chunk is not None else target
        if not self.may_see_source(source_id):
            raise NeedleError(f"no source or chunk with id {target!r}; see `needle sources` for source ids")


def _sources_in(trace: Trace | dict[str, Any]) -> set[str | None]:
    """Every source id a trace names: its retriever lists, passages, citations and related sources."""
    found: set[str | None] = set()
    for name in _LISTS:
        found |= {entry.get("source_id") for entry in trace.get(name) or []}
    found |= {(passage.get("meta") or {}).get("source_id") for passage in trace.get("passages") or []}
    answer = trace.get("answer") or {}
    for name in ("citations", "related"):
        found |= {citation.get("source_id") for citation in answer.get(name) or []}
    return found
