"""Crash safety: SIGKILL a real ``needle ingest`` process mid-ingest, then open the store again.

After every kill, each source is wholly present (every chunk of the version that was being written, no
more, no fewer) or absent, and running the same ingest again completes the job. The kill points vary:
right after a source was reported, and at delays that land inside embedding or inside the store's
persistence step (which rewrites the whole generation, so it grows with the store).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from pipelines.base.errors import NeedleError
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK, make_settings
from tests.hardening.crash_corpus import write_corpus
from tests.support.processes import needle_environment

ROOT = Path(__file__).resolve().parents[2]


def ingest_process(data_dir: Path, folder: Path) -> subprocess.Popen[str]:
    env = needle_environment(NEEDLE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ingest", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _read_indexed_lines(stream: IO[str], count: int, timeout: float) -> list[str]:
    """Read stdout until ``count`` sources were newly indexed in this run."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while sum(line.startswith("indexed") for line in lines) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"ingest made no progress: {lines[-3:]}")
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    return lines


def store_state(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Open the store the way a restarted process does and describe every source in it."""
    service = NeedleService(make_settings(data_dir))
    try:
        state = {}
        for source in service.list_sources():
            chunks = service.store.filter_documents(
                {"field": "meta.source_id", "operator": "==", "value": source.source_id}
            )
            indexes = sorted(int(chunk.meta["chunk_index"]) for chunk in chunks)
            assert indexes == list(range(len(chunks))), f"{source.source_id}: chunk indexes {indexes}"
            assert len({chunk.meta["indexed_at"] for chunk in chunks}) == 1, "chunks of two versions"
            assert len({chunk.meta["source_hash"] for chunk in chunks}) == 1
            assert source.chunks == len(chunks)
            state[source.source_id] = {
                "file_name": source.file_name,
                "ids": sorted(chunk.id for chunk in chunks),
            }
        return state
    finally:
        service.close()


def kill_mid_ingest(
    data_dir: Path, folder: Path, after_indexed: int, delay: float
) -> tuple[int | None, list[str]]:
    """Run an ingest, SIGKILL it ``delay`` s after its ``after_indexed``-th new source; returns (rc, out)."""
    process = ingest_process(data_dir, folder)
    try:
        assert process.stdout is not None
        lines = _read_indexed_lines(process.stdout, after_indexed, timeout=120)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return process.returncode, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_kills(
    tmp_path: Path, files: int, kill_points: list[tuple[int, float]]
) -> tuple[int, dict[str, Any], list[dict[str, dict[str, Any]]]]:
    folder = tmp_path / "docs"
    data_dir = tmp_path / "data"
    write_corpus(folder, files)
    killed = 0
    states = []
    for after_indexed, delay in kill_points:
        rc, _lines = kill_mid_ingest(data_dir, folder, after_indexed, delay)
        if rc == -signal.SIGKILL:
            killed += 1
        states.append(store_state(data_dir))  # raises if a source is half there
    finished = _complete(data_dir, folder)
    final = store_state(data_dir)
    return killed, {"final": final, "rc": finished}, states


def _complete(data_dir: Path, folder: Path) -> int:
    process = ingest_process(data_dir, folder)
    process.communicate(timeout=600)
    return process.returncode


def _check_all_or_nothing(final: dict[str, dict[str, Any]], states: list[dict[str, dict[str, Any]]]) -> None:
    for state in states:
        for source_id, seen in state.items():
            assert source_id in final
            assert seen["ids"] == final[source_id]["ids"], f"{source_id} was partly written before the kill"


@pytest.mark.slow
def test_sigkill_mid_ingest_leaves_whole_sources_and_the_ingest_can_be_rerun(
    tmp_path: Path, record_figure: Callable[[str, str, Any], None]
) -> None:
    killed, result, states = run_kills(tmp_path, files=6, kill_points=[(2, 0.25)])
    assert killed == 1
    assert result["rc"] == 0
    assert len(result["final"]) == 6
    assert 0 < len(states[0]) < 6
    _check_all_or_nothing(result["final"], states)
    record_figure("crash safety", "kills (one ingest)", killed)


@pytest.mark.slow
def test_many_kill_points_all_survived(
    tmp_path: Path, record_figure: Callable[[str, str, Any], None]
) -> None:
    # (newly indexed sources to wait for, then seconds to wait before SIGKILL) for each successive run
    points = [(1, 0.0), (2, 0.05), (1, 0.4), (3, 0.15), (2, 1.0), (1, 0.02), (2, 0.6), (1, 0.25)]
    killed, result, states = run_kills(tmp_path, files=40, kill_points=points)
    assert result["rc"] == 0
    assert len(result["final"]) == 40
    _check_all_or_nothing(result["final"], states)
    progress = [len(state) for state in states]
    assert progress == sorted(progress) and progress[-1] < 40, progress
    leftovers = sorted(p.name for p in (tmp_path / "data" / "store").iterdir() if p.name.startswith("."))
    record_figure("crash safety", "kills survived (slow suite)", f"{killed} of {len(points)} runs killed")
    record_figure("crash safety", "sources after each kill", progress)
    record_figure("crash safety", "staging dirs left after the final run", leftovers)
    assert killed == len(points)


def test_re_ingest_restores_an_original_lost_in_a_crash(
    service_factory: Callable[..., NeedleService],
) -> None:
    service = service_factory()
    path = HANDBOOK / "leave-policy.md"
    first = service.ingest_file(path)
    original = service.originals.path_of(str(first.source_id))
    assert original is not None
    # Fault injection: the state a SIGKILL after the store's rename and before the original's write leaves.
    original.unlink()
    again = service.ingest_file(path)
    assert again.status in ("unchanged", "indexed")
    try:
        service.reindex_source(str(first.source_id))
    except NeedleError as error:
        raise AssertionError(f"re-index impossible after re-ingest: {error}") from None
    assert original.is_file()
