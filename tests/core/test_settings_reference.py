"""The configuration reference is generated from the settings model, and tells the truth about it.

The site's configuration page (``docs/configuration.md``) holds a marker that the MkDocs hook
``docs/hooks/settings_reference.py`` replaces with tables built from ``Settings``; ``scripts/test.sh`` builds
the site strictly. These tests check what the build cannot: that every setting is described, that each
environment variable the reference names is one Needle really reads, and that nothing machine-specific
or secret ends up on the page.
"""

from __future__ import annotations

import html
import importlib.util
import re
import typing
from pathlib import Path
from types import ModuleType

import pytest

from pipelines.base.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "docs" / "hooks" / "settings_reference.py"


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_reference", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def _rows(markdown: str) -> dict[str, str]:
    """Each table row of the reference, keyed by every environment variable it names."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            for variable in re.findall(r"`([A-Z0-9_]+)`", first_cell):
                rows[variable] = line
    return rows


def test_every_setting_says_what_it_does() -> None:
    undocumented = [
        name for name, field in Settings.model_fields.items() if not (field.description or "").strip()
    ]
    assert undocumented == [], "add description= to these fields: the reference is generated from them"


def test_the_configuration_page_lists_every_setting_with_its_default() -> None:
    page = hook.on_page_markdown((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    assert "settings-reference" not in page  # the marker was replaced
    rows = _rows(page)
    for name, field in Settings.model_fields.items():
        variables = hook.env_names(name, field, "NEEDLE_")
        assert variables, name
        for variable in variables:
            assert variable in rows, f"{variable} ({name}) is missing from the reference"
        row = rows[variables[0]]
        assert field.description in html.unescape(row)
        if field.default_factory is None:
            default = field.default
            expected = (
                "unset"
                if default is None
                else str(default).lower()
                if isinstance(default, bool)
                else str(default)
            )
            assert expected in row, f"{name}: default {expected!r} not in {row!r}"


def test_a_default_that_depends_on_the_machine_is_described_not_computed() -> None:
    rows = _rows(hook.reference())
    assert "~/.local/share/needle" in rows["NEEDLE_DATA_DIR"]
    assert str(Path.home()) not in rows["NEEDLE_DATA_DIR"]
    assert "CPU count, at most 4" in rows["NEEDLE_SLACK_WORKERS"]
    assert '`["en"]`' in rows["NEEDLE_EMBEDDING_LANGUAGES"]  # a factory without a docstring: its value


def test_aliases_are_listed_as_the_variables_that_work(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(hook.reference())
    assert rows["HF_API_TOKEN"] == rows["NEEDLE_HF_TOKEN"] == rows["HF_TOKEN"]
    followups = rows["NEEDLE_SLACK_FOLLOWUPS"]
    assert "NEEDLE_SLACK_THREAD_FOLLOWUPS" in followups
    assert "`slack_followups`" not in followups  # the lower-case alias is for keyword arguments, not the env
    for variable in ("HF_API_TOKEN", "HF_TOKEN", "NEEDLE_HF_TOKEN"):
        with monkeypatch.context() as env:
            for other in ("HF_API_TOKEN", "HF_TOKEN", "NEEDLE_HF_TOKEN"):
                env.delenv(other, raising=False)
            env.setenv(variable, "hf_from_" + variable)
            token = Settings(_env_file=None).hf_token  # type: ignore[call-arg]
            assert token is not None and token.get_secret_value() == "hf_from_" + variable
    monkeypatch.setenv("NEEDLE_SLACK_THREAD_FOLLOWUPS", "false")
    monkeypatch.delenv("NEEDLE_SLACK_FOLLOWUPS", raising=False)
    assert Settings(_env_file=None).slack_followups == "mention-only"  # type: ignore[call-arg]


def _another_value(field: typing.Any) -> object | None:
    """A valid value other than the default for numbers and booleans (None for other types)."""
    kind = next(
        (arg for arg in (field.annotation, *typing.get_args(field.annotation)) if arg in (bool, int, float)),
        None,
    )
    if kind is None:
        return None
    default = field.get_default(call_default_factory=True)
    if kind is bool:
        return not default
    bounds = {
        attribute: getattr(item, attribute)
        for item in field.metadata
        for attribute in ("ge", "gt", "le")
        if getattr(item, attribute, None) is not None
    }
    step = 1 if kind is int else 0.5
    candidate = (default if default is not None else bounds.get("ge", 1)) + step
    if "le" in bounds and candidate > bounds["le"]:
        candidate = bounds.get("ge", bounds.get("gt", 0) + step)
    return candidate


def test_every_listed_variable_of_a_number_or_switch_changes_its_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = 0
    for name, field in Settings.model_fields.items():
        value = _another_value(field)
        if value is None:
            continue
        for variable in hook.env_names(name, field, "NEEDLE_"):
            with monkeypatch.context() as env:
                env.setenv(variable, str(value).lower() if isinstance(value, bool) else str(value))
                assert getattr(Settings(_env_file=None), name) == value, variable  # type: ignore[call-arg]
            checked += 1
    assert checked >= 30  # most settings are numbers; a change that skipped them all would pass silently


def test_no_secret_from_the_environment_reaches_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLE_SLACK_BOT_TOKEN", "xoxb-must-not-appear")
    monkeypatch.setenv("NEEDLE_ADMIN_PASSWORD", "hunter2-must-not-appear")
    page = hook.reference()
    assert "must-not-appear" not in page
    assert "| secret |" in _rows(page)["NEEDLE_ADMIN_PASSWORD"]


def test_a_marker_may_ask_for_one_group_or_some_variables() -> None:
    slack = hook.on_page_markdown("before\n<!-- settings-reference: Slack bot -->\nafter")
    assert "NEEDLE_SLACK_MODE" in slack and "NEEDLE_TOP_K" not in slack and "settings-reference" not in slack
    assert "Slack posts to &lt;public URL&gt;/slack/events" in slack  # shown as text, not read as a tag
    some = hook.reference("NEEDLE_PORT, NEEDLE_HOST")
    assert list(_rows(some)) == ["NEEDLE_PORT", "NEEDLE_HOST"]


@pytest.mark.parametrize("which", ["No such group", "NEEDLE_NO_SUCH_SETTING", "NEEDLE_PORT, NEEDLE_NOPE"])
def test_a_marker_naming_nothing_the_model_has_stops_the_build(which: str) -> None:
    with pytest.raises(ValueError, match="no setting"):
        hook.reference(which)
