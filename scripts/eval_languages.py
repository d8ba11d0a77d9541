"""Chinese and English retrieval on the sample handbook: BM25, dense, blind fusion, language-aware fusion.

.venv/bin/python scripts/eval_languages.py --output results/languages.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from pipelines.base.settings import get_settings, load_settings
from pipelines.lab.evaluation import BeirDataset, index_corpus, language_report, load_beir, write_report
from pipelines.samples import handbook_dir
from pipelines.service.facade import NeedleService

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="results/languages.json")
    parser.add_argument("--distractors", type=Path, help="a BEIR folder whose abstracts are added")
    parser.add_argument("--distractor-count", type=int, default=2000)
    args = parser.parse_args()
    chinese = json.loads((DATA / "chinese_questions.json").read_text(encoding="utf-8"))
    english = [q for q in json.loads((DATA / "handbook_questions.json").read_text()) if q["language"] == "en"]
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(data_dir=Path(scratch))
        # The user's embedding cache: distractors encoded by an earlier run (or `needle eval`) are reused.
        service = NeedleService(
            settings, embedding_cache_path=get_settings().data_dir / "embedding-cache.sqlite3"
        )
        service.ingest_paths([handbook_dir()])
        report["handbook"] = {
            "zh": {"questions": len(chinese), **language_report(service, chinese)},
            "en": {"questions": len(english), **language_report(service, english)},
        }
        if args.distractors:
            full = load_beir(args.distractors, "test")
            subset = dict(sorted(full.corpus.items())[: args.distractor_count])
            index_corpus(service, BeirDataset(full.name, subset, {}, {}))
            report[f"handbook+{len(subset)} {full.name} abstracts"] = {
                "zh": {"questions": len(chinese), **language_report(service, chinese)},
                "en": {"questions": len(english), **language_report(service, english)},
            }
        service.close()
    write_report(args.output, report)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
