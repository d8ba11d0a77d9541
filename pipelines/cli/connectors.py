"""Connectors: ``needle connectors add|list|show|sync|pause|resume|confirm|dismiss|remove``.

A thin layer over :class:`pipelines.connectors.manager.ConnectorManager` (``service.connectors``): every
change is audited there, as the person running the command. ``sync`` runs in the foreground with a
progress bar on stderr, or ``--background`` queues it for a worker like ``needle ingest --background``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_ERROR, EXIT_OK

#: Placeholder in ``add --help`` replaced by the kinds and their settings when the help is printed, so
#: the connector modules are imported only then, not on every ``needle`` command.
_KINDS_HELP = "<connector kinds>"


class _KindsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    def add_text(self, text: str | None) -> None:
        super().add_text(kinds_help() if text == _KINDS_HELP else text)


def kinds_help() -> str:
    """Every connector kind with its settings (``--set key=value``), defaults and credentials."""
    from pipelines.connectors.describe import format_duration
    from pipelines.connectors.manager import ConnectorManager

    lines = ["kinds and their settings (--set key=value):"]
    for kind, cls in ConnectorManager.kinds().items():
        lines.append(f"  {kind} (syncs every {format_duration(cls.default_interval)} unless --every)")
        for key, description in cls.settings.items():
            required = " (required)" if key in cls.required_settings else ""
            lines.append(f"    {key:<12} {description}{required}")
        for key, description in cls.secret_settings.items():
            lines.append(f"    secret {key}: {description}; set NEEDLE_CONNECTOR_<NAME>_{key.upper()}")
    return "\n".join(lines)


def _manager() -> Any:
    return common.writable_service().connectors


def _settings(pairs: list[str] | None) -> dict[str, str]:
    from pipelines.base.errors import NeedleError

    settings: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise NeedleError(f"--set takes key=value (e.g. --set path=/mnt/share), not {pair!r}")
        settings[key.strip()] = value
    return settings


def cmd_add(args: argparse.Namespace) -> int:
    from pipelines.connectors.describe import format_duration, parse_duration

    interval = parse_duration(args.every) if args.every else None  # a typo fails before anything loads
    manager = _manager()
    config = manager.create(
        args.kind,
        args.name,
        _settings(args.set),
        interval=interval,
        audience=args.audience,
        actor=common.whoami(),
    )
    if args.json:
        common.print_json(config.to_dict())
        return EXIT_OK
    print(f"added {config.kind} connector {config.name}, syncing every {format_duration(config.interval)}")
    print(f"Sync it now with: needle connectors sync {config.name}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from pipelines.connectors.describe import format_duration, next_run_words, state_words

    statuses = common.service().connectors.list()
    if args.json:
        common.print_json([status.to_dict() for status in statuses])
        return EXIT_OK
    if not statuses:
        print("No connectors. Add one with: needle connectors add KIND NAME --set key=value")
        return EXIT_OK
    print(f"{'NAME':<24} {'KIND':<8} {'EVERY':<6} {'DOCS':>5}  {'STATE':<20} NEXT RUN")
    for status in statuses:
        config = status.config
        print(
            f"{config.name:<24} {config.kind:<8} {format_duration(config.interval):<6} "
            f"{status.documents:>5}  {state_words(status):<20} {next_run_words(status)}"
        )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from pipelines.connectors import describe
    from pipelines.connectors.manager import secret_variable
    from pipelines.records.audience import describe as audience_words

    status = common.service().connectors.show(args.name, history=args.history)
    if args.json:
        common.print_json(status.to_dict())
        return EXIT_OK
    config = status.config
    print(f"{config.name} ({config.kind} connector), {describe.state_words(status)}")
    print(f"  every:        {describe.format_duration(config.interval)}")
    print(f"  audience:     {audience_words(config.audience)}")
    for key, value in sorted(config.config.items()):
        print(f"  {key + ':':<13} {value}")
    for key, present in status.secrets.items():
        where = secret_variable(config.name, key)
        print(f"  secret {key}: {'set' if present else f'MISSING (set {where})'}")
    print(f"  documents:    {status.documents}")
    print(f"  next run:     {describe.next_run_words(status)}")
    error = describe.last_error(status)
    if error:
        print(f"  last error:   {error}")
    if status.needs_confirmation is not None:
        print(
            f"  NEEDS CONFIRMATION: {describe.confirmation_sentence(config.name, status.needs_confirmation)}"
        )
        print(f"    needle connectors confirm {config.name}   |   needle connectors dismiss {config.name}")
    if status.unmapped:
        print("  unmapped principals (they grant nothing until mapped to Slack users):")
        for principal, documents in sorted(status.unmapped.items()):
            print(f"    {principal} ({documents} {'document' if documents == 1 else 'documents'})")
    if not status.runs:
        print(f"Never synced. Sync it now with: needle connectors sync {config.name}")
        return EXIT_OK
    print("Last syncs:")
    print(
        f"  {'STARTED':<20} {'STATUS':<19} {'ADDED':>5} {'CHANGED':>7} {'SAME':>5} {'REMOVED':>7} "
        f"{'FAILED':>6} {'TOOK':>7}  BY"
    )
    for run in status.runs:
        print(
            f"  {describe.when(run.started):<20} {run.status:<19} {run.added:>5} {run.changed:>7} "
            f"{run.unchanged:>5} {run.removed:>7} {run.failed:>6} {describe.duration_of(run):>7}  "
            f"{run.actor or ''}"
        )
    failures = status.runs[0].failures
    if failures:
        print("Documents the last sync could not index:")
        for failure in failures:
            print(f"  {failure.title or failure.id}: {failure.reason}")
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.connectors.describe import counts

    service = common.writable_service()
    if args.background:
        from pipelines.connectors.schedule import queue_sync

        job = queue_sync(service.connectors, service.jobs, args.name, common.whoami())
        if args.json:
            common.print_json(job.to_dict())
        else:
            print(f"queued a sync of {args.name} as job {job.job_id}; follow it with: needle jobs list")
        return EXIT_OK
    run = service.connectors.sync(args.name, actor=common.whoami(), progress=_progress_bar(args))
    if args.json:
        common.print_json(run.to_dict())
    else:
        print(f"{run.status}: {counts(run)}")
        if run.error:
            print(f"needle: {run.error}", file=sys.stderr)
        for failure in run.failures:
            print(f"failed     {failure.title or failure.id}: {failure.reason}", file=sys.stderr)
        if run.status == "needs-confirmation":
            print(f"See `needle connectors show {args.name}`, then confirm or dismiss.", file=sys.stderr)
    return EXIT_ERROR if run.status in ("failed", "partial") else EXIT_OK


class _Bar:
    """The sync's progress on stderr (documents done of listed); silent when stderr is not a terminal."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name = name
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"Syncing {self.name}", unit="doc", file=sys.stderr)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()
        if done >= total:
            self.bar.close()


