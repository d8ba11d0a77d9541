"""The core's own HTTP endpoints (health, readiness, metrics) and its logs, on a real server."""

from __future__ import annotations

import json
import logging

import httpx

from pipelines.app.server import build_server
from pipelines.base.logging_setup import JsonFormatter, RedactingFilter
from tests.conftest import HANDBOOK
from tests.support.fake_tgi import fake_tgi_server
from tests.support.uvicorn_server import running


def test_health_readiness_and_metrics(service_factory) -> None:
    service = service_factory()
    service.ingest_file(HANDBOOK / "leave-policy.md")
    service.ingest_bytes("broken.pdf", b"%PDF-1.4 broken")
    answer = service.ask("How many vacation days do I get?", origin="slack")
    service.record_feedback(answer.trace_id, "up")
    app, faces = build_server(service, names=set())
    assert faces == []
    with running(app) as url:
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks["store"]["ok"] and checks["store"]["chunks"] > 0
        assert checks["llm"] == {
            "ok": True,
            "mode": "none",
            "llm": "no LLM (extractive answers)",
            "probed": False,
            "last_call": None,
        }
        metrics = httpx.get(f"{url}/metrics").text
    assert 'needle_questions_total{origin="slack"} 1.0' in metrics
    assert 'needle_answers_total{kind="extractive"} 1.0' in metrics
    assert 'needle_ingests_total{status="indexed"} 1.0' in metrics
    assert 'needle_ingests_total{status="rejected"} 1.0' in metrics
    assert 'needle_feedback_total{rating="up"} 1.0' in metrics
    assert 'needle_stage_seconds_count{stage="bm25_retriever"} 1.0' in metrics


def test_readiness_fails_when_the_llm_is_unreachable(service_factory) -> None:
    with fake_tgi_server() as (llm_url, _):
        reachable = service_factory(llm_api="tgi", llm_url=llm_url)
        assert reachable.readiness()["llm"]["ok"]
    unreachable = service_factory(llm_api="tgi", llm_url="http://127.0.0.1:9")
    app, _ = build_server(unreachable, names=set())
    with running(app) as url:
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 503
    error = response.json()["checks"]["llm"]["error"]
    assert error == "the language model at http://127.0.0.1:9 is not reachable"


def test_readiness_fails_when_the_store_fails(service_factory, monkeypatch) -> None:
    service = service_factory()

    def broken() -> int:
        raise ConnectionError("connection refused to 10.0.0.5:9200")

    monkeypatch.setattr(service.store, "count_documents", broken)
    checks = service.readiness()
    assert checks["store"] == {"ok": False, "error": "the document store is not reachable"}


def test_logs_are_json_and_never_carry_secrets_or_long_text() -> None:
    record = logging.LogRecord(
        "needle",
        logging.WARNING,
        __file__,
        1,
        "token %s and %s then %s",
        ("xoxb-123-456-abc", "hunter22", "x" * 2000),
        None,
    )
    RedactingFilter(secrets=["hunter22"]).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["logger"] == "needle"
    assert "xoxb" not in line["message"] and "hunter22" not in line["message"]
    assert line["message"].count("[redacted]") == 2
    assert len(line["message"]) < 600 and "more characters" in line["message"]


def test_bearer_and_hf_tokens_are_masked_in_exceptions() -> None:
    try:
        raise RuntimeError("401 for Authorization: Bearer hf_abcdefghijklmnop")
    except RuntimeError:
        import sys

        record = logging.LogRecord("needle", logging.ERROR, __file__, 1, "llm failed", None, sys.exc_info())
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "hf_abcdefghijklmnop" not in line["exception"] and "[redacted]" in line["exception"]
