from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.base.settings import BUNDLED_EMBEDDING_MODEL, SettingsError, load_settings


def test_defaults_are_the_embedded_offline_setup(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.store == "memory"
    assert settings.embedding_model == BUNDLED_EMBEDDING_MODEL
    assert settings.llm_api == "none" and not settings.llm_enabled
    assert settings.fusion == "weighted"  # tuned on SciFact train (results/tuning-scifact-train.json)
    assert settings.reranker_model is None


def test_environment_variables_use_the_needle_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEEDLE_DATA_DIR", str(tmp_path / "x"))
    monkeypatch.setenv("NEEDLE_TOP_K", "7")
    monkeypatch.setenv("NEEDLE_FUSION", "weighted")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    settings = load_settings(_env_file=None)
    assert settings.data_dir == tmp_path / "x"
    assert settings.top_k == 7
    assert settings.fusion == "weighted"
    assert settings.hf_token is not None and settings.hf_token.get_secret_value() == "hf_secret"
    assert "hf_secret" not in repr(settings)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("NEEDLE_CHUNK_WORDS=150\nNEEDLE_RRF_K=30\n")
    settings = load_settings(_env_file=env, data_dir=tmp_path)
    assert (settings.chunk_words, settings.rrf_k) == (150, 30)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NEEDLE_TOP_K": "0"}, "NEEDLE_TOP_K"),
        ({"NEEDLE_FUSION": "average"}, "NEEDLE_FUSION"),
        ({"NEEDLE_STORE": "postgres"}, "NEEDLE_STORE"),
        ({"NEEDLE_CHUNK_WORDS": "100", "NEEDLE_CHUNK_OVERLAP_WORDS": "100"}, "NEEDLE_CHUNK_OVERLAP_WORDS"),
        ({"NEEDLE_STORE": "elasticsearch"}, "NEEDLE_ELASTICSEARCH_URL"),
        ({"NEEDLE_LLM_API": "serverless"}, "NEEDLE_LLM_MODEL"),
        ({"NEEDLE_LLM_API": "tgi"}, "NEEDLE_LLM_URL"),
        ({"NEEDLE_LLM_API": "tgi", "NEEDLE_LLM_URL": "localhost:8080"}, "NEEDLE_LLM_URL"),
        ({"NEEDLE_SLACK_BOT_TOKEN": "xoxb-1", "NEEDLE_SLACK_MODE": "http"}, "NEEDLE_SLACK_SIGNING_SECRET"),
        ({"NEEDLE_SLACK_BOT_TOKEN": "xoxb-1"}, "NEEDLE_SLACK_APP_TOKEN"),
    ],
)
def test_invalid_settings_fail_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, data_dir=tmp_path)
    assert named in str(error.value)


def test_public_summary_has_no_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        _env_file=None, data_dir=tmp_path, llm_api="tgi", llm_url="http://127.0.0.1:1", hf_token="hf_abc"
    )
    assert "hf_abc" not in str(settings.public_summary())
