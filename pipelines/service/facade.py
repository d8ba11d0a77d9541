"""The one object the faces talk to: ingest, list and delete sources; ask questions; read traces.

The CLI, the Slack bot and the admin console each hold one :class:`NeedleService`. It loads the models
once, opens the configured backend (:func:`pipelines.stores.build_backend`) and its record stores, builds
the two pipelines, and hands them to the three sides that do the work: :class:`SourceLibrary` (indexing),
:class:`Answerer` (questions) and the stores of records (traces and feedback, channel settings, audit,
test cases, retrieval configurations, ingest jobs, admin accounts). This class only wires them and
forwards; a process keeps one copy of each model and store however many faces it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pipelines.base import stage_timer
from pipelines.base.errors import NeedleError, SourceNotFoundError
from pipelines.base.metrics import Metrics
from pipelines.base.models import resolve_model
from pipelines.base.private_files import make_files_private
from pipelines.base.settings import Settings
from pipelines.connectors.directory import people_directory
from pipelines.connectors.manager import ConnectorManager
from pipelines.connectors.schedule import SyncScheduler
from pipelines.connectors.state import ConnectorRecords
from pipelines.indexing.pipeline import CONVERSION_VERSION, build_indexing_pipeline
from pipelines.indexing.sources import SourceLibrary
from pipelines.knowledge.desk import KnowledgeDesk
from pipelines.querying.answering import Answerer, QueryOptions
from pipelines.querying.llm import LLMStatus, build_chat_generator, prepare_at_start
from pipelines.querying.pipeline import build_query_pipeline, build_ranker
from pipelines.records.accounts import AccountStore
from pipelines.records.answers import Answer, IngestResult, Passage, SourceInfo
from pipelines.records.audience import ADMIN, PUBLIC, Viewer
from pipelines.records.audit import AuditLog
from pipelines.records.cases import CaseStore, RetrievalCase, sources_indexed
from pipelines.records.channel_settings import ChannelSettingsStore
from pipelines.records.jobs import JobQueue, Worker
from pipelines.records.retrieval_config import ConfigStore
from pipelines.records.source_changes import SourceListing
from pipelines.service.embedders import build_embedders
from pipelines.stores import build_backend
from pipelines.stores.embedding_cache import CachedDocumentEmbedder, EmbeddingCache
from pipelines.stores.traces import COMPARE_ORIGIN, FeedbackItem, Rating, SlackLocation, Trace, TraceSummary

logger = logging.getLogger(__name__)


class NeedleService:
    """Needle's core behind one facade.

    Thread-safe: questions may run concurrently; ingests and deletions run one at a time.
    """

    def __init__(self, settings: Settings, embedding_cache_path: Path | None = None) -> None:
        self.settings = settings
        make_files_private()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        stage_timer.install()
        self.metrics = Metrics()

        self.embedders = build_embedders(settings)
        self.text_embedder = self.embedders.text_embedder
        self.document_embedder = self.embedders.document_embedder
        self.embedding_dim = self.embedders.dimension

        self.backend = build_backend(settings, self.embedding_dim)
        self.store = self.backend.documents
        self.traces = self.backend.trace_store()
        self.records = self.backend.record_store()
        self.audit = AuditLog(self.records)
        self.originals = self.backend.original_store(self.records)
        self.cases = CaseStore(self.records)
        self.configs = ConfigStore(self.records, settings, self.audit)
        self.channels = ChannelSettingsStore(self.records, settings, self.audit)
        self.jobs = JobQueue(self.records, self.audit)
        self.accounts = AccountStore(self.records, settings, self.audit)
        ranker = None
        if settings.reranker_model:
            ranker = build_ranker(settings, resolve_model(settings.reranker_model))
            ranker.warm_up()
        self.generator = build_chat_generator(settings)
        prepare_at_start(settings, self.generator)  # a serverless model the Hub does not know stops here
        self.llm_status = LLMStatus(settings)
        self.embedding_cache = EmbeddingCache(
            embedding_cache_path or settings.data_dir / "embedding-cache.sqlite3"
        )
        self.indexing_pipeline = build_indexing_pipeline(
            settings, self.backend, CachedDocumentEmbedder(self.document_embedder, self.embedding_cache)
        )
        self.query_pipeline = build_query_pipeline(
            settings,
            self.backend,
            self.text_embedder,
            self.generator,
            ranker=ranker,
            sentence_encoder=self.embedders.sentence_encoder,
            llm_status=self.llm_status,
        )
        self.has_ranker = ranker is not None
        # With a reranker, a twin pipeline without it lets the debugger compare; its components are new
        # instances (a component belongs to one pipeline) but share the loaded model and the store.
        self._unranked_pipeline = (
            build_query_pipeline(
                settings,
                self.backend,
                self.embedders.new_text_embedder(),
                build_chat_generator(settings),
                sentence_encoder=self.embedders.sentence_encoder,
                llm_status=self.llm_status,
            )
            if ranker is not None
            else self.query_pipeline
        )
        # The local model keeps its name in index_config as before, so existing chunks stay current.
        local = settings.embedding_api == "local"
        embedder = settings.embedding_model if local else self.embedders.identity
        self.sources = SourceLibrary(
            settings,
            self.backend,
            self.indexing_pipeline,
            self.originals,
            self.audit,
            self.metrics,
            # Chunks indexed under other chunking or another embedder are re-indexed on re-ingest.
            index_config=f"{embedder}|{settings.chunk_words}|{settings.chunk_overlap_words}"
            f"|conversion-{CONVERSION_VERSION}",
            embedder=self.embedders.identity,
            embedder_is_local=local,
        )
        # Connectors sync documents where they live into sources (the CLI's and the console's object).
        self.connectors = ConnectorManager(
            ConnectorRecords(self.records),
            self.sources,
            settings.data_dir,
            self.audit,
            people=people_directory(self.records, settings),  # emails to Slack users, with a bot token
        )
        # Every source, listed again only when one changed in any process (a record-store stamp).
        self.source_listing = SourceListing(lambda: self.sources.list_sources(ADMIN), self.sources.changes)
        self.answerer = Answerer(
            settings,
            self.store,
            self.query_pipeline,
            self._unranked_pipeline,
            self.has_ranker,
            self.generator,
            self.traces,
            self.configs,
            self.metrics,
        )
        self.knowledge = KnowledgeDesk(
            self.traces,
            self.records,
            self.audit,
            self.embedders.sentence_encoder,
            ingest=self.sources.ingest_bytes,
            delete=self.sources.delete_source,
            exclude_origins=(COMPARE_ORIGIN,),
            embedder=self.embedders.identity,
        )

    def close(self) -> None:
        """Release the databases (traces, embedding cache); the service is unusable afterwards."""
        self.traces.close()
        self.records.close()
        self.embedding_cache.close()

    # ------------------------------------------------------------------------------------------------
    # Sources (see SourceLibrary)
    # ------------------------------------------------------------------------------------------------
    def ingest_file(self, path: str | Path, **kwargs: Any) -> IngestResult:
        return self.sources.ingest_file(path, **kwargs)

    def ingest_bytes(self, file_name: str, data: bytes, **kwargs: Any) -> IngestResult:
        return self.sources.ingest_bytes(file_name, data, **kwargs)

    def ingest_paths(self, paths: Iterable[str | Path], **kwargs: Any) -> list[IngestResult]:
        return self.sources.ingest_paths(paths, **kwargs)

    def reindex_source(self, source_id: str, actor: str | None = None) -> IngestResult:
        return self.sources.reindex_source(source_id, actor=actor)

    def delete_source(self, source_id: str, actor: str | None = None) -> int:
        """Delete a source by hand; one a connector keeps in sync is refused (its next sync would bring
        it back): the connector is what to remove or reconfigure."""
        for source in self.current_sources():
            if source.source_id == source_id and source.connector:
                raise NeedleError(
                    f"source {source_id} is managed by connector {source.connector!r}; remove or "
                    f"reconfigure the connector (`needle connectors show {source.connector}`)"
                )
        return self.sources.delete_source(source_id, actor=actor)

    def set_source_audience(
        self, source_id: str, audience: str | Iterable[str], actor: str | None = None
    ) -> SourceInfo:
        return self.sources.set_source_audience(source_id, audience, actor=actor)

    def list_sources(self, viewer: Viewer = ADMIN) -> list[SourceInfo]:
        return self.sources.list_sources(viewer)

    def current_sources(self, viewer: Viewer = ADMIN) -> list[SourceInfo]:
        """What :meth:`list_sources` gives, from a listing made again only after a source changed (in
        any process; see :mod:`pipelines.records.source_changes`): cheap enough to ask on every question.

        :raises StoreUnavailableError: (or the record store's error) the stores cannot be read."""
        return [source for source in self.source_listing.current() if viewer.may_see(source.audience)]

    def chunk(self, chunk_id: str) -> Passage | None:
        return self.sources.chunk(chunk_id)

    def source_chunks(self, source_id: str) -> list[Passage]:
        return self.sources.source_chunks(source_id)

    def stats(self) -> dict[str, Any]:
        return self.sources.stats()

    def ingest_worker(self) -> Worker:
        """A worker for background jobs (``self.jobs``): uploads indexed through this service, and the
        connectors' syncs, which it also queues when they are due."""
        return Worker(
            self.jobs,
            self.sources.ingest_bytes,
            sync=self.connectors.sync,
            schedule=SyncScheduler(self.connectors, self.jobs),
        )

    def add_case(self, case: RetrievalCase) -> RetrievalCase:
        """Store a retrieval test case whose expected sources are indexed.

        :raises SourceNotFoundError: an expected source id the index does not hold (all are named).
        :raises NeedleError: an invalid case."""
        unknown = sources_indexed(self.sources.source_chunks)(case)
        if unknown:
            raise SourceNotFoundError("; ".join(unknown))
        return self.cases.add(case)

    def import_cases(self, lines: Iterable[str], added_by: str | None = None) -> list[RetrievalCase]:
        """Store every case of a JSON-lines file under :meth:`add_case`'s rule, or none.

        :raises CaseImportError: every bad line, with its number and reason."""
        return self.cases.import_lines(
            lines, added_by=added_by, check=sources_indexed(self.sources.source_chunks)
        )

    # ------------------------------------------------------------------------------------------------
    # Questions (see Answerer)
    # ------------------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        history: list[dict[str, str]] | None = None,
        tags: Iterable[str] | None = None,
        source_ids: Iterable[str] | None = None,
        origin: str = "api",
        user_id: str | None = None,
        on_text: Callable[[str], None] | None = None,
        options: QueryOptions | None = None,
        viewer: Viewer = PUBLIC,
        context: dict[str, str] | None = None,
    ) -> Answer:
        """See :meth:`Answerer.ask`. The default viewer sees sources for everyone only. A question a
        current verified answer in the viewer's audience answers is given from it first (issue 27)."""
        answer = self.answerer.ask(
            question,
            history=history,
            tags=tags,
            source_ids=source_ids,
            origin=origin,
            user_id=user_id,
            on_text=on_text,
            options=options,
            viewer=viewer,
            context=context,
        )
        found = self.knowledge.match(question, viewer, answer)
        if found is not None:
            answer = self.knowledge.answer_with(answer, found)
            self.knowledge.record_in_trace(answer, found)
        return self.knowledge.mark_stale(answer, self.current_sources)

    # ------------------------------------------------------------------------------------------------
    # Health
    # ------------------------------------------------------------------------------------------------
    def readiness(self) -> dict[str, dict[str, Any]]:
        """What ``/readyz`` reports: the store answers, the model is loaded, the LLM is set up or off
        (which one, whether its endpoint answers, and how its last call went)."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            checks["store"] = {"ok": True, "chunks": self.store.count_documents()}
        except Exception as error:
            logger.warning("readiness: store check failed: %s", type(error).__name__)
            checks["store"] = {"ok": False, "error": "the document store is not reachable"}
        checks["embedding_model"] = {"ok": True, "embedder": self.embedders.identity}
        checks["llm"] = self.llm_status.readiness()
        return checks

    # ------------------------------------------------------------------------------------------------
    # Traces and feedback
    # ------------------------------------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace | None:
        return self.traces.get(trace_id)

    def recent_traces(
        self, limit: int = 50, origin: str | None = None, user_id: str | None = None
    ) -> list[TraceSummary]:
        """Newest first; ``user_id`` keeps one asker's (their App Home lists their own questions).

        Without an ``origin``, the questions people asked from every face, but not the lab's comparison
        runs: a comparison over N cases records 2N answers, which would push the questions
        off the list (the traces tab's "All"). ``origin="compare"`` lists those; each opens by id."""
        excluded = () if origin else (COMPARE_ORIGIN,)
        return self.traces.recent(limit=limit, origin=origin, user_id=user_id, exclude_origins=excluded)

    def record_slack_location(self, trace_id: str, location: SlackLocation) -> None:
        """Keep with the trace where its answered question is in Slack (channel id, the question's ts,
        the answer's thread ts): any process can then link to the thread, e.g. in the asker's App Home.

        :raises NeedleError: the trace does not exist, or the location is not Slack ids."""
        try:
            self.traces.set_location(trace_id, location)
        except KeyError:
            raise NeedleError(f"no answer with trace id {trace_id!r}") from None
        except ValueError as error:
            raise NeedleError(f"not a Slack location: {error}") from None

    def record_feedback(
        self, trace_id: str, rating: Rating, user_id: str | None = None, reason: str | None = None
    ) -> None:
        """Store a user's 👍/👎 for an answer, replacing their earlier vote on it.

        :raises NeedleError: the trace does not exist."""
        try:
            self.traces.add_feedback(trace_id, rating, user_id=user_id, reason=reason)
        except KeyError:
            raise NeedleError(f"no answer with trace id {trace_id!r}") from None
        self.metrics.feedback.labels(rating=rating).inc()

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackItem]:
        return self.traces.feedback(limit=limit, rating=rating)
