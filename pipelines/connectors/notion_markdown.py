"""Notion pages as Markdown: blocks, tables and database properties in the shapes the indexer reads.

Notion's API returns a page as a tree of block objects (``GET /v1/blocks/{id}/children``, recursively for
blocks with ``has_children``). The indexing side already reads Markdown well: headings become the section
a chunk belongs to, and pipe tables with a header row become one labelled sentence per row ("Office:
Berlin; Wi-Fi: Needle-Guest."), which is what lets a question about one row find it. So a page is
rendered here as Markdown, from pure functions over the JSON the API returned, tested without a server.

Rich text is kept as its plain text: bold, colours and links carry no meaning a reader of the answer
needs, and Markdown emphasis markers would only add noise to chunks. Child pages and child databases are
their own documents, so a page names them rather than inlining them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Block = Mapping[str, Any]

#: Blocks that hold nothing to answer from (navigation, layout, media without a caption).
_SILENT = {"breadcrumb", "table_of_contents", "unsupported", "column_list", "column", "synced_block"}
_MEDIA = {"image", "video", "audio", "file", "pdf"}
_LINKS = {"bookmark", "embed", "link_preview"}


def plain_text(rich_text: Iterable[Mapping[str, Any]] | None) -> str:
    """The text of a rich-text array, annotations dropped (mentions and equations keep their plain text)."""
    return "".join(str(part.get("plain_text") or "") for part in rich_text or [])


def page_title(page: Mapping[str, Any]) -> str:
    """A page's title: the value of its one ``title``-typed property (named "title" or, in a database,
    whatever the title column is called)."""
    for prop in (page.get("properties") or {}).values():
        if isinstance(prop, Mapping) and prop.get("type") == "title":
            return plain_text(prop.get("title")).strip()
    return ""


def data_source_title(data_source: Mapping[str, Any]) -> str:
    return plain_text(data_source.get("title")).strip()


def property_value(prop: Mapping[str, Any]) -> str:
    """One database property's value as text ("" when empty or when it has no readable value)."""
    kind = str(prop.get("type") or "")
    value = prop.get(kind)
    if value is None:
        return ""
    if kind in ("title", "rich_text"):
        return plain_text(value)
    if kind in ("select", "status"):
        return str(value.get("name") or "")
    if kind == "multi_select":
        return ", ".join(str(option.get("name") or "") for option in value)
    if kind == "number":
        return f"{value:g}" if isinstance(value, float) else str(value)
    if kind == "checkbox":
        return "yes" if value else "no"
    if kind in ("url", "email", "phone_number", "created_time", "last_edited_time"):
        return str(value)
    if kind == "date":
        start, end = value.get("start"), value.get("end")
        return f"{start} to {end}" if start and end else str(start or "")
    if kind in ("people", "created_by", "last_edited_by"):
        people = value if isinstance(value, list) else [value]
        return ", ".join(str(person.get("name") or "") for person in people if person.get("name"))
    if kind == "files":
        return ", ".join(str(item.get("name") or "") for item in value)
    if kind == "unique_id":
        prefix = value.get("prefix")
        return f"{prefix}-{value.get('number')}" if prefix else str(value.get("number") or "")
    if kind == "formula":
        inner = value.get(value.get("type") or "")
        if isinstance(inner, Mapping):  # a date formula
            return str(inner.get("start") or "")
        if isinstance(inner, bool):
            return "yes" if inner else "no"
        return "" if inner is None else str(inner)
    if kind == "rollup" and value.get("type") == "number" and value.get("number") is not None:
        return str(value["number"])
    return ""  # relation, rollup arrays, verification, button: ids or nothing a reader could use


def properties_markdown(page: Mapping[str, Any]) -> list[str]:
    """A database row's properties other than its title, as "- Name: value" lines, in the API's order."""
    lines = []
    for name, prop in (page.get("properties") or {}).items():
        if not isinstance(prop, Mapping) or prop.get("type") == "title":
            continue
        value = " ".join(property_value(prop).split())
        if value:
            lines.append(f"- {name}: {value}")
    return lines


def _cell(rich_text: Sequence[Mapping[str, Any]]) -> str:
    """A table cell on one line, its pipes escaped so the row keeps its columns."""
    return " ".join(plain_text(rich_text).split()).replace("|", "\\|")


def table_markdown(table: Block, rows: Sequence[Block]) -> list[str]:
    """A ``table`` block and its ``table_row`` children as a pipe table.

    With ``has_column_header`` the first row is the header, followed by the separator row, which is how
    the indexer knows to label each cell with its column. Without one the rows stay bare pipe rows, read
    in order.
    """
    width = int((table.get("table") or {}).get("table_width") or 0)
    cells_by_row = []
    for row in rows:
        if row.get("type") != "table_row":
            continue
        cells = [_cell(cell) for cell in (row.get("table_row") or {}).get("cells") or []]
        width = max(width, len(cells))
        cells_by_row.append(cells)
    if not cells_by_row or width == 0:
        return []
    lines = []
    for index, cells in enumerate(cells_by_row):
        padded = cells + [""] * (width - len(cells))
        lines.append("| " + " | ".join(padded) + " |")
        if index == 0 and (table.get("table") or {}).get("has_column_header"):
            lines.append("|" + "|".join(["---"] * width) + "|")
    return lines


