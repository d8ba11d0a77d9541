"""The ``needle`` command: ingest, ask, list and delete sources from a terminal.

Results go to stdout (``--json`` for scripts), errors to stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pipelines.samples import SAMPLE_QUESTIONS as DEMO_QUESTIONS

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

logger = logging.getLogger("needle")


def _quiet_libraries() -> None:
    """Keep model-loading progress bars and library chatter out of the CLI's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _service() -> Any:
    from pipelines.service import NeedleService
    from pipelines.settings import get_settings

    return NeedleService(get_settings())


def _writable_service() -> Any:
    """The service, for a command that changes something: on the embedded store, a data directory that
    takes no writes (read-only, full) is said in one sentence before the models load."""
    from pipelines.disk_faults import check_writable
    from pipelines.settings import get_settings

    if get_settings().store == "memory":
        check_writable(get_settings().data_dir)
    return _service()


def _whoami() -> str:
    """Who runs the command, for "uploaded by" and the audit log: the login name, else "cli"."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "cli"


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _split_tags(raw: str | None) -> list[str]:
    return [tag.strip() for tag in (raw or "").split(",") if tag.strip()]


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.samples import handbook_dir
    from pipelines.sources import expand_paths

    paths = list(args.paths) + ([str(handbook_dir())] if args.samples else [])
    if not paths:
        print("needle ingest: give one or more files or folders, or --samples", file=sys.stderr)
        return EXIT_USAGE
    files = expand_paths(paths)
    if not files:
        print("needle ingest: no supported files found", file=sys.stderr)
        return EXIT_ERROR
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        print(f"needle ingest: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_ERROR
    if args.audience is not None:
        from pipelines.audience import parse_audience

        parse_audience(args.audience)  # a typo fails before any model is loaded or file indexed
    from pipelines.disk_faults import check_writable
    from pipelines.settings import get_settings

    check_writable(get_settings().data_dir)  # read-only or full: say so before any model is loaded
    if args.background:
        return _queue_files(files, args)
    service = _service()
    results = []
    bar = tqdm(
        files, desc="Indexing", unit="file", disable=args.json or not sys.stderr.isatty(), file=sys.stderr
    )
    for number, path in enumerate(bar):
        bar.set_postfix_str(path.name[:30])
        try:
            result = _ingest_one(service, path, args)
        except _StopIngest as stop:
            from pipelines.disk_faults import DataDirectoryError
            from pipelines.file_inspector import safe_file_name

            left = len(files) - number - 1
            if args.json:
                _print_json([result.to_dict() for result in results])
            tail = f" ({left} more {'file' if left == 1 else 'files'} not tried)" if left else ""
            raise DataDirectoryError(stop.fault, f"stopped at {safe_file_name(path.name)}{tail}") from None
        results.append(result)
        if not args.json:
            _print_ingest_result(result)
    if args.json:
        _print_json([result.to_dict() for result in results])
    # A conflict (with --on-conflict report) left a file out, as a rejection does: scripts must notice.
    left_out = ("rejected", "conflict", "failed")
    return EXIT_ERROR if any(result.status in left_out for result in results) else EXIT_OK


class _StopIngest(Exception):
    """The data directory took no more writes: no later file can be indexed either."""

    def __init__(self, fault: Any) -> None:
        super().__init__(fault.sentence())
        self.fault = fault


def _ingest_one(service: Any, path: Any, args: argparse.Namespace) -> Any:
    """One file of ``needle ingest``. A failure of this file (its original cannot be kept, the embedder
    refuses it) becomes a ``failed`` result and the folder goes on; a fault of the data directory (read
    only, full) stops the command, since every later file would meet it too."""
    from pipelines.answers import IngestResult
    from pipelines.disk_faults import disk_fault
    from pipelines.errors import NeedleError
    from pipelines.file_inspector import safe_file_name

    try:
        return service.ingest_file(
            path,
            title=args.title,
            url=args.url,
            tags=None if args.tags is None else _split_tags(args.tags),  # --tags "" clears them
            audience=args.audience,
            uploaded_by=args.uploaded_by,
            on_conflict=args.on_conflict.replace("-", "_"),
        )
    except Exception as error:
        fault = disk_fault(error, service.settings.data_dir)
        if fault is not None:
            raise _StopIngest(fault) from error
        if isinstance(error, NeedleError):
            reason = str(error)
        else:
            logger.info("indexing %s failed", path, exc_info=error)  # shown with -v
            reason = f"an unexpected error ({type(error).__name__}); -v shows the details"
        return IngestResult(safe_file_name(path.name), "failed", reason=reason)


def _queue_files(files: list[Any], args: argparse.Namespace) -> int:
    """``needle ingest --background``: each file becomes a job in the shared queue; a worker (``needle
    serve`` or ``needle worker``, on any replica) indexes it."""
    from pipelines.jobs import JobQueue
    from pipelines.settings import get_settings
    from pipelines.stores import build_record_store

    queue = JobQueue(build_record_store(get_settings()))
    options = {
        "title": args.title,
        "url": args.url,
        "tags": None if args.tags is None else _split_tags(args.tags),
        "audience": args.audience,
        "uploaded_by": args.uploaded_by,
        "on_conflict": args.on_conflict.replace("-", "_"),
    }
    accepted, refused = _within_upload_limit(files, get_settings().max_upload_mb)
    jobs = [
        queue.submit(path.name, path.read_bytes(), submitted_by=args.uploaded_by, **options)
        for path in accepted
    ]
    if args.json:
        _print_json([job.to_dict() for job in jobs])
    for job in [] if args.json else jobs:
        print(f"queued     {job.file_name} as job {job.job_id}")
    for error in refused:
        print(f"rejected   {error.file_name}: {error.reason}", file=sys.stderr)
    if not args.json:
        print("Follow them with: needle jobs list")
    return EXIT_ERROR if refused else EXIT_OK


def _within_upload_limit(files: list[Any], max_upload_mb: float) -> tuple[list[Any], list[Any]]:
    """The files within the upload limit, and the refusals of the others: sizes are checked before any
    file is read, so a file of gigabytes is never loaded into memory or the queue."""
    from pipelines.errors import RejectedFileError
    from pipelines.file_inspector import check_size
    from pipelines.sizes import upload_limit_bytes

    accepted, refused = [], []
    for path in files:
        try:
            check_size(path.name, path.stat().st_size, upload_limit_bytes(max_upload_mb))
        except RejectedFileError as error:
            refused.append(error)
        else:
            accepted.append(path)
    return accepted, refused


def cmd_jobs(args: argparse.Namespace) -> int:
    """Background ingest jobs: list them, cancel one, retry one."""
    from datetime import UTC, datetime

    from pipelines.jobs import JobQueue

    _, audit = _records_only()
    queue = JobQueue(audit.records, audit)
    if args.action == "list":
        jobs = queue.list()
        if args.json:
            _print_json([job.to_dict() for job in jobs])
            return EXIT_OK
        if not jobs:
            print("No jobs. Queue files with: needle ingest --background PATH")
        for job in jobs:
            when = datetime.fromtimestamp(job.created_at, UTC).strftime("%Y-%m-%d %H:%M")
            detail = job.error or (job.result or {}).get("source_id") or ""
            print(f"{job.job_id}  {when}  {job.progress:<22} {job.file_name}  {detail}")
        return EXIT_OK
    if not args.job_id:
        print(f"needle jobs {args.action}: give a job id", file=sys.stderr)
        return EXIT_USAGE
    act = queue.cancel if args.action == "cancel" else queue.retry
    job = act(args.job_id, actor=_whoami())
    state = "cancelling" if job.cancel_requested else job.status
    print(f"{job.job_id}: {state}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    """Work background ingest jobs until stopped (Ctrl-C); run as many as the machines allow."""
    service = _writable_service()
    worker = service.ingest_worker()
    if args.once:
        job = worker.run_once()
        print("no queued job" if job is None else f"{job.job_id}: {job.status}")
        return EXIT_OK
    print(f"ingest worker {worker.name} waiting for jobs (Ctrl-C stops it)", file=sys.stderr)
    worker.run_forever()
    return EXIT_OK


def _print_ingest_result(result: Any) -> None:
    """One line per file on stdout; rejections, conflicts and warnings on stderr, where they stand out."""
    if result.status in ("rejected", "conflict", "failed"):
        print(f"{result.status:<10} {result.file_name}: {result.reason}", file=sys.stderr)
    else:
        status = "replaced" if result.replaced else result.status
        print(f"{status:<10} {result.file_name} -> {result.source_id} ({result.chunks} chunks)")
    for warning in result.warnings:
        print(f"warning    {result.file_name}: {warning}", file=sys.stderr)


def _format_answer(answer: Any) -> str:
    from pipelines.citations import UNCITED_NOTE

    lines = [answer.text, ""]
    related = UNCITED_NOTE if answer.uncited else "Might be related:"
    for heading, citations in (("Sources:", answer.citations), (related, answer.related)):
        if citations:
            lines.append(heading)
            for citation in citations:
                detail = ", ".join(part for part in (citation.location, citation.date_label) if part)
                number = f"[{citation.number}] " if heading == "Sources:" else "- "
                lines.append(f"  {number}{citation.title} ({detail})")
    lines.append(f"trace: {answer.trace_id}")
    return "\n".join(lines)


def _read_questions(path: str) -> list[str]:
    """One question per line: plain text, or JSON objects with a ``question`` field (JSON lines)."""
    from pathlib import Path

    from pipelines.errors import NeedleError

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise NeedleError(f"cannot read {path}: {error}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                questions.append(str(json.loads(line)["question"]))
            except (ValueError, KeyError, TypeError):
                raise NeedleError(f"{path}:{number}: expected a JSON object with a 'question'") from None
        else:
            questions.append(line)
    return questions


def _viewer(args: argparse.Namespace) -> Any:
    """Who the answer is for: an admin at the terminal (every source), or ``--as-user``/``--channel``:
    the sources that person may see there. Group and channel memberships come from Slack, which the core
    does not call: from the command line a user sees sources shared with them directly or with the
    channel given."""
    from pipelines.audience import ADMIN, Viewer

    if not args.as_user and not args.channel:
        return ADMIN
    private = not args.channel or args.channel.startswith("D")
    channel = None if private else args.channel
    return Viewer(user_id=args.as_user, channel_id=channel, private=private)


def cmd_ask(args: argparse.Namespace) -> int:
    if args.questions:
        return _ask_many(args)
    if not args.question:
        print("needle ask: give a question, or --questions FILE", file=sys.stderr)
        return EXIT_USAGE
    service = _service()
    stream = None
    if args.stream and not args.json:

        def stream(text: str) -> None:
            print(text, end="", flush=True, file=sys.stderr)

    answer = service.ask(
        args.question, tags=_split_tags(args.tags), origin="cli", on_text=stream, viewer=_viewer(args)
    )
    if args.json:
        _print_json(answer.to_dict())
    else:
        print(_format_answer(answer))
    return EXIT_OK


def _ask_many(args: argparse.Namespace) -> int:
    """Answer every question of a file in one process; JSON lines (or text blocks) in input order.

    A question that cannot be answered (empty, too long) gets ``{"question", "error"}`` and the rest go on.
    """
    from pipelines.errors import NeedleError

    questions = _read_questions(args.questions)
    service = _service()
    failed = False
    for question in questions:
        try:
            answer = service.ask(question, tags=_split_tags(args.tags), origin="cli", viewer=_viewer(args))
        except NeedleError as error:
            failed = True
            payload: dict[str, Any] = {"question": question, "error": str(error)}
            print(json.dumps(payload, ensure_ascii=False) if args.json else f"Q: {question}\n{error}\n")
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, default=str), flush=True)
        else:
            print(f"Q: {question}\n{_format_answer(answer)}\n", flush=True)
    return EXIT_ERROR if failed else EXIT_OK


def cmd_eval_answers(args: argparse.Namespace) -> int:
    """Measure answers (accuracy, citations, abstention) on a SQuAD file or a Needle question file."""
    from pipelines.answer_eval import load_answer_dataset, run_answer_eval
    from pipelines.evaluation import write_report
    from pipelines.settings import get_settings

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    dataset = load_answer_dataset(args.dataset, args.corpus)
    report = run_answer_eval(dataset, get_settings(), limit=args.limit, progress=say)
    if args.output:
        write_report(args.output, report)
    if not args.cases:
        report = {key: value for key, value in report.items() if key != "cases"}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(
        f"{report['dataset']}: {report['documents']} documents, mode {report['mode']}, "
        f"threshold {report['answerability_threshold']}"
    )
    answerer = "the extract" if report["mode"] == "extract" else "the model"
    print(
        f"{'':<8} {'n':>5} {'accuracy':>9} {'cited':>7} {'abstain':>8} {'false-abst':>10} {'p50 ms':>7} "
        f"{'reached':>9} {'stopped':>9}"
    )
    rows = {**report["languages"], "all": report["overall"]}
    for name, row in rows.items():
        figures = [row[key] for key in ("accuracy", "citation_rate", "abstention", "false_abstention")]
        shown = ["   -" if value is None else f"{value:.3f}" for value in figures]
        reached = f"{row['reached']}/{row['answerable']}"
        stopped = f"{row['stopped']}/{row['unanswerable']}"
        print(
            f"{name:<8} {row['questions']:>5} {shown[0]:>9} {shown[1]:>7} {shown[2]:>8} {shown[3]:>10} "
            f"{row['latency_ms']['p50']:>7} {reached:>9} {stopped:>9}"
        )
    print(
        f"reached: answerable questions the answerability gate let through to {answerer}; "
        "stopped: unanswerable ones it kept from it"
    )
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    sources = _service().list_sources()
    if args.json:
        _print_json([source.to_dict() for source in sources])
        return EXIT_OK
    if not sources:
        print("No sources yet. Add some with: needle ingest PATH")
        return EXIT_OK
    print(f"{'SOURCE ID':<36} {'CHUNKS':>6}  {'TYPE':<8} {'INDEXED':<25} TITLE")
    for source in sources:
        columns = f"{source.source_id:<36} {source.chunks:>6}  {source.file_type:<8} {source.indexed_at:<25}"
        print(f"{columns} {source.title}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    removed = _writable_service().delete_source(args.source_id, actor=args.by)
    print(f"deleted {args.source_id} ({removed} chunks)")
    return EXIT_OK


def cmd_audience(args: argparse.Namespace) -> int:
    """Show or change who may see a source; the chunks are updated in place, nothing is re-indexed."""
    from pipelines.audience import describe

    service = _service()
    if args.members is None:
        found = [s for s in service.list_sources() if s.source_id == args.source_id]
        if not found:
            print(f"needle: no source with id {args.source_id!r}", file=sys.stderr)
            return EXIT_ERROR
        print(f"{args.source_id}: {describe(found[0].audience)}")
        return EXIT_OK
    source = service.set_source_audience(args.source_id, args.members, actor=args.by)
    print(f"{source.source_id}: {describe(source.audience)}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the bundled handbook and answer a few questions from it: the README's first command."""
    from pipelines.audience import ADMIN
    from pipelines.samples import handbook_dir

    service = _service()
    print(f"Indexing the sample handbook from {handbook_dir()} ...")
    for result in service.ingest_paths([handbook_dir()], uploaded_by=_whoami()):
        detail = result.reason if result.status == "rejected" else f"{result.chunks} chunks"
        print(f"  {result.status:<10} {result.file_name} ({detail})")
    for question in args.questions or DEMO_QUESTIONS:
        print(f"\nQ: {question}")
        print(_format_answer(service.ask(question, origin="cli", viewer=ADMIN)))
    stats = service.stats()
    print(
        f"\n{stats['sources']} sources, {stats['chunks']} chunks in {service.settings.data_dir}.\n"
        'Ask your own: needle ask "How do I connect to the VPN?"'
    )
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check every part Needle will use, one line each, and say whether it is ready (see doctor.py)."""
    from pipelines.doctor import format_report, run_doctor
    from pipelines.settings import get_settings

    report = run_doctor(get_settings(), store_smoke=args.store_smoke)
    print(json.dumps(report.as_json()) if args.json else format_report(report))
    return EXIT_OK if report.ready else EXIT_ERROR


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure retrieval on a BEIR-format dataset (see pipelines/evaluation.py)."""
    from pipelines.evaluation import run_eval, write_report
    from pipelines.settings import get_settings

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run_eval(args.dataset, args.split, get_settings(), progress=say)
    if args.output:
        write_report(args.output, report)
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    print(f"{report['dataset']} ({report['split']}, {report['queries']} queries, {report['chunks']} chunks)")
    print(f"{'':<10} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
    for name in ("bm25", "dense", "fused", "reranked"):
        if report[name] is not None:
            row = report[name]
            print(f"{name:<10} {row['ndcg@10']:>8.4f} {row['recall@100']:>8.4f} {row['mrr@10']:>8.4f}")
    print(
        f"indexing {report['index_seconds']} s ({report['chunks_per_second']} chunks/s), "
        f"query p50 {report['query_ms']['p50']} ms, p95 {report['query_ms']['p95']} ms"
    )
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the index under the current settings (new model, analysers, chunking) without downtime.

    With ``--source``, only that source, from its kept original: on Elasticsearch the original lives in
    the cluster, so any replica can re-index a file another one received.
    """
    from pipelines.reindex import reindex

    if args.source:
        if args.delete_old:
            print("needle reindex: --delete-old rebuilds the whole index; not with --source", file=sys.stderr)
            return EXIT_USAGE
        result = _writable_service().reindex_source(args.source, actor=_whoami())
        _print_json(result.to_dict())
        return EXIT_OK
    service = _writable_service()
    report = reindex(service, keep_old=not args.delete_old, progress=lambda m: print(m, file=sys.stderr))
    _print_json(report)
    return EXIT_OK


def _records_only() -> tuple[Any, Any]:
    """Channel settings and the audit log over the configured store, without loading models or the corpus
    (these commands change records only)."""
    from pipelines.audit import AuditLog
    from pipelines.channel_settings import ChannelSettingsStore
    from pipelines.settings import get_settings
    from pipelines.stores import build_record_store

    settings = get_settings()
    audit = AuditLog(build_record_store(settings))
    return ChannelSettingsStore(audit.records, settings, audit), audit


def _yes_no(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return raw.strip().lower() in ("yes", "true", "on", "1")


def _print_channels(channels: list[Any]) -> None:
    header = ("CHANNEL", "NAME", "ON", "FOLLOWUPS", "PRIVATE", "ESCALATE", "TAGS (FROM)")
    rows = [
        (
            c.channel_id,
            (c.name or "-")[:20],
            "yes" if c.enabled else "no",
            c.followups,
            "yes" if c.ephemeral else "no",
            c.escalation_usergroup or "-",
            f"{','.join(c.tags) or 'all sources'} ({c.origin})",
        )
        for c in channels
    ]
    for row in (header, *rows):
        print("{:<14} {:<20} {:<4} {:<13} {:<8} {:<12} {}".format(*row))


def cmd_channels(args: argparse.Namespace) -> int:
    """Per-channel Slack settings: applied to the next question in every process, no restart."""
    from pipelines.channel_settings import ChannelChange

    channels, _ = _records_only()
    actor = args.by or "cli"
    if args.action == "list":
        listed = channels.list()
        if args.json:
            _print_json([c.to_dict() for c in listed])
        elif not listed:
            print("No channel has its own settings; every channel follows the defaults (see the README).")
        else:
            _print_channels(listed)
        return EXIT_OK
    if not args.channel_id:
        print(f"needle channels {args.action}: give a channel id (C0123ABCD)", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "show":
        shown = channels.get(args.channel_id)
        _print_json(shown.to_dict()) if args.json else _print_channels([shown])
        return EXIT_OK
    if args.action == "unset":
        removed = channels.unset(args.channel_id, actor)
        print(f"{args.channel_id}: {'back to the defaults' if removed else 'had no settings of its own'}")
        return EXIT_OK
    change = ChannelChange(
        name=args.name,
        enabled=_yes_no(args.enabled),
        tags=None if args.tags is None else _split_tags(args.tags),
        followups=args.followups,
        ephemeral=_yes_no(args.ephemeral),
        escalation_usergroup=args.escalation,
    )
    updated = channels.set(args.channel_id, change, actor)
    _print_json(updated.to_dict()) if args.json else _print_channels([updated])
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """Read the audit log: newest first, filtered; CSV for spreadsheets."""
    import time

    from pipelines.audit import to_csv

    _, audit = _records_only()
    since = time.time() - args.days * 86400 if args.days else None
    entries = audit.entries(actor=args.actor, action=args.action, since=since, limit=args.limit)
    if args.csv:
        sys.stdout.write(to_csv(entries))
    elif args.json:
        _print_json([entry.__dict__ for entry in entries])
    else:
        from datetime import UTC, datetime

        for entry in entries:
            when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{when}  {entry.actor:<16} {entry.action:<16} {entry.target}")
    return EXIT_OK


def cmd_cases(args: argparse.Namespace) -> int:
    """Retrieval test cases: add, list, remove, import and export (JSON lines)."""
    from pipelines.cases import CaseStore
    from pipelines.settings import get_settings
    from pipelines.stores import build_record_store

    if args.action == "add":
        return _add_case(args)
    if args.action == "import":
        return _import_cases(args)
    cases = CaseStore(build_record_store(get_settings()))
    if args.action == "list":
        listed = cases.list()
        if args.json:
            _print_json([case.to_dict() for case in listed])
        for case in [] if args.json else listed:
            expected = ", ".join(case.expected_chunks or case.expected_sources)
            print(f"{case.case_id}  {case.question}  ->  {expected}")
        if not listed and not args.json:
            print('No test cases yet. Add one: needle cases add "question" --source SOURCE_ID')
    elif args.action == "remove":
        if not cases.remove(args.question or ""):
            print(f"needle: no case {args.question!r}", file=sys.stderr)
            return EXIT_ERROR
        print(f"removed case {args.question}")
    else:  # export
        for line in cases.export_lines():
            print(line)
    return EXIT_OK


def _add_case(args: argparse.Namespace) -> int:
    """``needle cases add``: through :meth:`NeedleService.add_case`, the one check that the expected
    sources are indexed (the console's check too), so a typo cannot store a case no configuration can
    pass. An unknown source id is the caller's input, hence a usage error."""
    from pipelines.cases import RetrievalCase
    from pipelines.errors import SourceNotFoundError

    if not args.question:
        print("needle cases add: give the question", file=sys.stderr)
        return EXIT_USAGE
    case = RetrievalCase(
        question=args.question,
        expected_sources=_split_tags(args.source),
        expected_chunks=_split_tags(args.chunk),
        added_by=args.by,
        note=args.note,
    )
    try:
        added = _service().add_case(case)
    except SourceNotFoundError as error:
        print(f"needle cases add: {error}; nothing added (`needle sources` lists the ids)", file=sys.stderr)
        return EXIT_USAGE
    print(f"added case {added.case_id}")
    return EXIT_OK


def _import_cases(args: argparse.Namespace) -> int:
    """``needle cases import FILE``: through :meth:`NeedleService.import_cases`, so every case passes
    the check ``cases add`` makes. Every bad line is printed as ``FILE:LINE: reason`` (the form editors
    jump to) and nothing is imported, so fixing the file and running the command again is all it takes
    (half a set imported would let a CI comparison pass on the other half). Bad input is a usage error."""
    from pathlib import Path

    from pipelines.cases import CaseImportError

    if not args.question:
        print("needle cases import: give the JSON-lines file of cases", file=sys.stderr)
        return EXIT_USAGE
    try:
        lines = Path(args.question).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        print(f"needle cases import: {args.question} is not UTF-8 text; nothing imported", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"needle cases import: cannot read {args.question}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    try:
        imported = _service().import_cases(lines, added_by=args.by)
    except CaseImportError as error:
        for number, reason in error.problems:
            print(f"{args.question}:{number}: {reason}", file=sys.stderr)
        bad = len({number for number, _ in error.problems})
        print(
            f"needle cases import: {bad} bad line(s) in {args.question}; nothing imported "
            "(`needle sources` lists the source ids)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"imported {len(imported)} cases")
    return EXIT_OK


def _print_comparison(comparison: Any) -> None:
    """The metrics (hit@top_k at each side's own top_k, shown in its label), then each case: ranks,
    whether the answer was found with its expected source cited, and its two traces."""
    names = list(comparison.live_metrics)
    widths = [max(10, len(comparison.metric_label(name))) for name in names]
    labels = (f"{comparison.metric_label(name):>{width}}" for name, width in zip(names, widths, strict=True))
    print(f"{'':<10} " + " ".join(labels))
    for label, metrics in (("live", comparison.live_metrics), ("candidate", comparison.candidate_metrics)):
        figures = (f"{metrics[name]:>{width}.4f}" for name, width in zip(names, widths, strict=True))
        print(f"{label:<10} " + " ".join(figures))
    print()

    def answered(found: bool, answered: bool) -> str:
        return "answered" if answered else ("other source" if found else "not found")

    for case in comparison.cases:
        flag = "  LOST" if case.lost else ""
        ranks = f"{case.live_rank or '-'} -> {case.candidate_rank or '-'}"
        print(f"{case.outcome:<7} {ranks:<10} {case.case_id}  {case.question}{flag}")
        live = answered(case.live_found, case.live_answered)
        candidate = answered(case.candidate_found, case.candidate_answered)
        given = f"{'yes' if case.live_reached else 'no'} -> {'yes' if case.candidate_reached else 'no'}"
        print(f"{'':<18} given to the answerer: {given}; answer: {live} -> {candidate}")
        traces = f"live {case.live_trace_id or '-'}, candidate {case.candidate_trace_id or '-'}"
        print(f"{'':<18} traces: {traces}")


def cmd_compare(args: argparse.Namespace) -> int:
    """Live configuration against a candidate: on the test cases, or on a BEIR dataset (as needle eval)."""
    from pipelines.compare import compare_cases, compare_dataset
    from pipelines.retrieval_config import parse_assignments

    candidate = parse_assignments(args.candidate)
    if args.dataset:
        from pipelines.settings import get_settings

        report = compare_dataset(
            args.dataset, args.split, get_settings(), candidate, progress=lambda m: print(m, file=sys.stderr)
        )
        _print_json(report)
        return EXIT_OK
    service = _service()
    comparison = compare_cases(service, candidate, actor=_whoami())
    if args.json:
        _print_json(_with_trace_links(service.settings, comparison.to_dict()))
    else:
        _print_comparison(comparison)
    return EXIT_ERROR if comparison.lost else EXIT_OK


def _with_trace_links(settings: Any, report: dict[str, Any]) -> dict[str, Any]:
    """Each case's two trace ids with their console links, so a CI log leads straight to the debugger."""
    from pipelines.links import trace_url

    for case in report["cases"]:
        for leg in ("live", "candidate"):
            trace_id = case.get(f"{leg}_trace_id")
            case[f"{leg}_trace_url"] = trace_url(settings, trace_id) if trace_id else None
    return report


def cmd_config(args: argparse.Namespace) -> int:
    """The live retrieval configuration: show, history, promote a candidate, roll back."""
    from datetime import UTC, datetime

    from pipelines.compare import promote
    from pipelines.retrieval_config import effective_values, parse_assignments

    service = _service()
    if args.action == "show":
        live = service.configs.live()
        _print_json(
            {
                "config_id": live.config_id if live else "default",
                "values": effective_values(service.configs.live_settings()),
                "promoted_by": live.promoted_by if live else None,
                "note": live.note if live else "the environment's settings",
            }
        )
    elif args.action == "history":
        for item in service.configs.history():
            when = datetime.fromtimestamp(item.at, UTC).strftime("%Y-%m-%d %H:%M")
            print(f"{item.config_id}  {when}  {item.promoted_by or '-':<12} {item.values}  {item.note}")
    elif args.action == "promote":
        promoted, comparison = promote(
            service, parse_assignments(args.values or ""), args.by, args.note or "", confirm=args.confirm
        )
        if comparison is not None:
            _print_comparison(comparison)
        print(f"promoted {promoted.config_id}: {promoted.values}")
    else:  # rollback
        promoted = service.configs.rollback(args.values or "default", args.by, note=args.note)
        print(f"rolled back: {promoted.config_id} is live with {promoted.values or 'the defaults'}")
    return EXIT_OK


def cmd_why(args: argparse.Namespace) -> int:
    """Why a source or chunk was, or was not, given to the answerer for a question."""
    from pipelines.why import explain, format_explanation

    explanation = explain(
        _service(), args.question, args.target, tags=_split_tags(args.tags), viewer=_viewer(args)
    )
    if args.json:
        _print_json(explanation.to_dict())
    else:
        print(format_explanation(explanation))
    return EXIT_OK


def cmd_admins(args: argparse.Namespace) -> int:
    """Console accounts: add, remove, change a password or a role, list. Passwords are read from the
    terminal (or one line of stdin with --password-stdin), never from the command line."""
    import getpass

    from pipelines.accounts import AccountStore
    from pipelines.errors import NeedleError
    from pipelines.settings import get_settings

    _, audit = _records_only()
    accounts = AccountStore(audit.records, get_settings(), audit)
    if args.action == "list":
        for account in accounts.list():
            origin = " (NEEDLE_ADMIN_USERNAME)" if account.from_environment else ""
            print(f"{account.username:<32} {account.role}{origin}")
        return EXIT_OK
    if not args.username:
        print(f"needle admins {args.action}: give a username", file=sys.stderr)
        return EXIT_USAGE

    def password() -> str:
        if args.password_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != first:
            raise NeedleError("the two passwords differ")
        return first

    if args.action == "add":
        account = accounts.add(args.username, password(), args.role or "viewer", actor=args.by)
        print(f"added {account.username} ({account.role})")
    elif args.action == "remove":
        accounts.remove(args.username, actor=args.by)
        print(f"removed {args.username}")
    elif args.action == "passwd":
        accounts.set_password(args.username, password(), actor=args.by)
        print(f"changed the password of {args.username}")
    else:  # role
        account = accounts.set_role(args.username, args.role or "", actor=args.by)
        print(f"{account.username} is now {account.role}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the HTTP server with every installed face (admin console, Slack bot) over one core."""
    from pipelines import server
    from pipelines.logging_setup import configure_logging
    from pipelines.settings import get_settings

    configure_logging(get_settings(), json_lines=get_settings().log_format == "json")
    service = _service()
    app, faces = server.build_server(service, set(args.faces.split(",")) if args.faces else None)
    settings = service.settings
    problem = service.llm_status.probe()
    if problem:  # answers fall back to extracts meanwhile, so the server still starts
        logger.warning("language model: %s", problem)
        print(f"needle: warning: {problem}; answers are extracts until it is fixed", file=sys.stderr)
    print(f"Needle on http://{settings.host}:{settings.port} with: {', '.join(faces) or 'no faces'}")
    server.run(service, app)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="needle", description="Answers questions from your documents.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="index files or folders (PDF, DOCX, HTML, Markdown, text)")
    ingest.add_argument("paths", nargs="*", metavar="PATH")
    ingest.add_argument("--samples", action="store_true", help="also index the bundled sample handbook")
    ingest.add_argument("--title", help="title for the source (default: the document's own title)")
    ingest.add_argument("--url", help="link shown with citations of this source")
    ingest.add_argument(
        "--tags", help="comma-separated tags for per-channel filters (default: keep the source's; '' clears)"
    )
    ingest.add_argument(
        "--audience",
        help="who may see the sources: 'everyone' (default for new sources) or comma-separated "
        "channel:C…, usergroup:S…, user:U… (default: keep the source's)",
    )
    ingest.add_argument("--uploaded-by", default=_whoami(), help="who added the source")
    ingest.add_argument(
        "--on-conflict",
        choices=["replace", "keep-both", "report"],
        default="replace",
        help="a file named like an indexed source but with other content: replace that source (default, "
        "a new version), keep both (a new source id), or report the conflict and index nothing",
    )
    ingest.add_argument(
        "--background", action="store_true", help="queue the files as jobs for a worker and return at once"
    )
    ingest.add_argument("--json", action="store_true", help="print results as JSON")
    ingest.set_defaults(handler=cmd_ingest)

    ask = commands.add_parser("ask", help="answer a question from the indexed sources")
    ask.add_argument("question", nargs="?")
    ask.add_argument(
        "--questions", metavar="FILE", help="answer every question in FILE (one per line, or JSON lines)"
    )
    ask.add_argument("--tags", help="answer only from sources with any of these comma-separated tags")
    ask.add_argument("--json", action="store_true", help="print the answer, citations and passages as JSON")
    ask.add_argument("--stream", action="store_true", help="show LLM text as it arrives (on stderr)")
    ask.add_argument("--as-user", metavar="USER_ID", help="answer as this Slack user would be answered")
    ask.add_argument(
        "--channel", metavar="CHANNEL_ID", help="answer as if posted in this channel (its audience applies)"
    )
    ask.set_defaults(handler=cmd_ask)

    sources = commands.add_parser("sources", help="list indexed sources with their chunk counts")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(handler=cmd_sources)

    delete = commands.add_parser("delete", help="remove a source and all its chunks")
    delete.add_argument("source_id")
    delete.add_argument("--by", default=_whoami(), help="who deletes it (audit log)")
    delete.set_defaults(handler=cmd_delete)

    audience = commands.add_parser("audience", help="show or change who may see a source (no re-indexing)")
    audience.add_argument("source_id")
    audience.add_argument(
        "members", nargs="?", help="'everyone' or comma-separated channel:C…, usergroup:S…, user:U…"
    )
    audience.add_argument("--by", default=_whoami(), help="who makes the change (audit log)")
    audience.set_defaults(handler=cmd_audience)

    demo = commands.add_parser("demo", help="index the sample handbook and answer questions from it")
    demo.add_argument("questions", nargs="*", metavar="QUESTION")
    demo.set_defaults(handler=cmd_demo)

    evaluate = commands.add_parser("eval", help="measure retrieval on a BEIR-format dataset")
    evaluate.add_argument("--dataset", required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    evaluate.add_argument("--split", default="test", help="qrels file to use (default: test)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--output", help="also write the JSON report to this file")
    evaluate.set_defaults(handler=cmd_eval)

    answers = commands.add_parser(
        "eval-answers", help="measure answers: accuracy, citations and abstention on a question set"
    )
    answers.add_argument("--dataset", required=True, help="a SQuAD .json file or a Needle .jsonl file")
    answers.add_argument("--corpus", help="folder of documents for a .jsonl question file")
    answers.add_argument("--limit", type=int, help="ask at most this many questions (a fixed sample)")
    answers.add_argument("--json", action="store_true", help="print one JSON object")
    answers.add_argument("--cases", action="store_true", help="include every question's answer in the JSON")
    answers.add_argument("--output", help="write the JSON report, every question included, to this file")
    answers.set_defaults(handler=cmd_eval_answers)

    reindex = commands.add_parser("reindex", help="rebuild the index under the current settings, no downtime")
    reindex.add_argument("--delete-old", action="store_true", help="delete the previous Elasticsearch index")
    reindex.add_argument(
        "--source", metavar="SOURCE_ID", help="re-index only this source, from its kept original file"
    )
    reindex.set_defaults(handler=cmd_reindex)

    channels = commands.add_parser("channels", help="per-channel Slack settings (no restart needed)")
    channels.add_argument("action", choices=["list", "show", "set", "unset"])
    channels.add_argument("channel_id", nargs="?", metavar="CHANNEL_ID", help="a Slack channel id, C0123ABCD")
    channels.add_argument("--name", help="the channel's name, for people reading the list")
    channels.add_argument("--enabled", choices=["yes", "no"], help="whether Needle answers in the channel")
    channels.add_argument(
        "--tags", help="answer only from sources with these comma-separated tags ('' = all)"
    )
    channels.add_argument(
        "--followups", choices=["questions", "all", "mention-only"], help="later messages in answered threads"
    )
    channels.add_argument(
        "--ephemeral", choices=["yes", "no"], help="answers only the asker sees, by default"
    )
    channels.add_argument(
        "--escalation", metavar="USERGROUP_ID", help="user group for 'Ask a person' ('' = none)"
    )
    channels.add_argument("--by", default=_whoami(), help="who makes the change (audit log)")
    channels.add_argument("--json", action="store_true")
    channels.set_defaults(handler=cmd_channels)

    audit = commands.add_parser("audit", help="read the audit log of admin changes")
    audit.add_argument("--actor", help="only changes by this person")
    audit.add_argument("--action", help="only this action, e.g. channel.set, source.delete")
    audit.add_argument("--days", type=float, help="only the last N days")
    audit.add_argument("--limit", type=int, default=200)
    audit.add_argument("--csv", action="store_true", help="print CSV")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(handler=cmd_audit)

    cases = commands.add_parser("cases", help="retrieval test cases: add, list, remove, import, export")
    cases.add_argument("action", choices=["add", "list", "remove", "import", "export"])
    cases.add_argument(
        "question", nargs="?", help="the question (add), a case id (remove) or a file (import)"
    )
    cases.add_argument("--source", help="comma-separated source ids that should answer it")
    cases.add_argument("--chunk", help="comma-separated chunk ids that should answer it")
    cases.add_argument("--note", help="why this case matters")
    cases.add_argument("--by", default=_whoami(), help="who adds it")
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(handler=cmd_cases)

    compare = commands.add_parser("compare", help="the live retrieval configuration against a candidate")
    compare.add_argument("--cases", action="store_true", help="run the test cases (the default)")
    compare.add_argument("--dataset", help="a BEIR folder: run needle eval under both configurations instead")
    compare.add_argument("--split", default="test")
    compare.add_argument("--candidate", required=True, help="KEY=VALUE,... e.g. dense_weight=0,fusion=rrf")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=cmd_compare)

    config = commands.add_parser("config", help="the live retrieval configuration: show, promote, roll back")
    config.add_argument("action", choices=["show", "history", "promote", "rollback"])
    config.add_argument("values", nargs="?", help="KEY=VALUE,... (promote) or a configuration id (rollback)")
    config.add_argument("--note", help="why (kept with the promotion)")
    config.add_argument("--confirm", action="store_true", help="promote even if the candidate loses cases")
    config.add_argument("--by", default=_whoami(), help="who promotes (audit log)")
    config.set_defaults(handler=cmd_config)

    why = commands.add_parser("why", help="why a source or chunk was (not) retrieved for a question")
    why.add_argument("question")
    why.add_argument("target", metavar="SOURCE_OR_CHUNK_ID")
    why.add_argument("--tags", help="the question's tag filter (comma-separated), as a channel's")
    why.add_argument("--as-user", metavar="USER_ID", help="explain for this Slack user's view")
    why.add_argument("--channel", metavar="CHANNEL_ID", help="explain for an answer posted in this channel")
    why.add_argument("--json", action="store_true")
    why.set_defaults(handler=cmd_why)

    admins = commands.add_parser("admins", help="console accounts and roles: add, remove, passwd, role, list")
    admins.add_argument("action", choices=["add", "remove", "passwd", "role", "list"])
    admins.add_argument("username", nargs="?")
    admins.add_argument(
        "--role", choices=["viewer", "editor", "owner"], help="for add (default viewer) and role"
    )
    admins.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    admins.add_argument("--by", default=_whoami(), help="who makes the change (audit log)")
    admins.set_defaults(handler=cmd_admins)

    jobs = commands.add_parser("jobs", help="background ingest jobs: list, cancel, retry")
    jobs.add_argument("action", choices=["list", "cancel", "retry"])
    jobs.add_argument("job_id", nargs="?")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(handler=cmd_jobs)

    worker = commands.add_parser("worker", help="index queued background jobs until stopped")
    worker.add_argument("--once", action="store_true", help="run at most one job, then exit")
    worker.set_defaults(handler=cmd_worker)

    doctor = commands.add_parser(
        "doctor", help="check the store, embedder, LLM, Slack and console where Needle will run"
    )
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    doctor.add_argument(
        "--store-smoke",
        action="store_true",
        help="on Elasticsearch: index the sample handbook into a temporary index, compare answers with "
        "the embedded store, delete the index",
    )
    doctor.set_defaults(handler=cmd_doctor)
    serve = commands.add_parser("serve", help="run the admin console and, when configured, the Slack bot")
    serve.add_argument("--faces", help="comma-separated faces to mount (default: all installed)")
    serve.set_defaults(handler=cmd_serve)
    return parser


def _data_dir() -> Any:
    """The configured data directory, or ``None`` when the settings cannot be read."""
    from pipelines.settings import get_settings

    try:
        return get_settings().data_dir
    except Exception:  # the settings' own error is reported by the command
        return None


class _SentencesNotTracebacks(logging.Filter):
    """Without ``-v`` the terminal gets sentences, not tracebacks. A failure logged on its way up that is
    a fault of the data directory is left out (the command ends by saying it, once); any other logged
    failure shows as its message and the exception's type. ``-v`` shows everything."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pipelines.disk_faults import disk_fault

        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        if disk_fault(error, _data_dir()) is not None:
            return False
        record.msg = f"{record.getMessage()} ({type(error).__name__}; -v shows the details)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def main(argv: Sequence[str] | None = None) -> int:
    from pipelines.private_files import make_files_private

    _quiet_libraries()
    make_files_private()
    args = build_parser().parse_args(argv)
    terminal = logging.StreamHandler(sys.stderr)
    if not args.verbose:
        terminal.addFilter(_SentencesNotTracebacks())
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[terminal],
    )
    from pipelines.disk_faults import DataDirectoryError, disk_fault
    from pipelines.errors import NeedleError
    from pipelines.models import ModelNotFoundError
    from pipelines.settings import SettingsError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (SettingsError, ModelNotFoundError, NeedleError) as error:
        fault = None if isinstance(error, DataDirectoryError) else disk_fault(error, _data_dir())
        print(f"needle: {fault.sentence() if fault else error}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, sqlite3.Error) as error:
        # A read-only or full filesystem under the data directory: one sentence, no traceback.
        fault = disk_fault(error, _data_dir())
        if fault is None:
            raise
        logger.debug("data directory fault", exc_info=True)
        print(f"needle: {fault.sentence()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
