"""``.env.example`` lists every setting with a comment, documents the real defaults, and is safe as copied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.base.settings import ENV_PREFIX, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
#: Lines whose value is an example, or a default computed on the machine (CPU count), not a constant.
EXAMPLE_VALUES = {"NEEDLE_DATA_DIR", "NEEDLE_PUBLIC_BASE_URL", "NEEDLE_SLACK_WORKERS"}
_LINE = re.compile(r"^(?:# )?(NEEDLE_[A-Z0-9_]+)=(.*)$")


def _lines() -> list[str]:
    return EXAMPLE.read_text(encoding="utf-8").splitlines()


def _documented() -> dict[str, tuple[str, bool]]:
    """variable -> (value, commented out)."""
    found = {}
    for line in _lines():
        match = _LINE.match(line)
        if match:
            found[match.group(1)] = (match.group(2), line.startswith("#"))
    return found


def test_every_setting_is_listed_once_with_a_comment_above_it() -> None:
    names = {f"{ENV_PREFIX}{field.upper()}" for field in Settings.model_fields}
    documented = _documented()
    assert set(documented) == names, (names - set(documented), set(documented) - names)
    lines = _lines()
    for index, line in enumerate(lines):
        match = _LINE.match(line)
        if match:
            assert (
                sum(
                    bool(_LINE.match(other)) and _LINE.match(other).group(1) == match.group(1)
                    for other in lines
                )
                == 1
            )
            above = lines[index - 1]
            assert above.startswith("# ") and not _LINE.match(above), f"no comment above {match.group(1)}"


def test_secrets_are_empty() -> None:
    secrets = ("_PASSWORD", "_TOKEN", "_SECRET", "_API_KEY")
    for name, (value, _commented) in _documented().items():
        if name.endswith(secrets):
            assert value == "", name
    assert "ELASTIC_PASSWORD=\n" in EXAMPLE.read_text(encoding="utf-8")


def test_the_documented_defaults_are_the_real_defaults(tmp_path: Path) -> None:
    """Uncomment every default: the settings must come out exactly as with no .env at all."""
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(
            f"{name}={value}"
            for name, (value, commented) in _documented().items()
            if commented and value and name not in EXAMPLE_VALUES
        ),
        encoding="utf-8",
    )
    data_dir = tmp_path / "data"
    with_defaults = load_settings(_env_file=env, data_dir=data_dir)
    plain = load_settings(_env_file=None, data_dir=data_dir)
    assert with_defaults.model_dump() == plain.model_dump()


def test_the_example_as_copied_loads_and_keeps_the_console_locked(tmp_path: Path) -> None:
    settings = load_settings(_env_file=EXAMPLE, data_dir=tmp_path)
    assert not settings.slack_enabled
    assert settings.llm_api == "none" and settings.store == "memory"
    from admin.security import AdminConfigError, check_exposure

    with pytest.raises(AdminConfigError, match="NEEDLE_ADMIN_PASSWORD"):  # empty password = no password
        check_exposure(settings.model_copy(update={"host": "0.0.0.0"}))  # noqa: S104 - as in compose


def test_empty_values_in_a_dotenv_mean_unset(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("NEEDLE_SLACK_BOT_TOKEN=\nNEEDLE_SLACK_SIGNING_SECRET=\nNEEDLE_SLACK_ADMIN_USER_IDS=\n")
    settings = load_settings(_env_file=env, data_dir=tmp_path)
    assert not settings.slack_enabled
    assert settings.slack_admin_user_ids == []
