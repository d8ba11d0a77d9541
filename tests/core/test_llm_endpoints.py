"""Where the LLM lives: an OpenAI-compatible server, an air-gapped site, the serverless Hub, checked at start.

The real ``OpenAIChatGenerator`` (openai client) and ``HuggingFaceAPIChatGenerator`` (huggingface_hub)
talk to local servers speaking the OpenAI chat-completions protocol, TGI's, and the Hub's model API.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import huggingface_hub
import pytest
from haystack.dataclasses import ChatMessage

from pipelines.cli import main
from pipelines.querying.llm import LLMConfigurationError, build_chat_generator
from pipelines.service.facade import NeedleService
from tests.conftest import HANDBOOK
from tests.support.fake_openai import FakeOpenAIState, fake_openai_server
from tests.support.fake_tgi import fake_tgi_server

QUESTION = "How many vacation days do I get?"


def _cite_vacation_passage(messages: list[dict[str, Any]]) -> str:
    prompt = messages[-1]["content"]
    for number, body in re.findall(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', prompt, re.S):
        if "25 vacation days" in body:
            return f"Full-time employees get 25 vacation days a year [{number}]."
    return "I could not find this in the documents."


@pytest.fixture
def openai_server() -> Iterator[tuple[str, FakeOpenAIState]]:
    with fake_openai_server() as (url, state):
        state.api_key = "sk-local"
        state.reply = _cite_vacation_passage
        yield url, state


@pytest.fixture
def openai_factory(service_factory, openai_server) -> Callable[..., NeedleService]:
    """Services answering from the leave policy with the local OpenAI-compatible server as their LLM."""
    url, _ = openai_server

    def factory(**overrides: Any) -> NeedleService:
        settings = {
            "llm_api": "openai",
            "llm_url": url,
            "llm_model": "local-model",
            "llm_api_key": "sk-local",
            "llm_timeout_seconds": 5,
            **overrides,
        }
        service = service_factory(**settings)
        service.ingest_file(HANDBOOK / "leave-policy.md")
        return service

    return factory


def test_an_openai_compatible_server_answers_streamed_with_the_key_and_model(
    openai_factory, openai_server
) -> None:
    _, state = openai_server
    service = openai_factory()
    pieces: list[str] = []
    answer = service.ask(QUESTION, on_text=pieces.append)
    assert answer.kind == "generated" and answer.text.startswith("Full-time employees get 25 vacation days")
    assert [citation.file_name for citation in answer.citations] == ["leave-policy.md"]
    assert len(pieces) > 3
    posts = [request for request in state.requests if request["method"] == "POST"]
    assert len(posts) == 1
    request = posts[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-local"
    assert request["body"]["model"] == "local-model" and request["body"]["stream"] is True
    assert request["body"]["max_tokens"] == service.settings.llm_max_tokens
    last = service.llm_status.last_call
    assert last is not None and last.ok


def test_a_whole_reply_is_read_without_streaming(settings_factory, openai_server) -> None:
    """The follow-up rewrite asks for a whole reply; the same client reads it."""
    url, state = openai_server
    state.reply = lambda messages: "How many vacation days do part-time employees get?"
    generator = build_chat_generator(
        settings_factory(llm_api="openai", llm_url=url, llm_model="local-model", llm_api_key="sk-local")
    )
    result = generator.run(messages=[ChatMessage.from_user("And part-timers?")])
    assert result["replies"][0].text == "How many vacation days do part-time employees get?"
    assert result["replies"][0].meta["finish_reason"] == "stop"
    assert not state.requests[-1]["body"].get("stream")


@pytest.mark.parametrize(
    ("overrides", "mode", "notice"),
    [
        ({"llm_api_key": "sk-wrong"}, "ok", "refused Needle's credentials"),
        ({"llm_model": "not-served"}, "ok", "does not serve the configured model (HTTP 404)"),
        ({}, "rate_limited", "rate-limiting Needle right now"),
        ({}, "server_error", "returned an error (HTTP 500)"),
        ({}, "cut", "answer was cut off"),
    ],
)
def test_openai_errors_fall_back_to_a_cited_extract_in_one_sentence(
    openai_factory, openai_server, overrides: dict[str, str], mode: str, notice: str
) -> None:
    _, state = openai_server
    service = openai_factory(**overrides)
    state.mode = mode  # type: ignore[assignment]
    answer = service.ask(QUESTION, on_text=lambda _: None)
    assert answer.kind == "fallback" and notice in answer.notice
    assert answer.text.startswith(answer.notice) and "25 vacation days" in answer.text
    assert answer.citations[0].file_name == "leave-policy.md"
    assert len([r for r in state.requests if r["method"] == "POST"]) == 1, "no silent retries"
    last = service.llm_status.last_call
    assert last is not None and not last.ok and notice in last.error


def _go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an air-gapped site's ``HF_HUB_OFFLINE=1`` does to a process (huggingface_hub reads it once)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.mark.parametrize("api", ["tgi", "inference_endpoint", "openai"])
def test_hf_hub_offline_never_blocks_a_configured_endpoint(
    service_factory, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    _go_offline(monkeypatch)
    server = fake_openai_server() if api == "openai" else fake_tgi_server()
    with server as (url, state):
        state.reply = _cite_vacation_passage
        # the offline mode is real: huggingface_hub's own client refuses this very server
        with pytest.raises(huggingface_hub.errors.OfflineModeIsEnabled):
            huggingface_hub.InferenceClient(model=url).chat_completion([{"role": "user", "content": "hi"}])
        extra = {"llm_model": "local-model"} if api == "openai" else {}
        service = service_factory(llm_api=api, llm_url=url, llm_timeout_seconds=5, **extra)
        service.ingest_file(HANDBOOK / "leave-policy.md")
        answer = service.ask(QUESTION)
    assert answer.kind == "generated", answer.notice
    assert "25 vacation days" in answer.text and answer.citations


def test_serverless_while_offline_stops_at_start_in_one_sentence(
    service_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _go_offline(monkeypatch)
    with pytest.raises(LLMConfigurationError) as raised:
        service_factory(llm_api="serverless", llm_model="meta-llama/Llama-3.1-8B-Instruct")
    message = str(raised.value)
    assert "HF_HUB_OFFLINE" in message and "NEEDLE_LLM_URL" in message and "\n" not in message


@contextmanager
def fake_hub() -> Iterator[tuple[str, list[str]]]:
    """The Hub's model API, knowing no model: ``GET /api/models/<id>`` is a 404 ``RepoNotFound``."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"error": "Repository Not Found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("X-Error-Message", "Repository Not Found")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_serverless_model_the_hub_does_not_know_stops_at_start(
    service_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_hub() as (hub, asked):
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub)
        with pytest.raises(LLMConfigurationError) as raised:
            service_factory(llm_api="serverless", llm_model="acme/no-such-model")
    assert asked and asked[0].startswith("/api/models/acme/no-such-model")
    assert str(raised.value) == (
        "NEEDLE_LLM_MODEL=acme/no-such-model is not a model on the Hugging Face Hub (or the token cannot "
        "see it); check the model id"
    )


