"""Model loading: the bundled weights, local folders, hub ids, and a locally built cross-encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.base.models import ModelNotFoundError, bundled_minilm_path, resolve_model
from pipelines.base.settings import BUNDLED_EMBEDDING_MODEL
from tests.conftest import HANDBOOK


def test_bundled_model_resolves_to_its_folder() -> None:
    folder = Path(resolve_model(BUNDLED_EMBEDDING_MODEL))
    assert folder == bundled_minilm_path()
    assert (folder / "model.safetensors").is_file() and (folder / "modules.json").is_file()


def test_local_folders_and_hub_ids(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    with pytest.raises(ModelNotFoundError):
        resolve_model(str(tmp_path / "missing"))


@pytest.fixture(scope="module")
def stand_in_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cross-encoder architecture (MiniLM encoder + an untrained scoring head), saved locally.

    No cross-encoder ships on PyPI and the hub is out of reach, so this exercises the loading and
    reranking code path; its scores mean nothing.
    """
    from sentence_transformers import CrossEncoder

    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(bundled_minilm_path()), num_labels=1).save(str(folder))
    return folder


def test_configured_reranker_reranks_and_is_traced(service_factory, stand_in_cross_encoder: Path) -> None:
    service = service_factory(reranker_model=str(stand_in_cross_encoder), reranker_top_k=8, top_k=3)
    assert service.has_ranker
    service.ingest_file(HANDBOOK / "leave-policy.md")
    service.ingest_file(HANDBOOK / "it-setup-guide.md")
    answer = service.ask("How many vacation days do I get?")
    assert len(answer.passages) == 3
    trace = service.get_trace(answer.trace_id)
    assert len(trace["fused"]) == 8
    assert trace["reranked"] is not None and len(trace["reranked"]) == 3
    assert {item["id"] for item in trace["reranked"]} <= {item["id"] for item in trace["fused"]}
    assert trace["timings_ms"]["ranker"] > 0


def test_reranker_can_be_switched_off_per_question(service_factory, stand_in_cross_encoder: Path) -> None:
    from pipelines.querying.answering import QueryOptions

    service = service_factory(reranker_model=str(stand_in_cross_encoder), reranker_top_k=8, top_k=3)
    service.ingest_file(HANDBOOK / "leave-policy.md")
    answer = service.ask("How many vacation days do I get?", options=QueryOptions(rerank=False))
    trace = service.get_trace(answer.trace_id)
    assert trace["reranked"] is None and "ranker" not in trace["timings_ms"]
    assert len(trace["fused"]) == 3 == len(answer.passages)
    full = service.chunk(trace["fused"][0]["id"])
    assert full is not None and full.content.startswith(trace["fused"][0]["preview"])
    assert service.chunk("no-such-chunk") is None
