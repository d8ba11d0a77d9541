"""Stateless replicas on Elasticsearch: two Needle processes that share nothing but the cluster.

Each replica is a separate Python process running the real ``needle`` CLI (:mod:`tests.support.cli_replica`
feeds it commands, so it imports torch and Haystack once) with ``NEEDLE_STORE=elasticsearch``, pointed at
the local Elasticsearch test server (``tests/support/fake_elasticsearch.py``: it answers what Haystack's
document store and its BM25 and kNN retrievers send, and Needle's records, traces and aliases), and with a
data directory of its own, so nothing reaches one replica from the other except through Elasticsearch.
Replica A ingests files from a folder that is then deleted; replica B answers from them, and re-indexes
one from the original kept in the cluster, under its own chunk size; A then answers from B's chunks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HANDBOOK
from tests.support.fake_elasticsearch import FakeElasticsearchState, fake_elasticsearch
from tests.support.processes import needle_environment

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How many vacation days do I get?"


class Replica:
    """A Needle process of its own, configured only by its environment, running CLI commands in turn."""

    def __init__(self, name: str, url: str, home: Path, **settings: str) -> None:
        env = needle_environment(
            USER=name,  # the CLI's "uploaded by" and audit actor
            NEEDLE_STORE="elasticsearch",
            NEEDLE_ELASTICSEARCH_URL=url,
            NEEDLE_DATA_DIR=str(home / "data"),
            **{f"NEEDLE_{key.upper()}": value for key, value in settings.items()},
        )
        home.mkdir(parents=True)
        self.name = name
        self.log = (home / "stderr.log").open("w")
        # The working directory is the replica's own: no .env is read, no file is shared by accident.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.cli_replica"],
            cwd=home,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"replica {self.name} stopped; see {self.log.name}"
        return json.loads(line)

    def ready(self) -> None:
        assert self._reply() == {"ready": True}

    def needle(self, *args: str) -> Any:
        """``needle ARGS`` in this replica; its JSON output."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(args) + "\n")
        self.process.stdin.flush()
        done = self._reply()
        assert done["rc"] == 0, f"{self.name}: needle {' '.join(args)} failed:\n{done['stderr'][-3000:]}"
        return json.loads(done["stdout"])

    def stop(self) -> None:
        """End of input ends the replica; one still busy after a few seconds is killed."""
        if self.process.stdin:
            self.process.stdin.close()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Replica, Replica, FakeElasticsearchState]]:
    """The test server and two replicas on it, started together so their imports overlap."""
    with fake_elasticsearch() as (url, state):
        a = Replica("replica-a", url, tmp_path / "replica-a")
        # B cuts smaller chunks than A: a source B re-indexes visibly changes for A.
        b = Replica("replica-b", url, tmp_path / "replica-b", chunk_words="40", chunk_overlap_words="10")
        try:
            a.ready()
            b.ready()
            yield a, b, state
        finally:
            for replica in (a, b):
                replica.stop()
            for replica in (a, b):
                replica.wait()


@pytest.mark.slow  # two Needle processes start (imports alone take 10 to 20 s): 25 to 45 s in all
def test_two_replicas_share_sources_answers_and_reindexing_through_elasticsearch(
    tmp_path: Path, cluster
) -> None:
    a, b, state = cluster
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("leave-policy.md", "it-setup-guide.md", "travel-and-expenses-policy.pdf"):
        shutil.copy(HANDBOOK / name, uploads / name)

    ingested = a.needle("ingest", str(uploads), "--json")
    assert [result["status"] for result in ingested] == ["indexed"] * 3
    leave = next(result for result in ingested if result["file_name"] == "leave-policy.md")
    shutil.rmtree(uploads)  # from now on the files exist only in Elasticsearch

    answer = b.needle("ask", "--json", QUESTION)
    assert answer["found"] and "25" in answer["text"]
    first = answer["citations"][0]
    assert first["file_name"] == "leave-policy.md" and first["source_id"] == leave["source_id"]
    retrieval = answer["passages"][first["number"] - 1]["meta"]["retrieval"]
    assert retrieval["bm25"]["rank"] <= 2 and retrieval["dense"]["rank"] <= 2  # both retrievers found it

    # B re-indexes A's upload from the original kept in the cluster, cut into B's smaller chunks.
    redone = b.needle("reindex", "--source", leave["source_id"])
    assert redone["status"] == "indexed" and redone["source_id"] == leave["source_id"]
    assert redone["chunks"] > leave["chunks"]

    answer = a.needle("ask", "--json", QUESTION)
    first = answer["citations"][0]
    cited = answer["passages"][first["number"] - 1]["meta"]
    assert first["file_name"] == "leave-policy.md" and "25" in answer["text"]
    assert cited["source_id"] == leave["source_id"] and cited["chunk_count"] == redone["chunks"]
    sources = {source["source_id"]: source["chunks"] for source in a.needle("sources", "--json")}
    assert sources[leave["source_id"]] == redone["chunks"] and len(sources) == 3

    # What each replica wrote is in the cluster, not on its disk: the audit log, traces, the originals.
    traces = state.documents["needle-traces"]
    assert len(traces) == 2 and {trace["origin"] for trace in traces.values()} == {"cli"}
    audit = {(entry["action"], entry["actor"]) for entry in a.needle("audit", "--json")}
    assert {("source.upload", "replica-a"), ("source.reindex", "replica-b")} <= audit
    assert not list((tmp_path / "replica-b").rglob("originals"))
    refused = [error for error in state.errors if "unsupported_by_fake" in json.dumps(error)]
    assert not refused
