"""Tables as one labelled sentence per row.

The extractive answerer quotes sentences, and retrieval scores chunks by their words. A table reaches them
either as pipe-separated rows ("| London | 240 EUR |": HTML through trafilatura, DOCX with
``table_format="markdown"``, Markdown itself) or, from a PDF, as cells separated by runs of spaces, with
the header ("Location   Maximum per night") lines above the row it explains. Neither says what a figure
means on its own, so an extract could quote the header without the figure, or the figure without the
header. Written as "Location: London, Paris; Maximum per night: 240 EUR." every row is one sentence that
carries its own labels, for BM25, the embedder, the LLM and the extract alike. A table without a header
row keeps its cells in order: "2 July 2027; Friday; Acme Founders' Day."
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from pipelines.text.basics import is_mostly_cjk

_ENDS_SENTENCE = re.compile(r"[.!?。！？]['\"”’)\]]*$")
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
#: Most columns a real table has; more "columns" means the gaps are something else (a form, a layout).
MAX_COLUMNS = 10
#: A header cell is a label: a few words, no sentence.
MAX_HEADER_WORDS = 6


def linearize_row(cells: Sequence[str], header: Sequence[str] | None = None) -> str:
    """One table row as a sentence: "Label: value; Label: value." (or "value; value." without a header).

    Empty cells are left out, a cell equal to its label is not repeated, and the row ends with a full
    stop so the sentence splitter sees one sentence. Chinese rows use Chinese punctuation.
    """
    values = [" ".join(cell.split()).rstrip(";,；，") for cell in cells]
    present = [index for index, value in enumerate(values) if value]
    if not present:
        return ""
    cjk = is_mostly_cjk(" ".join(values))
    parts = []
    for index in present:
        value = values[index]
        if index != present[-1]:
            value = value.rstrip(".。")  # the row's sentence ends after the last cell only
        label = " ".join(header[index].split()).rstrip(":：") if header and index < len(header) else ""
        if label and label.casefold() != value.casefold():
            parts.append(f"{label}：{value}" if cjk else f"{label}: {value}")
        else:
            parts.append(value)
    row = ("；" if cjk else "; ").join(parts)
    if not _ENDS_SENTENCE.search(row):
        row += "。" if cjk else "."
    return row


# Pipe tables -----------------------------------------------------------------------------------------------


def _is_separator(line: str) -> bool:
    return "|" in line and bool(_PIPE_SEPARATOR.match(line))


def _is_pipe_row(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("|") and stripped.count("|") >= 2


def _pipe_cells(line: str) -> list[str]:
    stripped = line.strip()
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(stripped)]


def linearize_pipe_tables(text: str) -> str:
    """Rewrite Markdown/GFM pipe tables in ``text`` as labelled rows, one line each.

    A table has a header when its first row is followed by a separator row (``|---|:--:|``); trafilatura
    writes tables without ``<th>`` cells as bare rows, which keep their cells in order. A header without
    rows is dropped: a bare header states nothing. Other lines are returned unchanged.
    """
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if (
            "|" in line
            and index + 1 < len(lines)
            and _is_separator(lines[index + 1])
            and not _is_separator(line)
        ):
            header: list[str] | None = _pipe_cells(line)
            end = index + 2
            while end < len(lines) and "|" in lines[end] and not _is_separator(lines[end]):
                end += 1
            body = lines[index + 2 : end]
        elif _is_pipe_row(line):
            header = None
            end = index
            while end < len(lines) and _is_pipe_row(lines[end]) and not _is_separator(lines[end]):
                end += 1
            body = lines[index:end]
        else:
            out.append(line)
            index += 1
            continue
        header_key = [cell.casefold() for cell in header or []]
        for row in body:
            cells = _pipe_cells(row)
            if [cell.casefold() for cell in cells] == header_key:
                continue  # a header repeated inside the table
            if sentence := linearize_row(cells, header):
                out.append(sentence)
        index = end
    return "\n".join(out)


# Space-aligned tables (PDF text extracted with its layout) ------------------------------------------------

_SEGMENT = re.compile(r"\S+(?: {1,2}\S+)*")  # text separated from the next segment by 3+ spaces
_LIST_MARKER = re.compile(r"^(?:[-*+•·▪◦‣●○■□–—]|\(?\d{1,3}[.)]|\(?[A-Za-z][.)])$")


def _segments(line: str) -> list[tuple[int, int]]:
    return [(match.start(), match.end()) for match in _SEGMENT.finditer(line)]


def _is_row_line(line: str) -> bool:
    """Two or more runs of text separated by wide gaps, and not a list item ("-   text")."""
    segments = _segments(line)
    if len(segments) < 2:
        return False
    start, end = segments[0]
    return not _LIST_MARKER.match(line[start:end])


def _columns(row_lines: Sequence[str]) -> list[tuple[int, int | None]] | None:
    """Column spans from the gutters: positions that are blank on every row line, at least 2 wide."""
    width = max(len(line) for line in row_lines)
    blank = [all(pos >= len(line) or line[pos] == " " for line in row_lines) for pos in range(width)]
    if all(blank):
        return None
    first = blank.index(False)
    columns: list[tuple[int, int | None]] = []
    start, pos = first, first
    while pos < width:
        if blank[pos]:
            gap_end = pos
            while gap_end < width and blank[gap_end]:
                gap_end += 1
            if gap_end < width and gap_end - pos >= 2:
                columns.append((start, pos))
                start = gap_end
            pos = gap_end
        else:
            pos += 1
    columns.append((start, None))
    return columns if 2 <= len(columns) <= MAX_COLUMNS else None


def _crosses_gutter(line: str, columns: Sequence[tuple[int, int | None]]) -> bool:
    for (_, end), (next_start, _) in itertools.pairwise(columns):
        assert end is not None
        if line[end:next_start].strip():
            return True
    return False


def _is_header(cells: Sequence[str]) -> bool:
    filled = [cell for cell in cells if cell]
    return len(filled) >= 2 and all(
        len(cell.split()) <= MAX_HEADER_WORDS
        and not _ENDS_SENTENCE.search(cell)
        and ":" not in cell
        and not any(char.isdigit() for char in cell)
        for cell in filled
    )


def _aligned_table(block: Sequence[str]) -> tuple[list[str], int] | None:
    """Parse the table at the start of ``block`` (consecutive non-blank lines).

    Returns the linearized rows and how many lines they replace, or ``None`` when the lines are not a
    table. A line with an empty first cell continues the row above (a cell that wrapped).
    """
    row_lines = [line for line in block if _is_row_line(line)]
    if len(row_lines) < 2:
        return None
    columns = _columns(row_lines)
    if columns is None:
        return None
    rows: list[list[str]] = []
    used = 0
    for line in block:
        if _crosses_gutter(line, columns):
            break
        cells = [line[start:end].strip() for start, end in columns]
        if rows and (not cells[0] or not _is_row_line(line)):
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
        used += 1
    if len(rows) < 2:
        return None
    header = rows[0] if _is_header(rows[0]) else None
    body = rows[1:] if header else rows
    if header is None and sum(len(cell) for row in rows for cell in row) / sum(map(len, rows)) > 40:
        return None  # long "cells" without a header are columns of prose, not a table
    sentences = [sentence for row in body if (sentence := linearize_row(row, header))]
    return sentences, used


def linearize_aligned_tables(text: str) -> str:
    """Rewrite tables whose columns are aligned with spaces (pypdf's layout mode) as labelled rows.

    A table is two or more consecutive lines with text in at least two columns, where the columns are
    separated by gutters that are blank on every such line; the first row is the header when its cells
    read as labels (short, no figures, no sentences). List items ("-   text") and prose, whose gaps do not
    line up, are left alone.
    """
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        if _is_row_line(lines[index]):
            end = index
            while end < len(lines) and lines[end].strip():
                end += 1
            table = _aligned_table(lines[index:end])
            if table is not None:
                sentences, used = table
                out.extend(sentences)
                index += used
                continue
        out.append(lines[index])
        index += 1
    return "\n".join(out)
