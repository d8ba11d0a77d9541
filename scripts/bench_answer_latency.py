"""Answer latency in extract mode over the sample handbook: p50/p95 of ``NeedleService.ask``.

Uses only the service's public API, so the same script measures an older checkout too (run it with that
checkout first on ``PYTHONPATH``), which is how the answerability gate's cost was measured:

    python scripts/bench_answer_latency.py --questions tests/data/handbook_answers.jsonl
    git worktree add /tmp/before <commit>
    PYTHONPATH=/tmp/before python scripts/bench_answer_latency.py --questions ...

By default each question is timed once, after a single warm-up question (the model loaded, no answer
cached): what an employee meets. ``--rounds N`` instead asks every question once untimed and then N times
timed, which measures repeated questions (the sentence-vector cache makes those cheaper).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pipelines.base.settings import load_settings
from pipelines.samples import handbook_dir
from pipelines.service.facade import NeedleService


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", required=True, help="JSON lines with a 'question' field")
    parser.add_argument("--rounds", type=int, default=0, help="time repeated questions instead (see above)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for line in Path(args.questions).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as scratch:
        service = NeedleService(load_settings(_env_file=None, data_dir=Path(scratch), torch_threads=1))
        service.ingest_paths([handbook_dir()])
        warm_up = questions if args.rounds else ["Where is the office?"]
        for question in warm_up:
            service.ask(question)
        timings = []
        for _ in range(max(1, args.rounds)):
            for question in questions:
                started = time.perf_counter()
                service.ask(question)
                timings.append((time.perf_counter() - started) * 1000)
        service.close()
    ordered = sorted(timings)
    report = {
        "questions": len(questions),
        "asks": len(timings),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
    }
    print(
        json.dumps(report)
        if args.json
        else f"{report['asks']} asks: p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms"
    )


if __name__ == "__main__":
    main()
