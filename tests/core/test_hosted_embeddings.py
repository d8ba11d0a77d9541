"""Hugging Face-hosted embeddings: the real Haystack API embedders against a local server speaking
text-embeddings-inference's protocol (with the real MiniLM behind it), its refusals included."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from pipelines.base.errors import NeedleError
from pipelines.service.embedders import EmbeddingServiceError
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.support.fake_tei import FakeTEIState, fake_tei_server


@pytest.fixture
def tei() -> Iterator[tuple[str, FakeTEIState]]:
    with fake_tei_server() as server:
        yield server


def _embedded_batches(state: FakeTEIState) -> list[int]:
    return [len(r["body"]["inputs"]) for r in state.requests if isinstance(r["body"].get("inputs"), list)]


def test_indexing_and_answering_through_the_embedding_server(
    service_factory: Callable[..., NeedleService], tei: tuple[str, FakeTEIState]
) -> None:
    url, state = tei
    service = service_factory(embedding_api="tei", embedding_url=url)
    assert service.embedding_dim == 384  # learned from the server with one call
    for name in ("leave-policy.md", "it-setup-guide.md"):
        assert service.ingest_file(HANDBOOK / name).status == "indexed"
    answer = service.ask("How many vacation days do I get?")
    assert answer.found and answer.citations[0].file_name == "leave-policy.md"
    chunks = service.store.filter_documents()
    assert {chunk.meta["embedder"] for chunk in chunks} == {f"tei:{url}"}
    assert _embedded_batches(state)  # chunks went to the server, in batches

    # Same weights behind the server: the vectors are the local model's.
    local = service_factory(data_dir=service.settings.data_dir.parent / "local")
    local.ingest_file(HANDBOOK / "leave-policy.md")
    local_ids = [chunk.id for chunk in local.store.filter_documents()]
    hosted_vectors = service.store.embeddings_for(local_ids)  # the same chunk ids: same text, same source
    local_vectors = local.store.embeddings_for(local_ids)
    assert len(local_vectors) == len(local_ids) > 0
    for chunk_id in local_ids:
        assert float(np.dot(hosted_vectors[chunk_id], local_vectors[chunk_id])) > 0.999


def test_a_batch_over_the_servers_limit_is_split(
    service_factory: Callable[..., NeedleService], tei: tuple[str, FakeTEIState]
) -> None:
    url, state = tei
    state.max_batch = 4
    service = service_factory(embedding_api="tei", embedding_url=url, embedding_batch_size=32)
    result = service.ingest_file(HANDBOOK / "travel-and-expenses-policy.pdf")
    assert result.status == "indexed" and result.chunks > 4
    batches = _embedded_batches(state)
    assert batches[0] > 4  # the first try was refused with 413, then halved until it fitted ...
    first_fit = next(index for index, size in enumerate(batches) if size <= 4)
    assert batches[:first_fit] == sorted(batches[:first_fit], reverse=True)
    assert all(size <= 4 for size in batches[first_fit:])  # ... and the size that fits is kept


def test_a_busy_server_is_retried_and_a_failing_one_is_reported(
    service_factory: Callable[..., NeedleService], tei: tuple[str, FakeTEIState]
) -> None:
    url, state = tei
    service = service_factory(embedding_api="tei", embedding_url=url)
    state.fail_next, state.fail_status = 1, 429
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"

    state.fail_next, state.fail_status = 5, 424
    with pytest.raises(
        NeedleError, match=r"embedding service .* failed \(HTTP 424.*it-setup-guide.md was not"
    ):
        service.ingest_file(HANDBOOK / "it-setup-guide.md")
    assert {c.meta["file_name"] for c in service.store.filter_documents()} == {"leave-policy.md"}


def test_an_unreachable_server_is_a_clear_error_at_start(
    service_factory: Callable[..., NeedleService],
) -> None:
    with pytest.raises(
        EmbeddingServiceError, match=r"embedding service at http://127.0.0.1:9/ did not answer"
    ):
        service_factory(embedding_api="tei", embedding_url="http://127.0.0.1:9/")


@pytest.mark.slow
def test_vectors_of_two_embedders_are_never_mixed(
    service_factory: Callable[..., NeedleService], tei: tuple[str, FakeTEIState]
) -> None:
    url, _ = tei
    local = service_factory()
    local.ingest_file(HANDBOOK / "leave-policy.md")
    local.close()
    hosted = service_factory(embedding_api="tei", embedding_url=url)
    with pytest.raises(NeedleError, match="needle reindex"):
        hosted.ingest_file(HANDBOOK / "it-setup-guide.md")
    hosted.backend.reindex(hosted)  # what `needle reindex` runs: every source again, with the new embedder
    assert {c.meta["embedder"] for c in hosted.store.filter_documents()} == {f"tei:{url}"}
    assert hosted.ingest_file(HANDBOOK / "it-setup-guide.md").status == "indexed"
