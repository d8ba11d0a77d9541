"""What every command group shares: exit codes, the service, who runs the command, JSON output."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

logger = logging.getLogger("needle")


def quiet_libraries() -> None:
    """Keep model-loading progress bars and library chatter out of the CLI's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")


def service() -> Any:
    from pipelines.base.settings import get_settings
    from pipelines.service.facade import NeedleService

    return NeedleService(get_settings())


def writable_service() -> Any:
    """The service, for a command that changes something: on the embedded store, a data directory that
    takes no writes (read-only, full) is said in one sentence before the models load."""
    from pipelines.base.disk_faults import check_writable
    from pipelines.base.settings import get_settings

    if get_settings().store == "memory":
        check_writable(get_settings().data_dir)
    return service()


def whoami() -> str:
    """Who runs the command, for "uploaded by" and the audit log: the login name, else "cli"."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "cli"


def print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def split_tags(raw: str | None) -> list[str]:
    return [tag.strip() for tag in (raw or "").split(",") if tag.strip()]


def data_dir() -> Any:
    """The configured data directory, or ``None`` when the settings cannot be read."""
    from pipelines.base.settings import get_settings

    try:
        return get_settings().data_dir
    except Exception:  # the settings' own error is reported by the command
        return None


def records_only() -> tuple[Any, Any]:
    """Channel settings and the audit log over the configured store, without loading models or the corpus
    (these commands change records only)."""
    from pipelines.base.settings import get_settings
    from pipelines.records.audit import AuditLog
    from pipelines.records.channel_settings import ChannelSettingsStore
    from pipelines.stores import build_record_store

    settings = get_settings()
    audit = AuditLog(build_record_store(settings))
    return ChannelSettingsStore(audit.records, settings, audit), audit


def yes_no(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return raw.strip().lower() in ("yes", "true", "on", "1")


def viewer(args: argparse.Namespace, service: Any = None) -> Any:
    """Who the answer is for: an admin at the terminal (every source), or ``--as-user``/``--channel``:
    the sources that person may see there. A private answer's group and channel memberships come from
    Slack when a bot token is set and ``service`` is given (as the bot asks them); without, a user sees
    sources shared with them directly or with the channel given."""
    from pipelines.records.audience import ADMIN, Viewer

    if not args.as_user and not args.channel:
        return ADMIN
    private = not args.channel or args.channel.startswith("D")
    channel = None if private else args.channel
    if private and args.as_user and service is not None:
        from pipelines.connectors.directory import slack_viewer

        principals = {member for source in service.current_sources() for member in source.audience}
        found = slack_viewer(service.settings, args.as_user, principals)
        if found is not None:
            for problem in found[1]:
                print(f"needle: counted as not a member of {problem}", file=sys.stderr)
            return found[0]
    return Viewer(user_id=args.as_user, channel_id=channel, private=private)
