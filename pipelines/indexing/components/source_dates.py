"""Read each file's own date before conversion, while its bytes are still at hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from haystack import component
from haystack.components.converters.utils import get_bytestream_from_source
from haystack.dataclasses import ByteStream

from pipelines.indexing.conversion.dates import document_date

#: The meta key that carries the document's own date (ISO 8601) into every chunk.
DATE_META_KEY = "modified_at"


@component
class SourceDateReader:
    """Put the document's own last-modified (or created) date into ``meta["modified_at"]``.

    Citations should say how current a document is, not when Needle read it. The date is in the file
    (PDF metadata, DOCX core properties, HTML ``<meta>``, Markdown front matter; see
    :mod:`pipelines.indexing.conversion.dates`), and Haystack's converters do not pass it on in one form,
    so it is
    read from the bytes here, before the converter, and travels in the stream's meta into the document and
    from there into every chunk. Files without a date get no key, rather than a guess.
    """

    @component.output_types(sources=list[ByteStream])
    def run(self, sources: list[str | Path | ByteStream]) -> dict[str, list[ByteStream]]:
        """The sources as streams, with ``modified_at`` added to the meta of those that carry a date."""
        out = []
        for source in map(get_bytestream_from_source, sources):
            if source.meta.get(DATE_META_KEY):
                out.append(source)  # a date given with the file (say, from its web server) wins
                continue
            date = document_date(source.data, source.mime_type)
            if date is None:
                out.append(source)
            else:
                meta = {**source.meta, DATE_META_KEY: date}
                out.append(dataclasses.replace(source, meta=meta))  # keeps the stream's class
        return {"sources": out}
