"""What partitioned dense search costs in quality, on real embeddings (a measurement, not a test).

The embedded store partitions dense search once it holds ``PARTITION_FROM`` (200,000) chunks; no
real corpus that large can be embedded on 2 cores, so this forces partitioning on SciFact (8,102 chunks
of real MiniLM embeddings, 64 partitions) and compares ``needle eval`` with and without it, at the
same fraction of partitions probed as the store uses (``PROBE_FRACTION``) and at others given with
``--fractions``. Only the dense and fused lists can change; BM25 is the control.

    .venv/bin/python scripts/eval_partitions.py --split train --output results/partitions-scifact-train.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from synthetic_corpus import SCIFACT

from pipelines.base.settings import get_settings
from pipelines.lab.evaluation import replace_settings, run_eval, write_report
from pipelines.stores import memory, partitions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="train")
    parser.add_argument("--fractions", type=float, nargs="*", default=[partitions.PROBE_FRACTION])
    parser.add_argument("--train-from", type=int, default=6_000, help="chunks before centroids are trained")
    parser.add_argument("--output", default="results/partitions-scifact-train.json")
    args = parser.parse_args()

    def scores(report: dict) -> dict:
        return {name: report[name] for name in ("bm25", "dense", "fused")}

    settings = get_settings()
    results = {"exact": scores(run_eval(args.dataset, args.split, settings))}
    # Trained once most of the corpus is in, as a store crossing the threshold is trained on a sample
    # of everything it holds.
    settings = replace_settings(settings, dense_partition_from=args.train_from)
    memory.SCAN_BELOW = 0
    for fraction in args.fractions:
        memory.PROBE_FRACTION = fraction
        partitions.PROBE_FRACTION = fraction
        results[f"partitioned, probe {fraction:g}"] = scores(run_eval(args.dataset, args.split, settings))
        print(json.dumps(results), file=sys.stderr)
    write_report(args.output, {"dataset": str(args.dataset), "split": args.split, "results": results})
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
