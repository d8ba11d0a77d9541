"""The ``needle`` command: one module per command group, composed here.

Results go to stdout (``--json`` for scripts), errors to stderr with a non-zero exit status. A new group is
a module with an ``add_commands(commands)`` function, listed in :data:`COMMAND_GROUPS`.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from pipelines.cli import asking, common, connectors, governance, knowledge, lab, serving, sources
from pipelines.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, logger

__all__ = ["COMMAND_GROUPS", "EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

#: The command groups, in the order ``needle --help`` lists them.
COMMAND_GROUPS: tuple[ModuleType, ...] = (sources, connectors, asking, knowledge, lab, governance, serving)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="needle", description="Answers questions from your documents.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_commands(commands)
    return parser


class _SentencesNotTracebacks(logging.Filter):
    """Without ``-v`` the terminal gets sentences, not tracebacks. A failure logged on its way up that is
    a fault of the data directory is left out (the command ends by saying it, once); any other logged
    failure shows as its message and the exception's type. ``-v`` shows everything."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pipelines.base.disk_faults import disk_fault

        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        if disk_fault(error, common.data_dir()) is not None:
            return False
        record.msg = f"{record.getMessage()} ({type(error).__name__}; -v shows the details)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def main(argv: Sequence[str] | None = None) -> int:
    from pipelines.base.private_files import make_files_private

    common.quiet_libraries()
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
    from pipelines.base.disk_faults import DataDirectoryError, disk_fault
    from pipelines.base.errors import NeedleError
    from pipelines.base.models import ModelNotFoundError
    from pipelines.base.settings import SettingsError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (SettingsError, ModelNotFoundError, NeedleError) as error:
        fault = None if isinstance(error, DataDirectoryError) else disk_fault(error, common.data_dir())
        print(f"needle: {fault.sentence() if fault else error}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, sqlite3.Error) as error:
        # A read-only or full filesystem under the data directory: one sentence, no traceback.
        fault = disk_fault(error, common.data_dir())
        if fault is None:
            raise
        logger.debug("data directory fault", exc_info=True)
        print(f"needle: {fault.sentence()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
