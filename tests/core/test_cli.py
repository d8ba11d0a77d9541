from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import cli
from tests.conftest import HANDBOOK


def test_ingest_ask_sources_delete(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(
            ["ingest", str(HANDBOOK / "leave-policy.md"), "--tags", "hr,policy", "--url", "https://x.example"]
        )
        == 0
    )
    assert "indexed" in capsys.readouterr().out

    assert cli.main(["sources", "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)
    assert len(sources) == 1 and sources[0]["tags"] == ["hr", "policy"] and sources[0]["chunks"] > 0

    assert cli.main(["ask", "--json", "How many vacation days do I get?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"answer", "citations", "passages", "trace_id"} <= set(answer)
    citation = answer["citations"][0]
    assert citation["source_id"] == sources[0]["source_id"]
    assert citation["url"] == "https://x.example" and citation["title"] == "Leave Policy"
    assert "page" in citation

    assert cli.main(["delete", sources[0]["source_id"]]) == 0
    assert cli.main(["sources", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == []


def test_errors_go_to_stderr_with_a_non_zero_exit(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["delete", "no-such-source"]) == 1
    assert "no source with id" in capsys.readouterr().err

    bad = data_dir.parent / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing else")
    assert cli.main(["ingest", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "rejected" in captured.err and "PDF" in captured.err

    assert cli.main(["ingest", str(data_dir.parent / "missing.md")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_invalid_settings_name_the_variable(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NEEDLE_TOP_K", "-3")
    assert cli.main(["sources"]) == 1
    assert "NEEDLE_TOP_K" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_then_ask_json_as_a_new_user_would(tmp_path: Path) -> None:
    """The README's run command followed by the 'done when' question, as separate processes."""
    env = {**os.environ, "NEEDLE_DATA_DIR": str(tmp_path / "data")}
    demo = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    assert "25 vacation days" in demo.stdout
    ask = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "ask", "--json", "How many vacation days do I get?"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["citations"][0]["file_name"] == "leave-policy.md"


@pytest.mark.slow
def test_needle_ingest_from_a_terminal_reaches_a_running_service(tmp_path: Path, service_factory) -> None:
    """``needle serve`` keeps running while someone runs ``needle ingest``: answers include the new file
    without a restart, and the service's own next upload keeps it."""
    data = tmp_path / "data"
    service = service_factory(data_dir=data)
    service.ingest_file(HANDBOOK / "leave-policy.md")
    env = {**os.environ, "NEEDLE_DATA_DIR": str(data)}
    ingest = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "ingest", str(HANDBOOK / "it-setup-guide.md")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ingest.returncode == 0, ingest.stderr
    time.sleep(service.store.refresh_seconds)
    assert {s.file_name for s in service.list_sources()} == {"leave-policy.md", "it-setup-guide.md"}
    assert service.ask("How do I connect to the VPN?").citations[0].file_name == "it-setup-guide.md"

    service.ingest_file(HANDBOOK / "remote-work-policy.docx")
    listed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sources", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    names = {source["file_name"] for source in json.loads(listed.stdout)}
    assert names == {"leave-policy.md", "it-setup-guide.md", "remote-work-policy.docx"}
