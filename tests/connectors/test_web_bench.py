"""``scripts/bench_connectors.py`` at small scale: the same three syncs and the same goals on 60 pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.connector_bench import run_bench


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 60 pages embedded one by one, then `needle ask`: minutes when busy
def test_the_connector_benchmark_meets_its_goals_at_60_pages(tmp_path: Path) -> None:
    report = run_bench(60, changed=2, deleted=1, data_dir=tmp_path / "data", use_cli=True)
    first, changed, unchanged = report["syncs"]
    assert (first["indexed"], first["bodies_downloaded"]) == (60, 60)
    assert (changed["bodies_downloaded"], changed["indexed"], changed["removed"]) == (2, 2, 1)
    assert changed["requests"].get("304") == 57
    assert (unchanged["bodies_downloaded"], unchanged["indexed"], unchanged["store_writes"]) == (0, 0, 0)
    assert changed["store_writes"] > 0  # the counter sees writes when there are some
    assert report["ask"]["cited_before"] and not report["ask"]["cited_after_needle_ask"]
    assert report["goals"] == {goal: True for goal in report["goals"]}
