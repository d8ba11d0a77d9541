"""``needle doctor``: each check against a real part or a local server speaking its protocol.

The store checks run against the local Elasticsearch server (whose every request and reply is checked
against Elastic's specification), the LLM check against the local TGI server, the Slack check against a
local server answering ``auth.test`` as Slack documents it (JSON body, granted scopes in the
``x-oauth-scopes`` header). The embedded default runs as a real ``needle doctor`` process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipelines.app.doctor import Report, manifest_scopes, run_doctor
from pipelines.base.errors import NeedleError
from pipelines.base.settings import load_settings
from pipelines.stores.cluster import ClusterTooOld, check_version
from tests.support.fake_elasticsearch import fake_elasticsearch
from tests.support.fake_tgi import fake_tgi_server
from tests.support.processes import ROOT, needle_environment


def _check(report: Report, name: str) -> tuple[str, str]:
    (check,) = [c for c in report.checks if c.name == name]
    return check.status, check.detail


def _settings(tmp_path: Path, **overrides: Any):
    directory = tmp_path / "data"
    directory.mkdir(mode=0o700, exist_ok=True)
    return load_settings(_env_file=None, data_dir=directory, **overrides)


@pytest.mark.slow  # a real `needle doctor` process loading the model (about 11 s)
def test_the_embedded_default_is_ready_with_every_check_green(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "doctor", "--json"],
        env=needle_environment(NEEDLE_DATA_DIR=str(data)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert report["ready"] is True
    assert statuses == {
        "data directory": "ok",
        "embedder": "ok",
        "store": "ok",
        "LLM": "ok",
        "Slack": "skip",
        "console": "ok",
    }
    assert "384 dimensions" in next(c["detail"] for c in report["checks"] if c["name"] == "embedder")


def test_a_data_directory_others_can_read_is_a_warning_with_the_fix(tmp_path) -> None:
    settings = _settings(tmp_path)
    settings.data_dir.chmod(0o755)
    status, detail = _check(run_doctor(settings), "data directory")
    assert status == "warn" and f"chmod 700 {settings.data_dir}" in detail


def test_elasticsearch_reports_version_licence_disk_and_a_matching_index(tmp_path) -> None:
    with fake_elasticsearch() as (url, _state):
        settings = _settings(tmp_path, store="elasticsearch", elasticsearch_url=url)
        from pipelines.stores.elasticsearch import build_elasticsearch_store

        build_elasticsearch_store(settings, 384).client.close()  # the index as `needle serve` creates it
        status, detail = _check(run_doctor(settings), "store")
    assert status == "ok", detail
    assert "Elasticsearch 8.19.0" in detail and "basic licence" in detail
    assert "disk 42% used (high watermark 90%)" in detail and "index 'needle' matches" in detail


def test_an_index_built_for_another_embedder_fails_with_what_to_do(tmp_path) -> None:
    with fake_elasticsearch() as (url, state):
        settings = _settings(tmp_path, store="elasticsearch", elasticsearch_url=url)
        from pipelines.stores.elasticsearch import build_elasticsearch_store

        build_elasticsearch_store(settings, 768).client.close()  # made for a 768-dimension embedder
        status, detail = _check(run_doctor(settings), "store")
        assert state.spec_problems == []
    assert status == "fail"
    assert "'embedding' has dims 768, Needle needs 384" in detail and "needle reindex" in detail


def test_a_full_disk_is_a_warning(tmp_path) -> None:
    with fake_elasticsearch() as (url, state):
        state.disk_percent = 93
        settings = _settings(tmp_path, store="elasticsearch", elasticsearch_url=url)
        status, detail = _check(run_doctor(settings), "store")
    assert status == "warn" and "over the disk high watermark (93% used, limit 90%)" in detail


def test_a_cluster_older_than_knn_with_filters_is_refused_in_one_sentence(tmp_path) -> None:
    with pytest.raises(ClusterTooOld, match=r"Elasticsearch 8\.3\.3 is too old .* 8\.4 or newer for kNN"):
        check_version({"version": {"number": "8.3.3"}})
    assert check_version({"version": {"number": "9.1.0"}}) == "9.1.0"
    with fake_elasticsearch() as (url, state):
        state.version = "7.17.20"
        settings = _settings(tmp_path, store="elasticsearch", elasticsearch_url=url)
        status, detail = _check(run_doctor(settings), "store")
        assert status == "fail" and detail.startswith("Elasticsearch 7.17.20 is too old for Needle")
        # Needle itself refuses to start on it, with the same sentence, before creating anything.
        from pipelines.stores.elasticsearch import build_elasticsearch_store

        with pytest.raises(NeedleError, match=r"7\.17\.20 is too old"):
            build_elasticsearch_store(settings, 384)
        assert not any(method == "PUT" for method, _path, _body in state.requests)


def test_an_unreachable_cluster_is_one_sentence(tmp_path) -> None:
    settings = _settings(
        tmp_path, store="elasticsearch", elasticsearch_url="http://127.0.0.1:9", elasticsearch_index="x"
    )
    status, detail = _check(run_doctor(settings), "store")
    assert status == "fail" and detail.startswith("Elasticsearch at http://127.0.0.1:9 does not answer")


@pytest.mark.slow
def test_the_store_smoke_test_compares_with_the_embedded_store_and_cleans_up(tmp_path) -> None:
    with fake_elasticsearch() as (url, state):
        settings = _settings(tmp_path, store="elasticsearch", elasticsearch_url=url)
        report = run_doctor(settings, store_smoke=True)
        status, detail = _check(report, "store smoke test")
        state.take_in_seeds()
        left = [name for name in state.documents if "doctor" in name]
    assert status == "ok", detail
    assert "3 sample questions have the same top source" in detail
    assert left == []


def test_the_llm_gets_one_tiny_call_and_its_latency(tmp_path) -> None:
    with fake_tgi_server() as (url, state):
        state.reply = lambda messages: "OK"
        settings = _settings(tmp_path, llm_api="tgi", llm_url=url)
        status, detail = _check(run_doctor(settings), "LLM")
        assert status == "ok" and detail.startswith(f"tgi at {url} answered in ")
        state.mode = "error"
        status, detail = _check(run_doctor(settings), "LLM")
    assert status == "fail" and "check NEEDLE_LLM_URL" in detail


@contextmanager
def slack_auth_server(reply: dict[str, Any], scopes: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            assert self.path == "/api/auth.test" and self.headers["Authorization"] == "Bearer xoxb-test"
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-oauth-scopes", scopes)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


def test_slack_checks_the_token_and_the_scopes_the_manifest_asks_for(tmp_path) -> None:
    scopes = manifest_scopes()
    assert "app_mentions:read" in scopes and "chat:write" in scopes and len(scopes) >= 10
    granted = {"ok": True, "team": "Acme", "user": "needle", "team_id": "T1", "user_id": "U1"}
    with slack_auth_server(granted, ",".join(scopes)) as api:
        settings = _settings(
            tmp_path, slack_bot_token="xoxb-test", slack_app_token="xapp-test", slack_api_url=api
        )
        assert _check(run_doctor(settings), "Slack") == (
            "ok",
            "Slack answers as @needle in Acme; Socket Mode, no public URL needed",
        )
        http = _settings(
            tmp_path,
            slack_bot_token="xoxb-test",
            slack_api_url=api,
            slack_mode="http",
            slack_signing_secret="s",
            public_base_url="http://needle.acme.example",
        )
        status, detail = _check(run_doctor(http), "Slack")
        assert status == "fail" and "is not HTTPS" in detail
    with slack_auth_server(granted, ",".join(s for s in scopes if s != "usergroups:read")) as api:
        settings = _settings(
            tmp_path, slack_bot_token="xoxb-test", slack_app_token="xapp-test", slack_api_url=api
        )
        status, detail = _check(run_doctor(settings), "Slack")
        assert status == "fail" and "lacks usergroups:read" in detail
    with slack_auth_server({"ok": False, "error": "token_revoked"}, "") as api:
        settings = _settings(
            tmp_path, slack_bot_token="xoxb-test", slack_app_token="xapp-test", slack_api_url=api
        )
        status, detail = _check(run_doctor(settings), "Slack")
    assert status == "fail" and detail.startswith("Slack refused the bot token (token_revoked)")


def test_a_console_on_plain_http_behind_a_real_name_fails(tmp_path) -> None:
    plain = _settings(tmp_path, public_base_url="http://needle.acme.example")
    status, detail = _check(run_doctor(plain), "console")
    assert status == "fail" and "plain HTTP" in detail
    secure = _settings(tmp_path, public_base_url="https://needle.acme.example")
    assert _check(run_doctor(secure), "console")[0] == "ok"
