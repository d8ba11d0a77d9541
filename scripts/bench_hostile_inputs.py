"""Hostile inputs: each file up to the upload limit is indexed or refused within 60 s and 1.5 GB.

Every case runs in a fresh child process: a real ``NeedleService`` (bundled MiniLM, embedded store) is
built and warmed up with a small file, then the hostile file is ingested from disk as ``needle ingest``
does (``ingest_file``), then a small file again, which must be indexed (the indexing lane is free). The
child's wall time for the hostile file and its peak resident memory (``VmHWM``, model included) are
reported; the parent kills a child that runs past ``--timeout``. A second part times the chunker alone
on lines of 1 to 8 MB without whitespace, to show it is linear.

    .venv/bin/python scripts/bench_hostile_inputs.py                  # a Markdown table
    .venv/bin/python scripts/bench_hostile_inputs.py --json --output results/bench_hostile_inputs.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from tests.support import hostile_files as hostile  # noqa: E402

MB = 1024 * 1024
UPLOAD_LIMIT_MB = 50.0  # Needle's default NEEDLE_MAX_UPLOAD_MB
GOAL_SECONDS = 60.0
GOAL_PEAK_MB = 1536.0
SMALL_FILE = b"# Parking\n\nParking permits are issued by the facilities team every January.\n"

#: name -> (file name, generator, what it is)
CASES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "long_line_45mb": ("minified.txt", lambda: hostile.long_line(45 * MB), "45 MB on one line, no spaces"),
    "long_line_4mb": ("blob.txt", lambda: hostile.long_line(4 * MB), "4 MB on one line, no spaces"),
    "long_line_2_9mb": (
        "data.txt",
        lambda: hostile.long_line(2_900_000),
        "2.9 MB on one line, just under the character budget",
    ),
    "docx_text_bomb": (
        "handbook.docx",
        lambda: hostile.docx_text_bomb(192_000_000),
        "DOCX, 192 MB of paragraphs unpacked, ratio 55",
    ),
    "docx_cell_bomb": (
        "table.docx",
        lambda: hostile.docx_cell_bomb(192_000_000),
        "DOCX, 192 MB of tiny table cells (XLSX-style), ratio 60",
    ),
    "xlsx_bomb": (
        "budget.xlsx",
        lambda: hostile.xlsx_bomb(192_000_000),
        "XLSX, 192 MB shared strings, ratio 90",
    ),
    "pdf_stream_over_pypdf_limit": (
        "drawing.pdf",
        lambda: hostile.pdf_inflating_stream(100_000_000),
        "PDF page stream inflating to 100 MB",
    ),
    "pdf_text_stream": (
        "dense.pdf",
        lambda: hostile.pdf_text_stream(60_000_000),
        "PDF page stream inflating to 60 MB of text",
    ),
    "pdf_nested_forms": ("forms.pdf", lambda: hostile.pdf_nested_forms(1000), "PDF, forms nested 1,000 deep"),
    "pdf_nested_arrays": (
        "arrays.pdf",
        lambda: hostile.pdf_nested_arrays(100_000),
        "PDF, an array nested 100,000 deep",
    ),
    "html_cp1252_44mb": (
        "menu.html",
        lambda: hostile.legacy_encoded_html(44_000_000),
        "HTML, 44 MB of paragraphs in Windows-1252",
    ),
    "html_nested_100k": ("parking.html", lambda: hostile.nested_html(100_000), "HTML, 100,000 nested <div>"),
    "html_nested_45mb": (
        "deep.html",
        lambda: hostile.nested_html(4_000_000),
        "HTML, 4,000,000 nested <div> (45 MB)",
    ),
}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(path: Path, data_dir: Path) -> dict[str, object]:
    """Run in the child process: warm up, ingest ``path``, then check the lane with a small file."""
    from pipelines.base.settings import load_settings
    from pipelines.service.facade import NeedleService

    settings = load_settings(_env_file=None, data_dir=data_dir, max_upload_mb=UPLOAD_LIMIT_MB)
    service = NeedleService(settings)
    warm = data_dir.parent / "warm-up.md"
    warm.write_bytes(SMALL_FILE.replace(b"Parking", b"Warm-up"))
    assert service.ingest_file(warm).status == "indexed"
    baseline = _rss_mb()
    started = time.perf_counter()
    result = service.ingest_file(path)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    after = data_dir.parent / "after.md"
    after.write_bytes(SMALL_FILE)
    started = time.perf_counter()
    lane = service.ingest_file(after)
    lane_seconds = time.perf_counter() - started
    service.close()
    return {
        "status": result.status,
        "reason": result.reason,
        "chunks": result.chunks,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak),
        "baseline_mb": round(baseline),
        "lane_free": lane.status == "indexed",
        "lane_seconds": round(lane_seconds, 2),
    }


def run_case(name: str, timeout: float) -> dict[str, object]:
    file_name, generate, what = CASES[name]
    with tempfile.TemporaryDirectory(prefix="needle-hostile-") as scratch:
        path = Path(scratch) / file_name
        data = generate()
        path.write_bytes(data)
        size = len(data)
        del data
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(path),
            str(Path(scratch) / "data"),
        ]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            outcome: dict[str, object] = {
                "status": "timeout",
                "seconds": round(time.perf_counter() - started, 1),
            }
        else:
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                tail = (done.stderr or "").strip().splitlines()[-3:]
                outcome = {"status": "crashed", "returncode": done.returncode, "stderr": tail}
            else:
                outcome = json.loads(lines[-1])
    ok = (
        outcome.get("status") in ("indexed", "rejected")
        and float(outcome.get("seconds", 1e9)) <= GOAL_SECONDS  # type: ignore[arg-type]
        and float(outcome.get("peak_mb", 1e9)) <= GOAL_PEAK_MB  # type: ignore[arg-type]
        and bool(outcome.get("lane_free"))
    )
    return {"case": name, "file": what, "bytes": size, **outcome, "within_goal": ok}


def chunker_scaling(sizes_mb: list[int]) -> list[dict[str, object]]:
    """The chunker alone on one line without whitespace (inside a sentence), in this process."""
    from haystack import Document

    from pipelines.indexing.components.chunker import SentenceChunker

    rows = []
    for size in sizes_mb:
        text = "Intro. " + hostile.long_line(size * MB).decode() + " end."
        started = time.perf_counter()
        chunks = SentenceChunker().run([Document(content=text, meta={"file_type": "text"})])["documents"]
        rows.append({"mb": size, "seconds": round(time.perf_counter() - started, 2), "chunks": len(chunks)})
    return rows


def _table(report: dict[str, object]) -> str:
    lines = [
        "| case | file | outcome | time | peak memory | lane free after |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["cases"]:  # type: ignore[attr-defined]
        outcome = str(row["status"])
        if row.get("reason"):
            outcome += f": {row['reason']}"
        elif row.get("chunks"):
            outcome += f" ({row['chunks']} chunks)"
        lines.append(
            f"| {row['case']} | {row['file']} ({row['bytes'] / 1e6:.1f} MB) | {outcome} | "
            f"{row.get('seconds', '-')} s | {row.get('peak_mb', '-')} MB | "
            f"{'yes' if row.get('lane_free') else 'no'} |"
        )
    lines += ["", "| line without spaces | chunking time | chunks |", "|---|---|---|"]
    for row in report["chunker"]:  # type: ignore[attr-defined]
        lines.append(f"| {row['mb']} MB | {row['seconds']} s | {row['chunks']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", help="also write the JSON report to this file")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--timeout", type=float, default=300.0, help="kill a case after this many seconds")
    parser.add_argument("--chunker-mb", default="1,2,4,8", help="line sizes for the chunker scaling part")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return 0
    started = time.time()
    cases = [run_case(name, args.timeout) for name in (args.case or list(CASES))]
    sizes = [int(size) for size in args.chunker_mb.split(",") if size]
    report: dict[str, object] = {
        "goal": {"seconds": GOAL_SECONDS, "peak_mb": GOAL_PEAK_MB},
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "cases": cases,
        "chunker": chunker_scaling(sizes),
        "all_within_goal": all(case["within_goal"] for case in cases),
        "minutes": round((time.time() - started) / 60, 1),
    }
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else _table(report))
    return 0 if report["all_within_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
