"""The uploaded files themselves, kept so any source can be re-indexed later (new model, new chunking).

On the embedded store they are files under the data directory. With Elasticsearch they must not live on
the disk of whichever replica received the upload, or "re-index this source" fails on every other
replica: :class:`RecordOriginalStore` keeps them in the record store, split into parts small enough for
one request each, with a manifest written last, so a reader sees the old version or the whole new one.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Protocol

from pipelines.stores.records import RecordStore

#: Bytes per stored part: base64 makes each request about 5.4 MB, far under Elasticsearch's 100 MB limit.
PART_BYTES = 4 * 1024 * 1024
COLLECTION = "originals"


class OriginalStore(Protocol):
    def keep(self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False) -> None:
        """Store the file as the source's original, replacing an earlier one."""
        ...

    def get(self, source_id: str) -> tuple[str, bytes] | None:
        """``(file_name, data)`` of the source's original, or ``None`` when none is kept."""
        ...

    def delete(self, source_id: str) -> None: ...


class FileOriginalStore:
    """``<root>/<source_id>/<file name>``, replaced atomically (write a temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(self, source_id: str, file_name: str, data: bytes, only_if_missing: bool = False) -> None:
        folder = self.root / source_id
        if only_if_missing and (folder / file_name).is_file():
            return
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.name != file_name:
                old.unlink()
        tmp = folder / f".{file_name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / file_name)

    def get(self, source_id: str) -> tuple[str, bytes] | None:
        folder = self.root / source_id
        files = (
            [path for path in folder.iterdir() if not path.name.startswith(".")] if folder.is_dir() else []
        )
        return (files[0].name, files[0].read_bytes()) if files else None

    def delete(self, source_id: str) -> None:
        import shutil

        shutil.rmtree(self.root / source_id, ignore_errors=True)


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
