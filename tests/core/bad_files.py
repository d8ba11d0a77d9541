"""Generators of unreadable, hostile and mislabelled files, made from the real sample handbook."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache

from pypdf import PdfReader, PdfWriter

from pipelines.samples import handbook_dir

HANDBOOK = handbook_dir()


def real_pdf() -> bytes:
    return (HANDBOOK / "code-of-conduct.pdf").read_bytes()


def real_docx() -> bytes:
    return (HANDBOOK / "remote-work-policy.docx").read_bytes()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(real_pdf())).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@lru_cache(maxsize=1)
def docx_zip_bomb() -> bytes:
    """A valid-looking DOCX whose one extra part inflates to 220 MB of zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(real_docx())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for item in source.infolist():
            bomb.writestr(item, source.read(item))
        with bomb.open("word/media/padding.bin", "w", force_zip64=True) as handle:
            block = b"\0" * (1024 * 1024)
            for _ in range(220):
                handle.write(block)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


@lru_cache(maxsize=4)
def bad_files(max_bytes: int) -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, bytes, a fragment the rejection reason must contain)."""
    pdf = real_pdf()
    docx = real_docx()
    return {
        "empty": ("empty.pdf", b"", "empty"),
        "whitespace": ("blank.txt", b"   \n\t\n  ", "whitespace"),
        "truncated_pdf": ("cut.pdf", pdf[: len(pdf) // 3], "PDF"),
        "corrupt_pdf": ("junk.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20, "PDF"),
        "encrypted_pdf": ("locked.pdf", encrypted_pdf(), "password"),
        "truncated_docx": ("cut.docx", docx[: len(docx) // 2], "Word document"),
        "docx_zip_bomb": ("bomb.docx", docx_zip_bomb(), "compression bomb"),
        "plain_zip": ("archive.docx", plain_zip(), "not a Word document"),
        "legacy_doc": ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "legacy Office"),
        "binary_junk": ("data.bin", bytes(range(256)) * 40, "binary"),
        "image": ("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 100, "binary"),
        "binary_without_nul": ("blob.txt", bytes(range(1, 256)) * 40, "binary"),
        "too_large": ("huge.txt", b"a " * (max_bytes // 2 + 10), "over the upload limit"),
        "unsupported_text": ("script.exe", b"MZ this is not a document", "not supported"),
    }
