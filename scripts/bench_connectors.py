"""The web connector's sync benchmark (a benchmark, not a test): a generated local site of ``--pages``
HTML pages synced three times into a real embedded store with the bundled model.

1. the first sync;
2. a re-sync after ``--changed`` pages changed and ``--deleted`` pages were deleted (the deleted pages'
   links go with them: the section pages that held them are among the changed ones);
3. a re-sync with nothing changed.

Per sync: wall time, the HTTP requests the site answered by status (200, 304, 404), the page bodies it
sent, the documents indexed and removed, and the document store's writes. Goals: the changed re-sync
downloads the bodies of the changed pages only and takes under 10% of the first sync's time; the
unchanged re-sync makes no store write; a deleted page's fact is no longer answered from it by
``needle ask`` (run in its own process) after its sync. The site and the measurement live in
``tests/support/connector_bench.py``, which the slow test runs at 60 pages.

    .venv/bin/python scripts/bench_connectors.py --json                 # 2,000 pages, 20 changed, 10 deleted
    .venv/bin/python scripts/bench_connectors.py --pages 200 --changed 4 --deleted 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.lab.evaluation import write_report
from tests.support.connector_bench import run_bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--deleted", type=int, default=10)
    parser.add_argument(
        "--no-cli", action="store_true", help="ask in process instead of running `needle ask`"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", help="also write the JSON report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="needle-bench-connectors-") as folder:
        report = run_bench(
            args.pages, args.changed, args.deleted, Path(folder) / "data", use_cli=not args.no_cli
        )
    if args.output:
        write_report(args.output, report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for sync in report["syncs"]:
            print(
                f"{sync['sync']:>9}: {sync['wall_s']:8.2f} s  requests {sync['requests']}  bodies "
                f"{sync['bodies_downloaded']}  indexed {sync['indexed']}  removed {sync['removed']}  "
                f"store writes {sync['store_writes']}"
            )
        for goal, met in report["goals"].items():
            print(f"{'met' if met else 'MISSED':>6}  {goal}")
    return 0 if report["all_goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
