"""The folder connector: a directory tree, such as a mounted file share, kept in sync.

Every file Needle can index under ``path`` is one document; its id is its path relative to the root (so
moving the share's mount point changes nothing), its version its modification time and size. The engine
fetches a file only when that version changed, and indexes it only when its bytes did (a ``touch`` costs a
read, not a re-embedding). Hidden files and folders are skipped. Symbolic links are followed only when
they point to a file inside the tree: a link out of the share must not publish whatever it points to.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from pipelines.connectors.base import (
    Connector,
    ConnectorError,
    DocumentRef,
    FetchedDocument,
    Gone,
    NotModified,
    register,
)
from pipelines.indexing.file_inspector import SUPPORTED_EXTENSIONS


@register
class FolderConnector(Connector):
    kind = "folder"
    settings: ClassVar[Mapping[str, str]] = {
        "path": "the directory to index, e.g. /mnt/share/handbook",
        "url_prefix": "optional: the web address the folder is served under, for links in citations",
    }
    required_settings = ("path",)
    default_interval = 3600
    titles_from_documents = True  # a file name is a poor title; the document's heading is better

    @property
    def root(self) -> Path:
        return Path(self.config["path"]).expanduser()

    def check_config(self) -> None:
        super().check_config()
        if not self.root.is_absolute():
            raise ConnectorError(f"path must be absolute (e.g. /mnt/share), not {self.config['path']!r}")
        if not self.root.is_dir():
            raise ConnectorError(f"{self.root} is not a directory this machine can read")

    def list_documents(self) -> Iterator[DocumentRef]:
        root = self.root
        try:
            real_root = root.resolve(strict=True)
            if not real_root.is_dir():
                raise NotADirectoryError(str(root))
        except OSError as error:
            # An unmounted share looks like an empty or missing folder: fail, never list nothing.
            raise ConnectorError(f"the folder {root} cannot be read ({error.strerror or error})") from error
        yield from self._walk(root, real_root)

    def _walk(self, root: Path, real_root: Path) -> Iterator[DocumentRef]:
        def fail(error: OSError) -> None:
            raise ConnectorError(f"a folder under {root} cannot be read ({error.strerror or error})")

        for folder, dirs, files in os.walk(root, onerror=fail, followlinks=False):
            dirs[:] = sorted(name for name in dirs if not name.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                    continue
                path = Path(folder) / name
                ref = self._ref(path, root, real_root)
                if ref is not None:
                    yield ref

    def _ref(self, path: Path, root: Path, real_root: Path) -> DocumentRef | None:
        """The reference of one file, or ``None`` for a link out of the tree (or to a non-file)."""
        try:
            target = path.resolve(strict=True)
            info = target.stat()
        except OSError:  # a dangling link, or the file went away while listing
            return None
        if not target.is_relative_to(real_root) or not stat.S_ISREG(info.st_mode):
            return None
        relative = path.relative_to(root).as_posix()
        modified = datetime.fromtimestamp(info.st_mtime, UTC).isoformat(timespec="seconds")
        return DocumentRef(
            id=relative,
            title=relative,
            version=f"{info.st_mtime_ns}-{info.st_size}",
            url=self._url(relative),
            modified=modified,
        )

    def _url(self, relative: str) -> str | None:
        prefix = (self.config.get("url_prefix") or "").strip()
        return f"{prefix.rstrip('/')}/{quote(relative)}" if prefix else None

    def fetch(
        self, ref: DocumentRef, previous_version: str | None = None
    ) -> FetchedDocument | NotModified | Gone:
        root = self.root
        path = root / ref.id
        fresh = self._ref(path, root, root.resolve())
        if fresh is None:
            return Gone(ref, "the file is no longer in the folder")
        if previous_version is not None and fresh.version == previous_version:
            return NotModified(fresh)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ConnectorError(
                f"the file cannot be read ({error.strerror or error})", document_id=ref.id
            ) from error
        return FetchedDocument(ref=fresh, data=data, file_name=path.name)
