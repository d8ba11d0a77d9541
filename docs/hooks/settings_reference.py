"""MkDocs hook: the configuration reference, generated from the settings model so it cannot drift.

A page asks for the reference with a marker on a line of its own:

    <!-- settings-reference -->               every setting, one table per group of the model
    <!-- settings-reference: Slack bot -->    one group (the ``# --- slack bot ---`` comment in the model)
    <!-- settings-reference: NEEDLE_HOST, NEEDLE_PORT -->    these settings, in this order

and the hook replaces the marker with Markdown tables built from ``Settings.model_fields``: each field's
environment variables (``NEEDLE_`` plus its name, or its aliases), type and allowed range, default and
``description=``. A marker naming a group or a variable the model does not have stops the build, so a
renamed group or setting cannot silently empty a page. ``tests/core/test_settings_reference.py`` checks
that every field has a description and that the reference names only variables Needle really reads.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!--\s*settings-reference(?::\s*(?P<group>[^>]*?))?\s*-->\s*$", re.MULTILINE)
_GROUP_COMMENT = re.compile(r"^\s+# -+ (?P<title>.+?) -+\s*$")
_FIELD_LINE = re.compile(r"^    (?P<name>[a-z_][a-z0-9_]*)\s*:")


def _settings_module() -> types.ModuleType:
    """The module that defines ``Settings``, importable from this repository whoever runs MkDocs."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("pipelines.base.settings")


def groups(settings_class: type | None = None) -> dict[str, list[str]]:
    """Field names by group, in the model's order; groups are the ``# --- title ---`` comments."""
    settings_class = settings_class or _settings_module().Settings
    names = set(settings_class.model_fields)
    result: dict[str, list[str]] = {}
    current = "General"
    for line in inspect.getsource(settings_class).splitlines():
        if heading := _GROUP_COMMENT.match(line):
            current = heading["title"][0].upper() + heading["title"][1:]
        elif (field := _FIELD_LINE.match(line)) and field["name"] in names:
            result.setdefault(current, []).append(field["name"])
    missing = names - {name for group in result.values() for name in group}
    if missing:  # a field declared in a way the line pattern does not see: say so rather than drop it
        raise ValueError(f"settings fields not found in the model's source: {sorted(missing)}")
    return result


def env_names(name: str, field: Any, prefix: str) -> list[str]:
    """The environment variables a field is read from: its aliases when it has any, else PREFIX + NAME.

    An alias in lower case (the field's own name, kept first so errors and keyword arguments use it) is
    not an environment variable anyone should set, so it is left out.
    """
    alias = field.validation_alias
    if alias is None:
        return [f"{prefix}{name.upper()}"]
    choices = getattr(alias, "choices", [alias])
    return [choice for choice in choices if isinstance(choice, str) and choice.isupper()]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in args)
    if origin is list:
        return f"JSON list of {_type_name(args[0])}" if args else "JSON list"
    if origin is dict:
        return "JSON object"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    simple = {bool: "true/false", int: "integer", float: "number", str: "text", Path: "path"}
    if annotation in simple:
        return simple[annotation]
    if getattr(annotation, "__name__", "") == "SecretStr":
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for attribute, text in (("ge", ">= {}"), ("gt", "> {}"), ("le", "<= {}"), ("lt", "< {}")):
            if getattr(item, attribute, None) is not None:
                parts.append(text.format(getattr(item, attribute)))
        if getattr(item, "max_length", None) is not None:
            parts.append(f"at most {item.max_length} items")
        if getattr(item, "pattern", None):
            parts.append(f"matching `{item.pattern}`")
    return ", ".join(parts)


def _value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def default_text(field: Any) -> str:
    """The default as a reader should see it: a factory that depends on the machine (the data directory,
    the CPU count) is described by its docstring, not by what it returns on the machine building the docs."""
    factory = field.default_factory
    if factory is None:
        return _value(field.default)
    doc = inspect.getdoc(factory)
    if doc and factory.__name__ != "<lambda>" and factory not in (list, dict):
        return doc.splitlines()[0].replace("``", "`")
    return _value(factory())


def _cell(text: str) -> str:
    """Text for a table cell: ``|`` would end the cell, and outside code spans ``<``/``>`` would be read as
    HTML (``<public URL>`` would vanish from the page)."""
    pieces = text.replace("\n", " ").split("`")
    for index in range(0, len(pieces), 2):  # even pieces are outside code spans
        pieces[index] = pieces[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(pieces).replace("|", "\\|")


def reference(which: str | None = None) -> str:
    """Markdown tables of the settings: all of them under ``###`` headings, one group, or the settings read
    from a comma-separated list of environment variables."""
    module = _settings_module()
    settings_class, prefix = module.Settings, module.ENV_PREFIX
    by_group = groups(settings_class)
    if which is None:
        selected = by_group
    elif which.strip().upper().startswith(prefix) or "," in which:
        by_variable = {
            variable: name
            for name, field in settings_class.model_fields.items()
            for variable in env_names(name, field, prefix)
        }
        variables = [variable.strip() for variable in which.split(",") if variable.strip()]
        unknown = [variable for variable in variables if variable not in by_variable]
        if unknown:
            raise ValueError(f"no setting read from {', '.join(unknown)}")
        selected = {"": [by_variable[variable] for variable in variables]}
    else:
        wanted = {title.lower(): title for title in by_group}
        if which.strip().lower() not in wanted:
            raise ValueError(f"no settings group {which!r}; the model has: {', '.join(by_group)}")
        key = wanted[which.strip().lower()]
        selected = {key: by_group[key]}
    out: list[str] = []
    for title, names in selected.items():
        if which is None:
            out += [f"### {title}", ""]
        out += ["| Variable | Type | Default | What it does |", "|---|---|---|---|"]
        for name in names:
            field = settings_class.model_fields[name]
            variables = "<br>".join(f"`{variable}`" for variable in env_names(name, field, prefix))
            kind = _type_name(field.annotation)
            if limits := _constraints(field):
                kind += f" ({limits})"
            description = field.description or ""
            out.append(
                f"| {variables} | {_cell(kind)} | {_cell(default_text(field))} | {_cell(description)} |"
            )
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: replace every settings-reference marker on the page with its tables."""
    return MARKER.sub(lambda match: reference(match["group"]), markdown)
