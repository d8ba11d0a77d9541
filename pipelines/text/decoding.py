"""Read a text file in whatever encoding it was saved in, and say so when Needle had to guess or repair.

Company documents arrive from every desktop: Chinese text files saved as GBK/GB18030 by Notepad, Big5
from Taiwan, Shift-JIS from Japanese Windows, Windows-1252 from Word's "Save as text", and UTF-8 files with
one stray byte pasted in from elsewhere. Refusing them would leave those documents out of every answer;
reading them wrongly would index garbage silently. So UTF-8 is tried first, an HTML file's own declared
charset next, then ``charset-normalizer`` detects the encoding; every guess and every repair comes back as
a warning the admin sees next to the result. Binary content is still refused.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio
from charset_normalizer.utils import is_multi_byte_encoding

from pipelines.base.errors import RejectedFileError

#: Readable names for the encodings people meet; others are shown as Python names them.
ENCODING_NAMES = {
    "utf_8": "UTF-8",
    "utf_16": "UTF-16",
    "gb18030": "GB18030 (GBK)",
    "gbk": "GBK",
    "gb2312": "GB2312",
    "big5": "Big5",
    "big5hkscs": "Big5-HKSCS",
    "cp950": "Big5 (Windows code page 950)",
    "cp932": "Shift-JIS (Windows code page 932)",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "euc_jis_2004": "EUC-JP",
    "euc_kr": "EUC-KR",
    "cp949": "EUC-KR (Windows code page 949)",
    "cp1252": "Windows-1252",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "latin_1": "ISO-8859-1",
}

#: ``charset-normalizer``'s own acceptance threshold for "mess" (odd symbol runs, impossible letter mixes).
_MAX_MESS = 0.2
#: Stray bytes tolerated in a file that is otherwise UTF-8: at most this many, or 1% of its characters.
_MAX_STRAY_BYTES = 10
_STRAY = re.compile("[\udc80-\udcff]")
_HTML_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)


@dataclass(frozen=True)
class DecodedText:
    """A file's text, the encoding it was read with, and what the admin should know about that."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def encoding_name(codec: str) -> str:
    """A person's name for a Python codec (``cp1252`` -> ``Windows-1252``)."""
    try:
        normal = codecs.lookup(codec).name.replace("-", "_")
    except LookupError:
        normal = codec
    return ENCODING_NAMES.get(normal, ENCODING_NAMES.get(codec, codec))


def decode_text(file_name: str, data: bytes, *, binary_reason: str) -> DecodedText:
    """Decode ``data``: UTF-8 (or UTF-16 with a byte-order mark), else a detected legacy encoding.

    :param binary_reason: the reason given when the bytes are not text at all.
    :raises RejectedFileError: the bytes are binary, or text in no encoding that can be recognised.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return DecodedText(data.decode("utf-16"), "utf_16")
        except UnicodeDecodeError:
            raise RejectedFileError(file_name, "the file claims to be UTF-16 text but is not") from None
    if b"\x00" in data[:8192]:
        raise RejectedFileError(file_name, binary_reason)
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf_8")
    except UnicodeDecodeError:
        pass
    repaired = _utf8_with_stray_bytes(data)
    if repaired is not None:
        return repaired
    codec = _declared_html_charset(data) or _detected_codec(data)
    if codec is None:
        raise RejectedFileError(file_name, binary_reason)
    name = encoding_name(codec)
    return DecodedText(
        data.decode(codec),
        codec,
        (
            f"the file is not UTF-8; it was read as {name}. If its text looks garbled in the Chunks "
            "tab, save it as UTF-8 and upload it again",
        ),
    )


def _utf8_with_stray_bytes(data: bytes) -> DecodedText | None:
    """UTF-8 with a few invalid bytes, each replaced by U+FFFD; ``None`` if the file is not UTF-8 at all.

    A file counts as UTF-8 when it holds more valid multi-byte UTF-8 characters than invalid bytes and the
    invalid bytes are few. Text in a legacy encoding read as UTF-8 fails far more often than it succeeds,
    and a mostly-ASCII file with one odd byte is better read by detection (it is likely Windows-1252).
    """
    text = data.decode("utf-8-sig", errors="surrogateescape")
    # Found by regex and counted by encoding, in C, stopping past the bound: a loop over the characters
    # took 22 s for a 44 MB file on a busy machine.
    bound = max(_MAX_STRAY_BYTES, len(text) // 100)
    stray: list[int] = []
    for match in _STRAY.finditer(text):
        stray.append(match.start())
        if len(stray) > bound:
            return None
    multibyte = len(text) - len(text.encode("ascii", errors="ignore")) - len(stray)
    if not stray or multibyte < len(stray):
        return None
    first = len(text[: stray[0]].encode("utf-8", errors="surrogateescape"))
    count = f"{len(stray)} byte{'s' if len(stray) > 1 else ''}"
    return DecodedText(
        data.decode("utf-8-sig", errors="replace"),
        "utf_8",
        (
            f"{count} that {'are' if len(stray) > 1 else 'is'} not valid UTF-8 (the first at byte "
            f"{first}) {'were' if len(stray) > 1 else 'was'} replaced by �; the rest of the file was read "
            "as UTF-8",
        ),
    )


def _declared_html_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in a ``<meta>`` tag, when Python knows it and it fits the bytes."""
    match = _HTML_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        codec = codecs.lookup(match.group(1).decode("ascii")).name
        data.decode(codec)
    except (LookupError, UnicodeDecodeError):
        return None
    return None if codec.replace("-", "_") == "utf_8" else codec


def _detected_codec(data: bytes) -> str | None:
    """``charset-normalizer``'s guess, with one correction: Latin-script text prefers Windows-1252.

    Short Western European texts are ambiguous between a dozen single-byte code pages, and the detector
    then picks one (Mac Turkish, Baltic) that decodes é or € wrongly. When its guess is a single-byte code
    page and the bytes read cleanly as Windows-1252, by far the most common of them, that is what is used.
    Multi-byte guesses (GB18030, Big5, Shift-JIS, EUC-KR) and non-Latin scripts (Cyrillic, Greek) stand.
    """
    best = from_bytes(data).best()
    if best is None:
        return None
    if "cp1252" in best.could_be_from_charset:  # the same text either way: call it by its common name
        return "cp1252"
    if is_multi_byte_encoding(best.encoding):
        return str(best.encoding)
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        return str(best.encoding)
    return "cp1252" if mess_ratio(western, _MAX_MESS) < _MAX_MESS else str(best.encoding)
