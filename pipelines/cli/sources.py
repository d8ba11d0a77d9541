"""Sources and indexing: ``ingest``, ``sources``, ``delete``, ``audience``, ``reindex``, ``jobs``,
``worker``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, logger


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.indexing.sources import expand_paths
    from pipelines.samples import handbook_dir

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
        from pipelines.records.audience import parse_audience

        parse_audience(args.audience)  # a typo fails before any model is loaded or file indexed
    from pipelines.base.disk_faults import check_writable
    from pipelines.base.settings import get_settings

    check_writable(get_settings().data_dir)  # read-only or full: say so before any model is loaded
    if args.background:
        return _queue_files(files, args)
    service = common.service()
    results = []
    bar = tqdm(
        files, desc="Indexing", unit="file", disable=args.json or not sys.stderr.isatty(), file=sys.stderr
    )
    for number, path in enumerate(bar):
        bar.set_postfix_str(path.name[:30])
        try:
            result = _ingest_one(service, path, args)
        except _StopIngest as stop:
            from pipelines.base.disk_faults import DataDirectoryError
            from pipelines.indexing.file_inspector import safe_file_name

            left = len(files) - number - 1
            if args.json:
                common.print_json([result.to_dict() for result in results])
            tail = f" ({left} more {'file' if left == 1 else 'files'} not tried)" if left else ""
            raise DataDirectoryError(stop.fault, f"stopped at {safe_file_name(path.name)}{tail}") from None
        results.append(result)
        if not args.json:
            _print_ingest_result(result)
    if args.json:
        common.print_json([result.to_dict() for result in results])
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
    from pipelines.base.disk_faults import disk_fault
    from pipelines.base.errors import NeedleError
    from pipelines.indexing.file_inspector import safe_file_name
    from pipelines.records.answers import IngestResult

    try:
        return service.ingest_file(
            path,
            title=args.title,
            url=args.url,
            tags=None if args.tags is None else common.split_tags(args.tags),  # --tags "" clears them
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
    from pipelines.base.settings import get_settings
    from pipelines.records.jobs import JobQueue
    from pipelines.stores import build_record_store

    queue = JobQueue(build_record_store(get_settings()))
    options = {
        "title": args.title,
        "url": args.url,
        "tags": None if args.tags is None else common.split_tags(args.tags),
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
        common.print_json([job.to_dict() for job in jobs])
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
    from pipelines.base.errors import RejectedFileError
    from pipelines.base.sizes import upload_limit_bytes
    from pipelines.indexing.file_inspector import check_size

    accepted, refused = [], []
    for path in files:
        try:
            check_size(path.name, path.stat().st_size, upload_limit_bytes(max_upload_mb))
        except RejectedFileError as error:
            refused.append(error)
        else:
            accepted.append(path)
    return accepted, refused


def _print_ingest_result(result: Any) -> None:
    """One line per file on stdout; rejections, conflicts and warnings on stderr, where they stand out."""
    if result.status in ("rejected", "conflict", "failed"):
        print(f"{result.status:<10} {result.file_name}: {result.reason}", file=sys.stderr)
    else:
        status = "replaced" if result.replaced else result.status
        print(f"{status:<10} {result.file_name} -> {result.source_id} ({result.chunks} chunks)")
    for warning in result.warnings:
        print(f"warning    {result.file_name}: {warning}", file=sys.stderr)


def cmd_sources(args: argparse.Namespace) -> int:
    sources = common.service().list_sources()
    if args.json:
        common.print_json([source.to_dict() for source in sources])
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
    removed = common.writable_service().delete_source(args.source_id, actor=args.by)
    print(f"deleted {args.source_id} ({removed} chunks)")
    return EXIT_OK


def cmd_audience(args: argparse.Namespace) -> int:
    """Show or change who may see a source; the chunks are updated in place, nothing is re-indexed."""
    from pipelines.records.audience import describe

    service = common.service()
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


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the index under the current settings (new model, analysers, chunking) without downtime.

    With ``--source``, only that source, from its kept original: on Elasticsearch the original lives in
    the cluster, so any replica can re-index a file another one received.
    """
    from pipelines.service.reindex import reindex

    if args.source:
        if args.delete_old:
            print("needle reindex: --delete-old rebuilds the whole index; not with --source", file=sys.stderr)
            return EXIT_USAGE
        result = common.writable_service().reindex_source(args.source, actor=common.whoami())
        common.print_json(result.to_dict())
        return EXIT_OK
    service = common.writable_service()
    report = reindex(service, keep_old=not args.delete_old, progress=lambda m: print(m, file=sys.stderr))
    common.print_json(report)
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    """Background jobs (uploads and connector syncs): list them, cancel one, retry one."""
    from datetime import UTC, datetime

    from pipelines.records.jobs import JobQueue

    _, audit = common.records_only()
    queue = JobQueue(audit.records, audit)
    if args.action == "list":
        jobs = queue.list()
        if args.json:
            common.print_json([job.to_dict() for job in jobs])
            return EXIT_OK
        if not jobs:
            print("No jobs. Queue files with: needle ingest --background PATH")
        for job in jobs:
            when = datetime.fromtimestamp(job.created_at, UTC).strftime("%Y-%m-%d %H:%M")
            detail = job.error or (job.result or {}).get("source_id") or ""
            if job.kind == "sync" and job.status == "done":
                counts = {"added": 0, "changed": 0, "removed": 0, "failed": 0, **(job.result or {})}
                detail = "{added} added, {changed} changed, {removed} removed, {failed} failed".format(
                    **counts
                )
            print(f"{job.job_id}  {when}  {job.progress:<22} {job.file_name}  {detail}")
        return EXIT_OK
    if not args.job_id:
        print(f"needle jobs {args.action}: give a job id", file=sys.stderr)
        return EXIT_USAGE
    act = queue.cancel if args.action == "cancel" else queue.retry
    job = act(args.job_id, actor=common.whoami())
    state = "cancelling" if job.cancel_requested else job.status
    print(f"{job.job_id}: {state}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    """Work background jobs (uploads, connector syncs) until stopped (Ctrl-C), queueing syncs as they
    fall due; run as many as the machines allow."""
    service = common.writable_service()
    worker = service.ingest_worker()
    if args.once:
        job = worker.run_once()
        print("no queued job" if job is None else f"{job.job_id}: {job.status}")
        return EXIT_OK
    print(f"worker {worker.name} waiting for jobs and due syncs (Ctrl-C stops it)", file=sys.stderr)
    worker.run_forever()
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
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
    ingest.add_argument("--uploaded-by", default=common.whoami(), help="who added the source")
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

    sources = commands.add_parser("sources", help="list indexed sources with their chunk counts")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(handler=cmd_sources)

    delete = commands.add_parser("delete", help="remove a source and all its chunks")
    delete.add_argument("source_id")
    delete.add_argument("--by", default=common.whoami(), help="who deletes it (audit log)")
    delete.set_defaults(handler=cmd_delete)

    audience = commands.add_parser("audience", help="show or change who may see a source (no re-indexing)")
    audience.add_argument("source_id")
    audience.add_argument(
        "members", nargs="?", help="'everyone' or comma-separated channel:C…, usergroup:S…, user:U…"
    )
    audience.add_argument("--by", default=common.whoami(), help="who makes the change (audit log)")
    audience.set_defaults(handler=cmd_audience)

    reindex = commands.add_parser("reindex", help="rebuild the index under the current settings, no downtime")
    reindex.add_argument("--delete-old", action="store_true", help="delete the previous Elasticsearch index")
    reindex.add_argument(
        "--source", metavar="SOURCE_ID", help="re-index only this source, from its kept original file"
    )
    reindex.set_defaults(handler=cmd_reindex)

    jobs = commands.add_parser("jobs", help="background ingest jobs: list, cancel, retry")
    jobs.add_argument("action", choices=["list", "cancel", "retry"])
    jobs.add_argument("job_id", nargs="?")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(handler=cmd_jobs)

    worker = commands.add_parser(
        "worker", help="run queued background jobs and due connector syncs until stopped"
    )
    worker.add_argument("--once", action="store_true", help="run at most one job, then exit")
    worker.set_defaults(handler=cmd_worker)
