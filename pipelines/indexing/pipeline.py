"""The indexing pipeline: route by file type -> read the file's date -> convert -> drop page furniture ->
linearize tables -> clean -> chunk -> embed -> write."""

from __future__ import annotations

from typing import Any

from haystack import Pipeline
from haystack.components.converters import DOCXToDocument, MarkdownToDocument, TextFileToDocument
from haystack.components.joiners import DocumentJoiner
from haystack.components.preprocessors import DocumentCleaner
from haystack.components.routers import FileTypeRouter
from haystack.dataclasses import ByteStream
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
)

from pipelines.base.settings import Settings
from pipelines.indexing.components.chunker import SentenceChunker
from pipelines.indexing.components.html_converter import NeedleHtmlToDocument
from pipelines.indexing.components.page_furniture import PageFurnitureRemover
from pipelines.indexing.components.pdf_converter import LayoutPdfToDocument
from pipelines.indexing.components.source_dates import SourceDateReader
from pipelines.indexing.components.source_writer import SourceWriter
from pipelines.indexing.components.table_linearizer import TableLinearizer
from pipelines.indexing.file_inspector import MIME_TYPES
from pipelines.stores.backends import SearchBackend

#: Bumped whenever conversion or chunking changes the text of chunks (2: labelled table rows, whole PDF
#: sentences, no page headers or footers). It is part of every chunk's ``index_config``, so re-ingesting
#: an unchanged file indexed by an older version converts it again instead of calling it "unchanged".
CONVERSION_VERSION = 2

CONVERTERS: dict[str, tuple[str, Any]] = {
    "pdf": ("pdf_converter", LayoutPdfToDocument),
    "docx": ("docx_converter", DOCXToDocument),
    "html": ("html_converter", NeedleHtmlToDocument),
    "markdown": ("markdown_converter", MarkdownToDocument),
    "text": ("text_converter", TextFileToDocument),
}


_CONVERTER_OPTIONS: dict[str, dict[str, Any]] = {
    # Front matter is metadata, not text to answer from.
    "markdown": {"progress_bar": False, "extract_frontmatter": True},
    "docx": {"table_format": "markdown"},
}


class UploadStream(ByteStream):
    """The uploaded file as the pipeline's input, recorded by its size in Haystack's error snapshots.

    When a component raises (a converter refusing a file past its budget, say), Haystack serializes every
    pipeline input into a snapshot, and ``ByteStream.to_dict`` lists the bytes as integers: 1.3 GB of
    memory for a 44 MB file. The snapshot is never saved here (``HAYSTACK_PIPELINE_SNAPSHOT_SAVE_ENABLED``
    is off), so the size is all it needs.
    """

    def to_dict(self) -> dict[str, Any]:
        return {"data": f"<{len(self.data)} bytes>", "meta": self.meta, "mime_type": self.mime_type}


#: Formats that can carry their own date (PDF metadata, DOCX core properties, HTML <meta>, front matter).
DATED_KINDS = ("pdf", "docx", "html", "markdown")


def build_document_embedder(settings: Settings, model: str) -> SentenceTransformersDocumentEmbedder:
    """Embeds title and text together: the title often carries the topic that a chunk's text omits."""
    return SentenceTransformersDocumentEmbedder(
        model=model,
        batch_size=settings.embedding_batch_size,
        progress_bar=False,
        meta_fields_to_embed=["title"],
        normalize_embeddings=True,
        token=None,
    )


#: Converters that count the characters they extract and refuse a file past ``NEEDLE_MAX_FILE_CHARS``
#: (the file inspector counts text, Markdown and DOCX before conversion).
_COUNTING_CONVERTERS = ("pdf", "html")


def build_indexing_pipeline(settings: Settings, backend: SearchBackend, embedder: Any) -> Pipeline:
    """The pipeline the service runs for every accepted file (one source per run).

    Sources arrive as ``ByteStream`` objects whose ``mime_type`` was set by the file inspector from the
    file's bytes, so a PDF named ``.txt`` still reaches the PDF converter. A file past the character or
    chunk budget is refused by the converter or the chunker with
    :class:`~pipelines.base.errors.RejectedFileError`,
    before anything is embedded.
    """
    pipeline = Pipeline()
    pipeline.add_component("router", FileTypeRouter(mime_types=list(MIME_TYPES.values())))
    for kind, (name, converter) in CONVERTERS.items():
        options = dict(_CONVERTER_OPTIONS.get(kind, {}))
        if kind in _COUNTING_CONVERTERS:
            options["max_chars"] = settings.max_file_chars
        instance = converter(**options)
        pipeline.add_component(name, instance)
        route = f"router.{MIME_TYPES[kind]}"  # type: ignore[index]
        if kind in DATED_KINDS:
            # The file's own date is read from its bytes, before conversion, for citations.
            pipeline.add_component(f"{kind}_date_reader", SourceDateReader())
            pipeline.connect(route, f"{kind}_date_reader.sources")
            route = f"{kind}_date_reader.sources"
        pipeline.connect(route, f"{name}.sources")
    pipeline.add_component("joiner", DocumentJoiner())
    for name, _ in CONVERTERS.values():
        pipeline.connect(f"{name}.documents", "joiner.documents")
    # Both run before the cleaner, which collapses the runs of spaces that separate PDF table columns.
    pipeline.add_component("furniture_remover", PageFurnitureRemover())
    pipeline.add_component("table_linearizer", TableLinearizer())
    pipeline.add_component(
        "cleaner",
        DocumentCleaner(
            remove_empty_lines=False,
            remove_extra_whitespaces=False,
            remove_repeated_substrings=False,
            replace_regexes={r"[ \t\u00a0]+": " ", r"\n[ \t]*\n(?:[ \t]*\n)+": "\n\n"},
            unicode_normalization="NFC",
            keep_id=True,
        ),
    )
    pipeline.add_component(
        "chunker",
        SentenceChunker(
            chunk_words=settings.chunk_words,
            overlap_words=settings.chunk_overlap_words,
            max_chunks=settings.max_file_chunks,
        ),
    )
    pipeline.add_component("embedder", embedder)
    pipeline.add_component("writer", SourceWriter(backend=backend))
    pipeline.connect("joiner.documents", "furniture_remover.documents")
    pipeline.connect("furniture_remover.documents", "table_linearizer.documents")
    pipeline.connect("table_linearizer.documents", "cleaner.documents")
    pipeline.connect("cleaner.documents", "chunker.documents")
    pipeline.connect("chunker.documents", "embedder.documents")
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline
