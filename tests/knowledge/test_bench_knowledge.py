"""The knowledge benchmark (scripts/bench_knowledge.py) on its held-out data, against issue 27's goals.

Runs the real benchmark in-process: the sample handbook indexed, every question asked through the service.
Several minutes: slow. The verified-answer recall goal (90%) is not met by the bundled MiniLM embedder
(78% measured, see docs/knowledge.md); that goal is an expected failure, strict, so meeting it shows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_knowledge.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("bench_knowledge", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data_dir = tmp_path_factory.mktemp("bench")
    return bench.main(["--split", "held-out", "--data-dir", str(data_dir)])["held-out"]


def test_gap_topics_recover_the_held_out_groups(report: dict[str, Any]) -> None:
    assert report["gaps"]["questions"] == 48
    assert report["gaps"]["adjusted_rand_index"] >= 0.8


def test_unrelated_handbook_questions_are_not_answered_from_a_verified_answer(report: dict[str, Any]) -> None:
    verified = report["verified"]
    assert verified["unrelated_asked"] == 60
    assert verified["unrelated_answered_from_verified"] <= 1
    assert verified["recall"] >= 0.75  # what the dev-chosen thresholds give today: a regression floor


@pytest.mark.xfail(strict=True, reason="issue 27's 90% goal; the bundled MiniLM reaches about 78%")
def test_other_paraphrases_are_answered_from_the_verified_answer_nine_times_in_ten(
    report: dict[str, Any],
) -> None:
    assert report["verified"]["recall"] >= 0.9
