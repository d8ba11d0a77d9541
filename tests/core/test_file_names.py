"""File names as people's machines send them: direction overrides and bytes that are not UTF-8."""

from __future__ import annotations

import json

from pipelines.indexing.file_inspector import safe_file_name
from pipelines.indexing.sources import source_id_for


def test_bidirectional_controls_are_stripped_so_a_name_reads_as_it_is() -> None:
    # "invoice‮fdp.exe" displays as "invoiceexe.pdf" in Slack and in the console.
    assert safe_file_name("invoice\u202efdp.exe") == "invoicefdp.exe"
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert safe_file_name(f"a{control}b.md") == "ab.md", hex(ord(control))
    assert safe_file_name("\u202e\u202e") == "unnamed"


def test_a_name_with_bytes_that_are_not_utf8_gets_an_id_and_serialises() -> None:
    raw = b"caf\xe9 menu.md".decode("utf-8", "surrogateescape")  # how Linux hands Python a Latin-1 name
    name = safe_file_name(raw)
    assert name == "caf\ufffd menu.md"
    json.dumps(name, ensure_ascii=False).encode("utf-8")
    assert source_id_for(raw).startswith("caf-menu-")
