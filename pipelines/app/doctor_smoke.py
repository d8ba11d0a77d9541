"""``needle doctor --store-smoke``: the real cluster answers the sample questions as the embedded store does.

The request shapes are checked against Elastic's specification in the tests, but only a real cluster
shows that its analysers, BM25 and kNN rank the handbook as Needle expects. This indexes the sample
handbook into a temporary index (and temporary record indices) named ``<index>-doctor-<time>``, asks the
sample questions there and on an embedded store built beside it in a temporary directory, compares the
top source of each answer, and deletes everything it created, whatever happened.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pipelines.base.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]


def _top_sources(settings: Settings) -> list[str | None]:
    from pipelines.records.audience import ADMIN
    from pipelines.samples import SAMPLE_QUESTIONS, handbook_dir
    from pipelines.service.facade import NeedleService

    service = NeedleService(settings)
    try:
        results = service.ingest_paths([handbook_dir()])
        rejected = [result.file_name for result in results if result.status == "rejected"]
        if rejected:
            raise RuntimeError(f"the sample handbook was not indexed: {', '.join(rejected)}")
        tops: list[str | None] = []
        for question in SAMPLE_QUESTIONS:
            answer = service.ask(question, origin="doctor", viewer=ADMIN)
            tops.append(answer.passages[0].meta.get("source_id") if answer.passages else None)
        return tops
    finally:
        service.close()


def _delete_indices(settings: Settings, prefix: str) -> int:
    from pipelines.stores.elasticsearch import make_client

    client = make_client(settings)
    try:
        rows: Any = client.cat.indices(index=f"{prefix}*", format="json").body
        names = [row["index"] for row in rows if str(row.get("index", "")).startswith(prefix)]
        for name in names:
            client.indices.delete(index=name)
        return len(names)
    finally:
        client.close()


def store_smoke_test(settings: Settings) -> tuple[Status, str]:
    from pipelines.stores import on_elasticsearch

    if not on_elasticsearch(settings):
        return "skip", "only for Elasticsearch (it compares the cluster with the embedded store)"
    prefix = f"{settings.elasticsearch_index}-doctor-{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="needle-doctor-") as scratch:
        off = {"llm_api": "none", "reranker_model": None}
        cluster = settings.model_copy(
            update={"elasticsearch_index": prefix, "data_dir": Path(scratch) / "es", **off}
        )
        embedded = settings.model_copy(
            update={"store": "embedded", "data_dir": Path(scratch) / "embedded", **off}
        )
        try:
            on_cluster = _top_sources(cluster)
        finally:
            _delete_indices(settings, prefix)
        on_embedded = _top_sources(embedded)
    differ = [n + 1 for n, (a, b) in enumerate(zip(on_cluster, on_embedded, strict=True)) if a != b]
    if differ:
        return "fail", (
            f"the cluster's top source differs from the embedded store's for sample question(s) {differ} "
            f"({on_cluster} against {on_embedded}): check the index's analysers with `needle doctor`"
        )
    return "ok", (
        f"the {len(on_cluster)} sample questions have the same top source on both stores; "
        "the temporary indices were deleted"
    )
