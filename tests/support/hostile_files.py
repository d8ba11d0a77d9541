"""Hostile files of any size, generated in memory: the cases of ``scripts/bench_hostile_inputs.py``.

Each generator takes a size, so the default suite builds small versions (fast) and the benchmark builds
them at the upload limit. They are made to pass the cheap checks (size, compression ratio, page count)
and to cost the converters as much as possible: a line without whitespace, Word documents that unpack to
near the 200 MB allowed at a ratio under 100, PDFs whose streams inflate to more than pypdf allows or
nest forms inside forms, HTML nested deeper than any parser expects.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib

from tests.core.bad_files import real_docx
from tests.hardening.bad_corpus import minimal_pdf

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_WORDS = [
    *("employee", "manager", "laptop", "expense", "travel", "policy", "receipt", "approval", "deadline"),
    *("office", "hotel", "train", "budget", "invoice", "contract", "holiday", "salary", "benefit"),
    *("review", "training", "security", "badge", "parking", "desk"),
]


def long_line(size: int) -> bytes:
    """``size`` bytes on one line with no whitespace or punctuation (a minified blob saved as .txt)."""
    unit = b"0123456789abcdefghijklmnopqrstuvwxyz"
    return (unit * (size // len(unit) + 1))[:size]


def _docx_with_body(chunks: list[bytes]) -> bytes:
    """The sample handbook's DOCX with ``word/document.xml`` replaced by a body made of ``chunks``."""
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{W_NS}"><w:body>'
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(real_docx())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
        with target.open("word/document.xml", "w", force_zip64=True) as handle:
            handle.write(head.encode())
            for start in range(0, len(chunks), 4096):
                handle.write(b"".join(chunks[start : start + 4096]))
            handle.write(b"</w:body></w:document>")
    return out.getvalue()


def _pooled(pool: list[bytes], unpacked: int, rng: random.Random) -> list[bytes]:
    """Random picks from ``pool`` adding up to ``unpacked`` bytes. A pool of about twenty pieces fits
    deflate's 32 KB window, so the result compresses about 1:50 to 1:60: under the ratio limit of 100."""
    size = sum(map(len, pool)) / len(pool)
    return rng.choices(pool, k=int(unpacked / size) + 1)


def docx_text_bomb(unpacked: int, seed: int = 7) -> bytes:
    """A DOCX whose body is ``unpacked`` bytes of paragraphs of varied words: millions of characters of
    text from a few megabytes (192 MB unpacked from about 3.6 MB)."""
    rng = random.Random(seed)
    pool = [
        "<w:p><w:r><w:t>{}.</w:t></w:r></w:p>".format(
            " ".join(rng.choice(_WORDS) + str(rng.randrange(1000)) for _ in range(40))
        ).encode()
        for _ in range(20)
    ]
    return _docx_with_body(_pooled(pool, unpacked, rng))


def docx_cell_bomb(unpacked: int, seed: int = 11) -> bytes:
    """An XLSX-style bomb in a DOCX: ``unpacked`` bytes of one table of tiny cells (a number each), so
    millions of XML elements and few characters, the shape of a spreadsheet's sheet XML."""
    rng = random.Random(seed)
    pool = [
        "<w:tr>{}</w:tr>".format(
            "".join(f"<w:tc><w:p><w:r><w:t>{rng.randrange(100)}</w:t></w:r></w:p></w:tc>" for _ in range(8))
        ).encode()
        for _ in range(20)
    ]
    return _docx_with_body([b"<w:tbl>", *_pooled(pool, unpacked, rng), b"</w:tbl>"])


def xlsx_bomb(unpacked: int, seed: int = 13) -> bytes:
    """A real XLSX layout (no ``word/`` part) whose shared strings unpack to ``unpacked`` bytes."""
    rng = random.Random(seed)
    pool = [
        "".join(f"<si><t>{rng.choice(_WORDS)}{rng.randrange(10**6)}</t></si>" for _ in range(8)).encode()
        for _ in range(20)
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as handle:
            handle.write(b'<?xml version="1.0"?><sst>')
            for piece in _pooled(pool, unpacked, rng):
                handle.write(piece)
            handle.write(b"</sst>")
    return out.getvalue()


def _one_page_pdf(content: bytes, extra: list[bytes] | None = None, resources: bytes = b"") -> bytes:
    """A one-page PDF with a Helvetica font and ``content`` as its Flate-compressed content stream."""
    packed = zlib.compress(content, 9)
    return minimal_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> " + resources + b">> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            *(extra or []),
        ]
    )


_PDF_TEXT = (
    b"BT /F1 10 Tf 72 720 Td (Parking permits are issued by the facilities team every January.) Tj ET\n"
)


def pdf_inflating_stream(unpacked: int) -> bytes:
    """One page whose content stream inflates to ``unpacked`` bytes (past pypdf's 75 MB limit when
    ``unpacked`` is larger): a line of text, then drawing operators that show nothing."""
    filler = b"0 0 m 1 1 l S\n" * (max(0, unpacked - len(_PDF_TEXT)) // 14)
    return _one_page_pdf(_PDF_TEXT + filler)


def pdf_text_stream(unpacked: int, seed: int = 17) -> bytes:
    """One page whose content stream inflates to ``unpacked`` bytes of text-showing operators: millions
    of characters of text on a single page."""
    rng = random.Random(seed)
    pool = [
        b"(" + " ".join(rng.choice(_WORDS) for _ in range(12)).encode() + b". ) Tj 0 -12 Td\n"
        for _ in range(20)
    ]
    body = b"".join(_pooled(pool, unpacked, rng))
    return _one_page_pdf(b"BT /F1 10 Tf 72 720 Td\n" + body + b"ET\n")


def pdf_nested_forms(depth: int) -> bytes:
    """One page that draws a form XObject, which draws the next, ``depth`` levels deep; the deepest
    shows a line of text."""
    first = 6  # object number of the first form (after catalog, pages, page, contents, font)
    forms = []
    for level in range(depth):
        last = level == depth - 1
        body = _PDF_TEXT if last else b"/X%d Do\n" % (level + 1)
        child = b"" if last else b"/XObject << /X%d %d 0 R >> " % (level + 1, first + level + 1)
        forms.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> "
            + child
            + b">> /Length %d >>\nstream\n" % len(body)
            + body
            + b"\nendstream"
        )
    return _one_page_pdf(b"/X0 Do\n", forms, b"/XObject << /X0 6 0 R >> ")


def pdf_nested_arrays(depth: int) -> bytes:
    """One page with a line of text whose page dictionary holds an array nested ``depth`` deep."""
    nested = b"[" * depth + b"1" + b"]" * depth
    packed = zlib.compress(_PDF_TEXT, 9)
    return minimal_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> /Junk " + nested + b" >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def nested_html(depth: int) -> bytes:
    """A paragraph of text inside ``depth`` nested ``<div>`` elements."""
    body = "<div>" * depth + "<p>Parking permits are issued by the facilities team every January.</p>"
    return f"<!doctype html><html><body>{body}{'</div>' * depth}</body></html>".encode()


def legacy_encoded_html(size: int) -> bytes:
    """``size`` bytes of HTML paragraphs in Windows-1252 (not UTF-8): decoded by detection, then text."""
    paragraph = "<p>Café crème brûlée coûte 5 € par personne.</p>\n".encode("cp1252")
    body = paragraph * (size // len(paragraph) + 1)
    return b"<!doctype html><html><body>" + body[:size] + b"</body></html>"
