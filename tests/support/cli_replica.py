"""One long-lived Needle process that runs ``needle`` commands sent to it, like a replica that stays up.

Run as ``python -m tests.support.cli_replica``: it imports Needle once, then reads one JSON array of
command-line arguments per line on stdin, runs :func:`pipelines.cli.main` with them (the real CLI, which
builds a fresh service per command, exactly as ``needle ARGS`` does), and writes one JSON line
``{"rc", "stdout", "stderr"}`` per command. Importing torch, transformers and Haystack takes most of a
``needle`` process's start (10 to 20 s on a shared two-core machine), so a test that drives two replicas
through several commands starts each once, and both at the same time, instead of once per command.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback


def serve() -> None:
    import pipelines.service.facade  # noqa: F401  (the heavy imports, before the first command arrives)
    from pipelines.cli import main

    reply = sys.stdout
    print(json.dumps({"ready": True}), file=reply, flush=True)
    for line in sys.stdin:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(json.loads(line))
            except SystemExit as stop:  # argparse's usage errors
                rc = stop.code if isinstance(stop.code, int) else 1
            except Exception as error:  # an unexpected failure is reported, the replica stays up
                rc = 1
                traceback.print_exception(error, file=sys.stderr)
        answer = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
        print(json.dumps(answer), file=reply, flush=True)


if __name__ == "__main__":
    serve()
