"""Bad uploads: every kind is rejected with a reason, or (when it really is a document) indexed safely.

A rejection must leave the store byte for byte as it was (the generation files in force, the kept
originals). A file that is indexed must be indexed *safely*: no script text, no path outside the data
directory, no control characters in names, and chunks of bounded size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipelines.base.sizes import MB
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK, make_settings
from tests.hardening.bad_corpus import MAX_CHUNK_CHARS, BadUpload, corpus

MAX_BYTES = 50 * MB
CASES = corpus(MAX_BYTES)
OUTCOMES: dict[str, str] = {}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    """One real service whose store already holds a source, so "unchanged" means something."""
    root = tmp_path_factory.mktemp("bad-uploads")
    service = NeedleService(make_settings(root / "data", max_upload_mb=MAX_BYTES / MB))
    assert service.ingest_file(HANDBOOK / "leave-policy.md").status == "indexed"
    yield service
    service.close()


def _state(service: NeedleService) -> tuple[dict[str, bytes], list[str]]:
    originals = service.settings.data_dir / "originals"
    kept = (
        sorted(str(path.relative_to(originals)) for path in originals.rglob("*"))
        if originals.exists()
        else []
    )
    return service.store.generation_files(), kept


#: Cases that take tens of seconds (a 2.5 MB line is embedded in full); run with ``-m slow``.
SLOW_CASES = {"huge_single_line"}


def _params() -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.kind,
            marks=([pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [])
            + ([pytest.mark.slow] if case.kind in SLOW_CASES else []),
        )
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_bad_upload(service: NeedleService, case: BadUpload) -> None:
    before = _state(service)
    result = service.ingest_bytes(case.file_name, case.data)
    OUTCOMES[case.kind] = result.status
    if case.expect == "rejected":
        assert result.status == "rejected", (case.kind, result)
        assert result.reason and case.fragment.lower() in result.reason.lower(), (case.kind, result.reason)
        assert "Traceback" not in result.reason and len(result.reason) < 300
        assert _state(service) == before, f"{case.kind}: a rejection changed the store"
        return

    assert result.status == "indexed", (case.kind, result)
    try:
        _check_safely_indexed(service, case, result.source_id or "")
    finally:
        service.delete_source(result.source_id or "")


def _check_safely_indexed(service: NeedleService, case: BadUpload, source_id: str) -> None:
    chunks = service.store.filter_documents({"field": "meta.source_id", "operator": "==", "value": source_id})
    assert chunks
    text = "\n".join(chunk.content or "" for chunk in chunks)
    assert case.fragment in text, case.kind
    meta = chunks[0].meta
    if case.file_type:
        assert meta["file_type"] == case.file_type, case.kind
    names = [str(meta.get("file_name")), str(meta.get("title")), source_id]
    for forbidden in case.forbidden:
        assert forbidden not in text + str(meta.get("title")), (case.kind, forbidden)
        if "traversal" in case.kind:  # the forbidden strings are path parts: none may survive in a name
            assert all(forbidden not in name for name in names), (case.kind, forbidden, names)
    assert not re.search(r"[\x00-\x1f\x7f/\\]", str(meta.get("file_name"))), meta.get("file_name")
    longest = max(len(chunk.content or "") for chunk in chunks)
    assert longest <= MAX_CHUNK_CHARS, f"{case.kind}: a chunk of {longest} characters"
    data_dir = service.settings.data_dir
    assert sorted(path.name for path in data_dir.parent.iterdir()) == [data_dir.name], "wrote beside data_dir"
    kept = list((data_dir / "originals" / source_id).iterdir())
    assert service.originals.get(source_id)[0] == meta["file_name"]  # type: ignore[index]
    assert all(path.resolve().is_relative_to(data_dir.resolve()) for path in kept)


def test_the_corpus_has_at_least_twenty_kinds_and_the_figures_are_recorded(
    record_figure: Callable[[str, str, Any], None],
) -> None:
    kinds = [case.kind for case in CASES]
    assert len(kinds) == len(set(kinds)) >= 20
    assert sum(case.expect == "rejected" for case in CASES) >= 20
    record_figure("bad uploads", "kinds tried", len(CASES))
    record_figure("bad uploads", "expected rejected", sum(c.expect == "rejected" for c in CASES))
    record_figure("bad uploads", "expected safely indexed", sum(c.expect == "indexed" for c in CASES))
    record_figure("bad uploads", "known core bugs (xfail)", [c.kind for c in CASES if c.bug])
    if OUTCOMES:  # filled when the parametrized test ran before this one in the same session
        record_figure("bad uploads", "observed rejected", sum(v == "rejected" for v in OUTCOMES.values()))
        record_figure("bad uploads", "observed indexed", sum(v == "indexed" for v in OUTCOMES.values()))