def _progress_bar(args: argparse.Namespace) -> _Bar:
    return _Bar(args.name, quiet=args.json or not sys.stderr.isatty())


def _say(args: argparse.Namespace, payload: dict[str, Any], sentence: str) -> int:
    """A change's outcome: the sentence, or with ``--json`` the payload."""
    if args.json:
        common.print_json(payload)
    else:
        print(sentence)
    return EXIT_OK


def cmd_pause(args: argparse.Namespace) -> int:
    config = _manager().pause(args.name, actor=common.whoami())
    return _say(args, config.to_dict(), f"paused {args.name}: no sync runs until you resume it")


def cmd_resume(args: argparse.Namespace) -> int:
    from pipelines.connectors.describe import next_run_words

    manager = _manager()
    config = manager.resume(args.name, actor=common.whoami())
    next_run = next_run_words(manager.show(args.name, history=1))
    return _say(args, config.to_dict(), f"resumed {args.name}; next run: {next_run}")


def cmd_confirm(args: argparse.Namespace) -> int:
    removed = _manager().confirm(args.name, actor=common.whoami())
    sentence = f"confirmed: removed {removed} {'document' if removed == 1 else 'documents'} of {args.name}"
    return _say(args, {"connector": args.name, "removed": removed}, sentence)


def cmd_dismiss(args: argparse.Namespace) -> int:
    _manager().dismiss(args.name, actor=common.whoami())
    sentence = f"dismissed: {args.name} keeps every document; the next sync judges again"
    return _say(args, {"connector": args.name, "dismissed": True}, sentence)


