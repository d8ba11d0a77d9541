"""Spreadsheets as Markdown tables whose first row is the header, so each row is indexed with its labels.

Drive exports a Google Sheet whole only as a workbook (``.xlsx``, ``.ods``, or zipped HTML whose layout
is not documented); CSV and TSV exports hold the first sheet alone. Needle's indexing reads Markdown pipe
tables as labelled rows ("Region: EMEA; Budget: 40,000."), so a workbook is rewritten as one Markdown
page: a heading per sheet, then its cells as a pipe table whose first row is the header. (HTML tables
were tried first: trafilatura keeps a table as rows only inside enough running text, and a sheet has none.)

The workbook is read with the standard library (SpreadsheetML, ECMA-376 part 1, section 18): the shared
strings, each sheet's cached cell values (a formula's last result, as the exporter saved it) and the
number formats that make a number a date. Bounded: a workbook larger than ``MAX_UNCOMPRESSED_BYTES``
unpacked or with more than ``MAX_CELLS`` cells is refused with a reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.etree import ElementTree

MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_CELLS = 500_000
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
#: Built-in number formats that are dates or times (ECMA-376 part 1, 18.8.30).
_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_COLUMN = re.compile(r"^([A-Z]+)")


class SpreadsheetError(ValueError):
    """The file is not a workbook Needle can read; the message says why."""


def workbook_to_markdown(data: bytes, title: str) -> str:
    """Every sheet of an ``.xlsx`` workbook as headed tables in one Markdown page."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SpreadsheetError("the workbook is not a valid .xlsx file") from None
    with archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_UNCOMPRESSED_BYTES:
            raise SpreadsheetError("the workbook unpacks to more than 100 MB")
        names = set(archive.namelist())

        def read(name: str) -> ElementTree.Element:
            if name not in names:
                raise SpreadsheetError(f"the workbook has no {name}")
            # Python's expat (2.4.1 and later) refuses entity-expansion bombs and ElementTree never loads
            # external entities; the parts' sizes were bounded above.
            return ElementTree.fromstring(archive.read(name))  # noqa: S314

        shared = _shared_strings(read("xl/sharedStrings.xml")) if "xl/sharedStrings.xml" in names else []
        date_styles = _date_styles(read("xl/styles.xml")) if "xl/styles.xml" in names else set()
        targets = {
            rel.get("Id"): rel.get("Target", "")
            for rel in read("xl/_rels/workbook.xml.rels").findall("rel:Relationship", _NS)
        }
        sheets = []
        cells = 0
        for sheet in read("xl/workbook.xml").findall("m:sheets/m:sheet", _NS):
            target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rows = _sheet_rows(read(path), shared, date_styles)
            cells += sum(len(row) for row in rows)
            if cells > MAX_CELLS:
                raise SpreadsheetError(f"the workbook has more than {MAX_CELLS:,} cells")
            sheets.append((sheet.get("name") or "Sheet", rows))
    return tables_to_markdown(title, sheets)


def csv_to_markdown(data: bytes, title: str) -> str:
    """A CSV file (UTF-8, with or without a byte-order mark) as one headed table."""
    text = data.decode("utf-8-sig", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text))]
    return tables_to_markdown(title, [(title, rows)])


def tables_to_markdown(title: str, sheets: Iterable[tuple[str, Sequence[Sequence[str]]]]) -> str:
    """A Markdown page: the title, then per sheet a heading and a pipe table whose first non-empty row
    is the header. Empty rows and trailing empty columns are dropped; a cell's own pipes and line breaks
    become " / " and spaces, so a cell never splits into two."""
    parts = [f"# {_inline(title)}", ""]
    for name, rows in sheets:
        kept = [[_inline(cell) for cell in row] for row in rows if any(cell.strip() for cell in row)]
        if not kept:
            continue
        width = max(max((i + 1 for i, cell in enumerate(row) if cell), default=0) for row in kept)
        parts += [f"## {_inline(name)}", ""]
        for index, row in enumerate(kept):
            padded = row[:width] + [""] * (width - len(row))
            parts.append("| " + " | ".join(padded) + " |")
            if index == 0:
                parts.append("|" + " --- |" * width)
        parts.append("")
    return "\n".join(parts)


def _inline(text: str) -> str:
    return " ".join(text.replace("|", " / ").split())


def _shared_strings(root: ElementTree.Element) -> list[str]:
    return [
        "".join(node.text or "" for node in item.iter(f"{{{_NS['m']}}}t"))
        for item in root.findall("m:si", _NS)
    ]


def _date_styles(root: ElementTree.Element) -> set[int]:
    """Indexes of the cell formats (``cellXfs``) whose number format is a date."""
    custom = {
        int(fmt.get("numFmtId", "0")): fmt.get("formatCode", "")
        for fmt in root.findall("m:numFmts/m:numFmt", _NS)
    }
    dates = set()
    for index, xf in enumerate(root.findall("m:cellXfs/m:xf", _NS)):
        fmt_id = int(xf.get("numFmtId", "0"))
        code = re.sub(r'"[^"]*"|\[[^\]]*\]', "", custom.get(fmt_id, "")).lower()
        if fmt_id in _DATE_FORMAT_IDS or (code and re.search(r"[dy]|m{3,}", code)):
            dates.add(index)
    return dates


def _column_index(reference: str) -> int:
    match = _COLUMN.match(reference or "")
    if not match:
        return -1
    index = 0
    for char in match.group(1):
        index = index * 26 + (ord(char) - 64)
    return index - 1


def _sheet_rows(root: ElementTree.Element, shared: list[str], date_styles: set[int]) -> list[list[str]]:
    rows = []
    for row in root.findall("m:sheetData/m:row", _NS):
        values: list[str] = []
        for cell in row.findall("m:c", _NS):
            column = _column_index(cell.get("r", ""))
            column = len(values) if column < 0 else column
            values.extend([""] * (column + 1 - len(values)))
            values[column] = _cell_text(cell, shared, date_styles)
        rows.append(values)
    return rows


def _cell_text(cell: ElementTree.Element, shared: list[str], date_styles: set[int]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(node.text or "" for node in cell.iter(f"{{{_NS['m']}}}t"))
    value = cell.findtext("m:v", default="", namespaces=_NS)
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            return ""
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind == "n" and value and int(cell.get("s", "0")) in date_styles:
        return _serial_date(value)
    if kind == "n" and value:
        number = float(value)
        return str(int(number)) if number.is_integer() else value
    return value


def _serial_date(value: str) -> str:
    """A spreadsheet serial date (days since 1899-12-30, the 1900 date system) as ISO 8601."""
    try:
        serial = float(value)
    except ValueError:
        return value
    moment = dt.datetime(1899, 12, 30) + dt.timedelta(days=serial)
    return moment.date().isoformat() if serial.is_integer() else moment.isoformat(timespec="minutes")
