"""Text files in every encoding desktops save: read through the real ingest path, indexed and retrievable.

The files in ``tests/data/encodings`` are real bytes in GBK, GB18030, Big5, Shift-JIS and Windows-1252, and
a UTF-8 file with one stray byte (see docs/indexing.md, "Encodings").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.base.errors import RejectedFileError
from pipelines.indexing.file_inspector import inspect_file
from pipelines.records.answers import IngestResult
from pipelines.service.facade import NeedleService
from tests.conftest import make_settings

ENCODED = Path(__file__).resolve().parents[1] / "data" / "encodings"

#: file -> (its real encoding, how the warning names it, a phrase from the text, a question using it)
CASES = {
    "guangzhou-office.txt": ("gbk", "GB18030 (GBK)", "云帆大厦二十楼", "广州办公室在云帆大厦几楼？"),
    "shenzhen-office.html": ("gb18030", "GB18030", "海棠大厦七楼", "深圳办公室在海棠大厦哪一层？"),
    "taipei-office.txt": ("big5", "Big5", "晨曦大樓十二樓", "台北辦公室在晨曦大樓幾樓？"),
    "tokyo-office.md": ("shift_jis", "Shift-JIS", "スターライトビル八階", "スターライトビルは何階ですか？"),
    "meeting-rooms.txt": ("cp1252", "Windows-1252", "The “Harbour” room seats twelve", "Harbour room seats"),
}
BAD_BYTE_FILE = "canteen-menu.md"


@pytest.fixture(scope="module")
def encoded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeedleService]:
    service = NeedleService(make_settings(tmp_path_factory.mktemp("encodings")))
    yield service
    service.close()


@pytest.fixture(scope="module")
def results(encoded_service: NeedleService) -> dict[str, IngestResult]:
    """Every file ingested once, through the same path as the CLI and the console."""
    names = [*CASES, BAD_BYTE_FILE]
    return {name: encoded_service.ingest_file(ENCODED / name) for name in names}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fixture_files_really_are_in_their_encoding(name: str) -> None:
    data = (ENCODED / name).read_bytes()
    codec, _label, phrase, _question = CASES[name]
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert phrase in data.decode(codec)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_legacy_encoding_is_read_indexed_and_retrievable(
    name: str, results: dict[str, IngestResult], encoded_service: NeedleService
) -> None:
    _codec, label, phrase, question = CASES[name]
    result = results[name]
    assert result.status == "indexed", result.reason
    assert result.chunks > 0
    assert len(result.warnings) == 1 and f"read as {label}" in result.warnings[0]

    text = " ".join(passage.content for passage in encoded_service.source_chunks(result.source_id))
    assert phrase in text  # decoded exactly: no mojibake, no replacement characters
    assert "\ufffd" not in text

    answer = encoded_service.ask(question)
    assert answer.passages[0].meta["source_id"] == result.source_id
    assert phrase.split()[-1] in answer.passages[0].content


def test_windows_1252_keeps_curly_quotes_and_the_euro_sign(
    results: dict[str, IngestResult], encoded_service: NeedleService
) -> None:
    text = " ".join(p.content for p in encoded_service.source_chunks(results["meeting-rooms.txt"].source_id))
    assert "€12 per person" in text and "café" in text and "Don’t leave cups" in text


def test_a_stray_byte_in_utf8_is_replaced_with_a_warning_not_rejected(
    results: dict[str, IngestResult], encoded_service: NeedleService
) -> None:
    result = results[BAD_BYTE_FILE]
    assert result.status == "indexed", result.reason
    assert len(result.warnings) == 1
    assert "1 byte that is not valid UTF-8" in result.warnings[0] and "replaced" in result.warnings[0]
    text = " ".join(p.content for p in encoded_service.source_chunks(result.source_id))
    assert "“pho” on Tuesdays" in text and "€6.50" in text  # the valid UTF-8 around it is intact
    assert "The chef\ufffds specials" in text

    answer = encoded_service.ask("Which day does the canteen serve pho?")
    assert answer.passages[0].meta["source_id"] == result.source_id


def test_utf8_files_carry_no_warning(encoded_service: NeedleService, tmp_path: Path) -> None:
    path = tmp_path / "bike-parking.md"
    path.write_text("# Bike parking\n\nCovered racks — in the basement, next to the showers.\n", "utf-8")
    result = encoded_service.ingest_file(path)
    assert result.status == "indexed" and result.warnings == ()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 100),  # a PNG renamed to .txt
        ("notes.md", bytes(range(1, 256)) * 40),  # every byte value but NUL: binary without a NUL
    ],
)
def test_binary_files_are_still_refused_with_a_reason(
    name: str, data: bytes, encoded_service: NeedleService
) -> None:
    with pytest.raises(RejectedFileError, match="binary, not text"):
        inspect_file(name, data, max_bytes=10_000_000)
    before = encoded_service.store.count_documents()
    path = Path(encoded_service.settings.data_dir) / name
    path.write_bytes(data)
    result = encoded_service.ingest_file(path)
    assert result.status == "rejected" and "binary" in result.reason
    assert encoded_service.store.count_documents() == before


def test_needle_ingest_prints_the_encoding_warning(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest", str(ENCODED / "meeting-rooms.txt"), str(ENCODED / BAD_BYTE_FILE)]) == 0
    captured = capsys.readouterr()
    assert "indexed    meeting-rooms.txt" in captured.out
    assert "warning    meeting-rooms.txt: the file is not UTF-8; it was read as Windows-1252" in captured.err
    assert f"warning    {BAD_BYTE_FILE}: 1 byte that is not valid UTF-8" in captured.err

    assert cli.main(["ingest", "--json", str(ENCODED / "taipei-office.txt")]) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    assert printed["status"] == "indexed" and "Big5" in printed["warnings"][0]


@pytest.mark.parametrize(
    ("text", "codec", "label"),
    [
        ("Café prices: 3€ per day", "cp1252", "Windows-1252"),  # too short for a detector on its own
        ("Über die Straße gehen wir zum Büro. Das kostet 5 €.", "cp1252", "Windows-1252"),
        ("Отпуск составляет двадцать пять рабочих дней в году.", "cp1251", "Windows-1251"),
    ],
)
def test_short_single_byte_texts_are_read_in_the_right_code_page(text: str, codec: str, label: str) -> None:
    """Short Latin texts fit a dozen code pages; Windows-1252 is preferred, but not over a clear Cyrillic."""
    inspected = inspect_file("note.txt", text.encode(codec), max_bytes=10_000)
    assert inspected.data.decode("utf-8") == text
    assert f"read as {label}" in inspected.warnings[0]
