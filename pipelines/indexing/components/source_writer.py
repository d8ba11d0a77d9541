"""Write a source's chunks so that they replace, never duplicate, the source's earlier chunks."""

from __future__ import annotations

from typing import Any

from haystack import Document, component

from pipelines.stores.backends import SearchBackend


@component
class SourceWriter:
    """Group chunks by ``meta.source_id`` and make each group the source's only chunks.

    An empty input writes nothing: a file that yielded no text must not wipe the source's previous
    version (the service rejects such a file with a reason).
    """

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    @component.output_types(documents_written=int, source_ids=list[str])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        groups: dict[str, list[Document]] = {}
        for document in documents:
            source_id = document.meta.get("source_id")
            if not source_id:
                raise ValueError(f"chunk {document.id} has no meta.source_id")
            groups.setdefault(source_id, []).append(document)
        written = self.backend.replace_sources(groups) if groups else 0
        return {"documents_written": written, "source_ids": sorted(groups)}
