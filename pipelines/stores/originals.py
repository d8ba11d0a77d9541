"""The uploaded files themselves, kept so any source can be re-indexed later (new model, new chunking).

On the embedded store they are files under the data directory. With Elasticsearch they must not live on
the disk of whichever replica received the upload, or "re-index this source" fails on every other
replica: :class:`RecordOriginalStore` keeps them in the record store, split into parts small enough for
one request each, with a manifest written last, so a reader sees the old version or the whole new one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Protocol

from pipelines.stores.records import RecordStore
from pipelines.stores.segments import write_atomically

#: Bytes per stored part: base64 makes each request about 5.4 MB, far under Elasticsearch's 100 MB limit.
PART_BYTES = 4 * 1024 * 1024
COLLECTION = "originals"
#: A kept original's two files: its bytes and its file name, under a name derived from the content.
DATA_SUFFIX = ".original"
NAME_SUFFIX = ".name"
_DERIVED = re.compile(r"[0-9a-f]{16}\.original")
_DERIVED_ANY = re.compile(r"[0-9a-f]{16}\.(original|name)")


class OriginalStore(Protocol):
    def keep(self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False) -> None:
        """Store the file as the source's original, replacing an earlier one."""
        ...

    def get(self, source_id: str) -> tuple[str, bytes] | None:
        """``(file_name, data)`` of the source's original, or ``None`` when none is kept."""
        ...

    def delete(self, source_id: str) -> None: ...


class FileOriginalStore:
    """``<root>/<source_id>/<digest>.original`` (the bytes) beside ``<digest>.name`` (the file name).

    The file name is kept inside a file, never used as one: a name may be 255 bytes long (the limit of
    most filesystems, which a temporary name built from it would pass), hold characters another
    filesystem refuses, or differ from its source id only in case. ``<digest>`` is the first 16 hex digits
    of the content's SHA-256, so the name file and the bytes of one version always belong together; the
    name is written first, the bytes second (each atomically), then earlier versions are removed. A
    reader takes the newest complete pair, so it sees the old version or the whole new one.

    Originals kept before this layout (``<root>/<source_id>/<file name>``) are still found and are
    replaced by the next ``keep``: nothing indexed earlier loses its original.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False) -> None:
        folder = self.root / source_id
        if only_if_missing and self._kept_file(folder) is not None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        stem = hashlib.sha256(data).hexdigest()[:16]
        write_atomically(folder / f"{stem}{NAME_SUFFIX}", file_name.encode("utf-8", "replace"))
        write_atomically(folder / f"{stem}{DATA_SUFFIX}", data)
        keep = {f"{stem}{NAME_SUFFIX}", f"{stem}{DATA_SUFFIX}"}
        for old in folder.iterdir():
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def get(self, source_id: str) -> tuple[str, bytes] | None:
        kept = self._kept_file(self.root / source_id)
        if kept is None:
            return None
        data_file, name_file = kept
        name = data_file.name if name_file is None else name_file.read_text(encoding="utf-8")
        return name, data_file.read_bytes()

    def path_of(self, source_id: str) -> Path | None:
        """The file holding the source's original bytes (for operators and tests), or ``None``."""
        kept = self._kept_file(self.root / source_id)
        return None if kept is None else kept[0]

    def delete(self, source_id: str) -> None:
        import shutil

        shutil.rmtree(self.root / source_id, ignore_errors=True)

    @staticmethod
    def _kept_file(folder: Path) -> tuple[Path, Path | None] | None:
        """``(bytes file, name file)`` of the newest complete version; ``(legacy file, None)`` for an
        original kept under its own name; ``None`` when nothing is kept. Dot files are temporaries."""
        if not folder.is_dir():
            return None
        files = [path for path in folder.iterdir() if not path.name.startswith(".") and path.is_file()]
        pairs = [
            (path, path.with_suffix(NAME_SUFFIX))
            for path in files
            if _DERIVED.fullmatch(path.name) and path.with_suffix(NAME_SUFFIX).is_file()
        ]
        if pairs:
            return max(pairs, key=lambda pair: pair[0].stat().st_mtime_ns)
        legacy = [path for path in files if not _DERIVED_ANY.fullmatch(path.name)]
        if legacy:
            return max(legacy, key=lambda path: path.stat().st_mtime_ns), None
        return None


class RecordOriginalStore:
    """Originals in the record store (Elasticsearch in production), shared by every replica."""

    def __init__(self, records: RecordStore, collection: str = COLLECTION) -> None:
        self.records = records
        self.collection = collection

    def keep(self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False) -> None:
        digest = hashlib.sha256(data).hexdigest()
        previous = self.records.get(self.collection, source_id)
        if previous is not None and (only_if_missing or previous.fields.get("sha256") == digest):
            return
        # Parts under a key of this content: a reader of the old manifest still finds the old parts.
        parts = max(1, -(-len(data) // PART_BYTES))
        for number in range(parts):
            chunk = data[number * PART_BYTES : (number + 1) * PART_BYTES]
            self.records.put(
                self.collection,
                _part_key(source_id, digest, number),
                body={"data": base64.b64encode(chunk).decode()},
            )
        self.records.put(
            self.collection,
            source_id,
            {"file_name": file_name, "sha256": digest, "parts": parts, "size_bytes": len(data)},
        )
        if previous is not None:
            self._delete_parts(source_id, previous.fields)

    def get(self, source_id: str) -> tuple[str, bytes] | None:
        manifest = self.records.get(self.collection, source_id)
        if manifest is None:
            return None
        fields = manifest.fields
        pieces = []
        for number in range(int(fields["parts"] or 0)):
            part = self.records.get(self.collection, _part_key(source_id, str(fields["sha256"]), number))
            if part is None:
                raise RuntimeError(f"part {number} of the original of {source_id} is missing")
            pieces.append(base64.b64decode(part.body["data"]))
        data = b"".join(pieces)
        if hashlib.sha256(data).hexdigest() != fields["sha256"]:
            raise RuntimeError(f"the kept original of {source_id} is damaged (checksum mismatch)")
        return str(fields["file_name"]), data

    def delete(self, source_id: str) -> None:
        manifest = self.records.get(self.collection, source_id)
        if manifest is not None:
            self.records.delete(self.collection, source_id)
            self._delete_parts(source_id, manifest.fields)

    def _delete_parts(self, source_id: str, fields: dict) -> None:
        for number in range(int(fields.get("parts") or 0)):
            self.records.delete(self.collection, _part_key(source_id, str(fields.get("sha256")), number))


def _part_key(source_id: str, digest: str, number: int) -> str:
    return f"{source_id}~{digest[:16]}~{number}"