class _Renderer:
    """Walks one page's block tree (children already attached under ``"children"``) into lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        #: A top-level list is being written: the items stay together, one blank line before and after.
        self.in_list = False

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def blocks(self, blocks: Sequence[Block], indent: str = "", quote: str = "") -> None:
        number = 0
        for block in blocks:
            kind = str(block.get("type") or "")
            number = number + 1 if kind == "numbered_list_item" else 0
            self.block(block, kind, indent, quote, number)

    def block(self, block: Block, kind: str, indent: str, quote: str, number: int) -> None:
        body = block.get(kind) or {}
        text = " ".join(plain_text(body.get("rich_text")).split()) if isinstance(body, Mapping) else ""
        children: Sequence[Block] = block.get("children") or []
        lead = quote + indent
        if kind in ("bulleted_list_item", "numbered_list_item", "to_do"):
            if kind == "to_do":
                marker = "- [x] " if body.get("checked") else "- [ ] "
            else:
                marker = f"{number}. " if kind == "numbered_list_item" else "- "
            if not indent and not self.in_list:
                self.blank()
            self.lines.append(f"{lead}{marker}{text}")
            self.blocks(children, indent + " " * len(marker), quote)
            self.in_list = not indent or self.in_list
            return
        if not indent and self.in_list:
            self.in_list = False
            self.blank()
        if kind in ("heading_1", "heading_2", "heading_3"):
            self.blank()
            # One level below Notion's: the page title is the document's only "#" heading.
            self.lines.append(f"{lead}{'#' * (int(kind[-1]) + 1)} {text}")
            self.blank()
            self.blocks(children, indent, quote)  # a toggleable heading's content
        elif kind in ("quote", "callout"):
            icon = (body.get("icon") or {}).get("emoji") if kind == "callout" else None
            self.blank()
            self.lines.append(f"{lead}> {icon + ' ' if icon else ''}{text}")
            self.blocks(children, indent, quote + "> ")
            self.blank()
        elif kind == "code":
            language = str(body.get("language") or "").replace("plain text", "")
            self.blank()
            self.lines.append(f"{lead}```{language}")
            self.lines.extend(f"{lead}{line}" for line in plain_text(body.get("rich_text")).split("\n"))
            self.lines.append(f"{lead}```")
            if caption := plain_text(body.get("caption")).strip():
                self.lines.append(f"{lead}{caption}")
            self.blank()
        elif kind == "table":
            self.blank()
            self.lines.extend(f"{lead}{line}" for line in table_markdown(block, children))
            self.blank()
        elif kind == "divider":
            self.blank()
            self.lines.append(f"{lead}---")
            self.blank()
        elif kind == "equation":
            self.paragraph(lead, str(body.get("expression") or ""))
        elif kind == "child_page":
            self.paragraph(lead, f"Sub-page: {body.get('title') or 'Untitled'}")
        elif kind == "child_database":
            self.paragraph(lead, f"Database: {body.get('title') or 'Untitled'}")
        elif kind in _LINKS:
            caption = plain_text(body.get("caption")).strip()
            self.paragraph(lead, f"{caption} ({body.get('url')})" if caption else str(body.get("url") or ""))
        elif kind in _MEDIA:
            caption = plain_text(body.get("caption")).strip()
            name = str(body.get("name") or "")
            self.paragraph(lead, caption or name)
        elif kind in _SILENT:
            self.blocks(children, indent, quote)
        else:  # paragraph, toggle, template and any block type with rich text this code does not know
            self.paragraph(lead, text)
            self.blocks(children, indent + ("  " if indent else ""), quote)

    def paragraph(self, lead: str, text: str) -> None:
        if not text.strip():
            return
        self.blank()
        self.lines.append(f"{lead}{text}")
        self.blank()


def blocks_markdown(blocks: Sequence[Block]) -> str:
    """A block tree (each block's children under ``"children"``) as Markdown."""
    renderer = _Renderer()
    renderer.blocks(blocks)
    while renderer.lines and renderer.lines[-1] == "":
        renderer.lines.pop()
    while renderer.lines and renderer.lines[0] == "":
        renderer.lines.pop(0)
    return "\n".join(renderer.lines)


def _yaml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_markdown(page: Mapping[str, Any], blocks: Sequence[Block], *, title: str | None = None) -> str:
    """A whole page: front matter with its last edit (which the indexer reads as the page's date), the
    title as a heading, a database row's properties, then the blocks.

    The front matter holds nothing else: its keys become the chunks' metadata, where a ``title`` or
    ``url`` would compete with the ones the sync engine sets from the reference.
    """
    title = title if title is not None else page_title(page)
    front = [
        "---",
        f"last_modified: {_yaml_string(str(page.get('last_edited_time') or ''))}",
        "---",
        "",
        f"# {title or 'Untitled'}",
        "",
    ]
    properties = properties_markdown(page)
    if properties:
        front.extend([*properties, ""])
    return "\n".join(front) + "\n" + blocks_markdown(blocks) + "\n"