def cmd_remove(args: argparse.Namespace) -> int:
    from pipelines.base.errors import NeedleError

    manager = _manager()
    status = manager.show(args.name, history=1)
    delete = True if args.delete_sources else False if args.keep_sources else None
    if delete is None:
        if not sys.stdin.isatty():
            raise NeedleError(
                "say what becomes of the connector's sources: --keep-sources (they stay as ordinary "
                "sources) or --delete-sources (they leave the index)"
            )
        delete = _ask_delete(args.name, status.documents)
        if delete is None:
            print("nothing removed")
            return EXIT_OK
    count = manager.remove(args.name, delete_sources=delete, actor=common.whoami())
    what = "deleted" if delete else "kept as ordinary sources"
    sentence = f"removed connector {args.name}; {count} {'source' if count == 1 else 'sources'} {what}"
    return _say(args, {"connector": args.name, "sources": count, "sources_deleted": delete}, sentence)


def _ask_delete(name: str, documents: int) -> bool | None:
    """Ask at the terminal: ``True`` delete the sources, ``False`` keep them, ``None`` cancel."""
    question = (
        f"The connector {name} keeps {documents} sources in the index. [k]eep them as ordinary sources, "
        "[d]elete them, or [c]ancel? "
    )
    while True:
        try:
            answer = input(question).strip().lower()
        except EOFError:
            return None
        if answer in ("k", "keep"):
            return False
        if answer in ("d", "delete"):
            return True
        if answer in ("c", "cancel", ""):
            return None


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
    group = commands.add_parser(
        "connectors", help="keep sources in sync with where documents live (web, folders, Slack)"
    )
    actions = group.add_subparsers(dest="connectors_command", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="add a connector (nothing is synced until `sync` or its first scheduled run)",
        epilog=_KINDS_HELP,
        formatter_class=_KindsHelpFormatter,
    )
    add.add_argument("kind", metavar="KIND")
    add.add_argument("name", metavar="NAME", help="lower-case letters, digits and dashes, e.g. hr-share")
    add.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a setting of the kind (repeat for more)"
    )
    add.add_argument("--every", metavar="DURATION", help="how often it syncs: 30m, 1h, 24h, 7d")
    add.add_argument(
        "--audience",
        help="who may see its documents where the source says nothing: 'everyone' (default) or "
        "comma-separated channel:C…, usergroup:S…, user:U…",
    )
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="every connector with its state and next run")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="settings, secrets set, last syncs, errors, failed documents")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--history", type=int, default=10, help="how many past syncs (default 10)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)

    sync = actions.add_parser("sync", help="sync now, in the foreground with a progress bar")
    sync.add_argument("name", metavar="NAME")
    sync.add_argument("--background", action="store_true", help="queue it as a job for a worker instead")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler=cmd_sync)

    for action, handler, text in (
        ("pause", cmd_pause, "stop its scheduled syncs"),
        ("resume", cmd_resume, "restart its scheduled syncs"),
        ("confirm", cmd_confirm, "accept a shrunken listing: remove the documents it no longer lists"),
        ("dismiss", cmd_dismiss, "reject a shrunken listing: keep every document"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)

    remove = actions.add_parser("remove", help="remove a connector; asks whether to keep its sources")
    remove.add_argument("name", metavar="NAME")
    choice = remove.add_mutually_exclusive_group()
    choice.add_argument("--keep-sources", action="store_true", help="they stay as ordinary sources")
    choice.add_argument("--delete-sources", action="store_true", help="they leave the index")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(handler=cmd_remove)
