"""Connectors in words: durations, the next run, a sync's counts, the "needs confirmation" sentence.

``needle connectors`` and the console's Connectors tab say the same things the same way; both call here.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from pipelines.base.errors import NeedleError
from pipelines.connectors.manager import ConnectorStatus
from pipelines.connectors.state import Confirmation, SyncRun

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_duration(raw: str) -> int:
    """``30m``, ``1h``, ``24h``, ``7d`` (or plain seconds) -> seconds. :raises NeedleError: anything else."""
    found = _DURATION.match(raw or "")
    if not found:
        raise NeedleError(f"{raw!r} is not a duration: write it like 30m, 1h, 24h or 7d")
    return int(found.group(1)) * _UNITS[found.group(2) or "s"]


def format_duration(seconds: float) -> str:
    """The largest whole unit: 3600 -> ``1h``, 5400 -> ``90m``, 604800 -> ``7d``."""
    seconds = int(seconds)
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def when(moment: float | None) -> str:
    """Seconds since the epoch as ``YYYY-MM-DD HH:MM UTC``; blank for none."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def next_run_words(status: ConnectorStatus, now: float | None = None) -> str:
    """ "paused", "running now", "due now (a worker picks it up)" or the time of the next sync."""
    now = time.time() if now is None else now
    if status.running:
        return f"running now ({status.running})"
    if status.next_run is None:
        return "paused"
    if status.next_run <= now:
        return "due now (a running worker starts it)"
    return f"{when(status.next_run)} (in {_ago(status.next_run - now)})"


def state_words(status: ConnectorStatus) -> str:
    """One word or two for a listing: what an admin must look at first."""
    if status.needs_confirmation is not None:
        return "needs confirmation"
    if status.running:
        return "syncing"
    if status.config.paused:
        return "paused"
    last = status.last_run
    if last is None:
        return "never synced"
    return last.status


def counts(run: SyncRun) -> str:
    return (
        f"{run.added} added, {run.changed} changed, {run.unchanged} unchanged, "
        f"{run.removed} removed, {run.failed} failed"
    )


def duration_of(run: SyncRun) -> str:
    return "" if run.finished is None else f"{max(run.finished - run.started, 0.0):.1f}s"


def last_error(status: ConnectorStatus) -> str | None:
    """Why the newest sync that stopped on an error stopped, when it is also the newest sync."""
    last = status.last_run
    return last.error if last is not None and last.error else None


def confirmation_sentence(name: str, pending: Confirmation) -> str:
    """What the "needs confirmation" prompt says: the counts, what confirming and dismissing do."""
    missing = len(pending.missing)
    return (
        f"The last sync of {name!r} listed {pending.listed} "
        f"{'document' if pending.listed == 1 else 'documents'} where the last good sync saw "
        f"{pending.last_good}, so it removed nothing. Confirm to remove the {missing} "
        f"{'document' if missing == 1 else 'documents'} no longer listed; dismiss to keep them "
        "(the next sync judges again)."
    )


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
