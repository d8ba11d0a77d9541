"""Which LLM answers and how its last call went: readiness and the console header say it."""

from __future__ import annotations

from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK


def test_the_header_line_says_which_llm_and_whether_its_last_call_answered(service_factory, tgi) -> None:
    url, state = tgi
    service: NeedleService = service_factory(llm_api="tgi", llm_url=url, llm_timeout_seconds=2)
    service.ingest_file(HANDBOOK / "leave-policy.md")
    described = f"text-generation-inference at {url}"
    assert service.llm_status.headline() == f"{described} (no call yet)"
    assert service.readiness()["llm"]["last_call"] is None
    service.ask("How many vacation days do I get?")
    assert service.llm_status.headline() == f"{described} (answered its last call)"
    state.mode = "error"
    service.ask("How many vacation days do I get?")
    assert service.llm_status.headline() == (
        f"{described} (last call failed: The language model service returned an error (HTTP 503))"
    )
    check = service.readiness()["llm"]
    assert check["ok"] is True and check["llm"] == described
    assert check["last_call"]["ok"] is False and "HTTP 503" in check["last_call"]["error"]


def test_without_an_llm_the_header_says_answers_are_extracts(service_factory) -> None:
    service = service_factory()
    assert service.llm_status.headline() == "extractive answers (no LLM configured)"
