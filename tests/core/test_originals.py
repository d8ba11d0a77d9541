"""Kept originals: files on the embedded store, records (Elasticsearch in production) otherwise, so any
replica can re-index any source."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.stores import originals as originals_module
from pipelines.stores.originals import FileOriginalStore, OriginalStore, RecordOriginalStore
from pipelines.stores.records import RecordStore


@pytest.fixture(params=["files", "records"])
def store(request: pytest.FixtureRequest, tmp_path: Path, records: RecordStore) -> OriginalStore:
    if request.param == "files":
        return FileOriginalStore(tmp_path / "originals")
    return RecordOriginalStore(records)


def test_keep_replace_and_delete(store: OriginalStore) -> None:
    assert store.get("policy-1") is None
    store.keep("policy-1", "policy.pdf", b"%PDF version one")
    assert store.get("policy-1") == ("policy.pdf", b"%PDF version one")
    store.keep("policy-1", "policy.pdf", b"%PDF version two", only_if_missing=True)
    assert store.get("policy-1") == ("policy.pdf", b"%PDF version one")
    store.keep("policy-1", "policy.pdf", b"%PDF version two")
    assert store.get("policy-1") == ("policy.pdf", b"%PDF version two")
    store.delete("policy-1")
    assert store.get("policy-1") is None
    store.delete("policy-1")  # deleting twice is not an error


def test_large_files_are_split_and_rejoined(records: RecordStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(originals_module, "PART_BYTES", 1000)
    store = RecordOriginalStore(records)
    data = bytes(range(256)) * 20  # 5,120 bytes: six parts
    store.keep("big", "big.bin", data)
    assert store.get("big") == ("big.bin", data)
    assert len(records.query("originals", limit=100)) == 7  # six parts and the manifest
    store.keep("big", "big.bin", b"small now")
    assert store.get("big") == ("big.bin", b"small now")
    assert len(records.query("originals", limit=100)) == 2  # the old parts are gone
    store.delete("big")
    assert records.query("originals", limit=100) == []


def test_an_interrupted_replacement_leaves_the_old_version_readable(
    records: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts are written under a key of their content and the manifest last: a crash in between leaves
    the previous original whole."""
    store = RecordOriginalStore(records)
    store.keep("doc", "doc.md", b"old text")
    real_put = records.put

    def put_parts_then_fail(collection, key, fields=None, body=None):
        if key == "doc":
            raise ConnectionError("replica died")
        return real_put(collection, key, fields, body)

    monkeypatch.setattr(records, "put", put_parts_then_fail)
    with pytest.raises(ConnectionError):
        store.keep("doc", "doc.md", b"new text")
    monkeypatch.undo()
    assert store.get("doc") == ("doc.md", b"old text")


def test_a_damaged_original_is_reported_not_indexed(records: RecordStore) -> None:
    store = RecordOriginalStore(records)
    store.keep("doc", "doc.md", b"text")
    manifest = records.get("originals", "doc")
    assert manifest is not None
    records.put("originals", "doc", {**manifest.fields, "sha256": "0" * 64})
    with pytest.raises(RuntimeError, match=r"missing|damaged"):
        store.get("doc")


#: 255 bytes, the longest name ext4, XFS and tmpfs take: a temporary name built from it cannot exist.
LONGEST_NAME = "m" + "文" * 83 + "é.md"


def test_a_255_byte_name_is_kept_under_a_short_name_and_given_back(
    store: OriginalStore, tmp_path: Path
) -> None:
    assert len(LONGEST_NAME.encode("utf-8")) == 255
    store.keep("long", LONGEST_NAME, b"# Long\n\nbananas")
    assert store.get("long") == (LONGEST_NAME, b"# Long\n\nbananas")
    store.keep("long", LONGEST_NAME, b"# Long\n\ncherries")
    assert store.get("long") == (LONGEST_NAME, b"# Long\n\ncherries")
    if isinstance(store, FileOriginalStore):
        names = [path.name for path in (tmp_path / "originals" / "long").iterdir()]
        assert len(names) == 2 and all(len(name.encode()) <= 32 for name in names), names


def test_originals_kept_under_their_own_name_are_still_found(tmp_path: Path) -> None:
    """The layout before derived names: ``<source id>/<file name>``. Nothing kept then may be lost."""
    root = tmp_path / "originals"
    (root / "policy-1").mkdir(parents=True)
    (root / "policy-1" / "Policy 2024.pdf").write_bytes(b"%PDF old layout")
    (root / "policy-1" / ".Policy 2024.pdf.tmp").write_bytes(b"%PDF a crash's leftover")
    store = FileOriginalStore(root)
    assert store.get("policy-1") == ("Policy 2024.pdf", b"%PDF old layout")
    assert store.path_of("policy-1") == root / "policy-1" / "Policy 2024.pdf"
    store.keep("policy-1", "Policy 2024.pdf", b"%PDF other", only_if_missing=True)
    assert store.get("policy-1") == ("Policy 2024.pdf", b"%PDF old layout")  # present: left alone
    store.keep("policy-1", "Policy 2024.pdf", b"%PDF new version")
    assert store.get("policy-1") == ("Policy 2024.pdf", b"%PDF new version")
    assert len(list((root / "policy-1").iterdir())) == 2  # the old file and the leftover are gone
    store.delete("policy-1")
    assert store.get("policy-1") is None


def test_a_name_file_without_its_bytes_is_not_an_original(tmp_path: Path) -> None:
    """A crash after the name was written and before the bytes: the previous version is the one kept."""
    store = FileOriginalStore(tmp_path / "originals")
    store.keep("doc", "doc.md", b"old text")
    (tmp_path / "originals" / "doc" / "0123456789abcdef.name").write_text("doc.md")
    assert store.get("doc") == ("doc.md", b"old text")