def test_a_hub_that_cannot_be_reached_stops_serverless_at_start(service_factory) -> None:
    """The tests' network guard refuses huggingface.co as a site without internet access would."""
    with pytest.raises(LLMConfigurationError, match="could not reach the Hugging Face Hub"):
        service_factory(llm_api="serverless", llm_model="meta-llama/Llama-3.1-8B-Instruct")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({}, ""),
        ({"llm_model": "llama3"}, "does not serve NEEDLE_LLM_MODEL=llama3 (it serves local-model)"),
        ({"llm_api_key": "sk-wrong"}, "refused NEEDLE_LLM_API_KEY (HTTP 401)"),
        ({"llm_url": "ROOT"}, "has no OpenAI-compatible API (HTTP 404 for /models)"),
    ],
)
def test_readiness_names_the_llm_and_a_misconfigured_endpoint_in_one_sentence(
    service_factory, openai_server, overrides: dict[str, str], problem: str
) -> None:
    url, _ = openai_server
    settings = {"llm_api": "openai", "llm_url": url, "llm_model": "local-model", "llm_api_key": "sk-local"}
    settings.update(overrides)
    if settings["llm_url"] == "ROOT":
        settings["llm_url"] = url.removesuffix("/v1")
    service = service_factory(**settings)
    check = service.readiness()["llm"]
    assert check["llm"] == f"{settings['llm_model']} on OpenAI-compatible server at {settings['llm_url']}"
    assert check["ok"] is (not problem) and check["last_call"] is None
    if problem:
        assert problem in check["error"] and "\n" not in check["error"]
        assert "sk-" not in check["error"]


def test_needle_serve_says_at_start_when_the_endpoint_is_misconfigured(
    data_dir, openai_server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = openai_server
    for name, value in {
        "NEEDLE_LLM_API": "openai",
        "NEEDLE_LLM_URL": url,
        "NEEDLE_LLM_MODEL": "llama3",
        "NEEDLE_LLM_API_KEY": "sk-local",
    }.items():
        monkeypatch.setenv(name, value)
    import pipelines.app.server
    import pipelines.base.logging_setup

    monkeypatch.setattr(pipelines.base.logging_setup, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(pipelines.app.server, "run", lambda service, app: None)
    assert main(["serve", "--faces", "none"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"needle: warning: the language model server at {url} does not serve NEEDLE_LLM_MODEL=llama3 "
        "(it serves local-model); answers are extracts until it is fixed"
    ]


@pytest.mark.slow
def test_an_air_gapped_process_answers_from_its_own_server_and_refuses_serverless(
    tmp_path, service_factory
) -> None:
    """``needle ask`` started with ``HF_HUB_OFFLINE=1`` in its environment, as an air-gapped site runs it."""
    import subprocess
    import sys

    from tests.support.processes import needle_environment

    data = tmp_path / "data"
    service_factory(data_dir=data).ingest_file(HANDBOOK / "leave-policy.md")
    with fake_tgi_server() as (url, state):
        state.reply = _cite_vacation_passage
        env = needle_environment(
            HF_HUB_OFFLINE="1", NEEDLE_DATA_DIR=str(data), NEEDLE_LLM_API="tgi", NEEDLE_LLM_URL=url
        )
        ask = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "ask", "--json", QUESTION],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert ask.returncode == 0, ask.stderr
        answer = json.loads(ask.stdout)
        assert answer["kind"] == "generated" and "25 vacation days" in answer["answer"]
        assert state.requests, "the site's own server was called"
        env |= {"NEEDLE_LLM_API": "serverless", "NEEDLE_LLM_MODEL": "meta-llama/Llama-3.1-8B-Instruct"}
        refused = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "ask", QUESTION],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "needle: NEEDLE_LLM_API=serverless calls the Hugging Face Hub, which HF_HUB_OFFLINE forbids"
        )
    )
