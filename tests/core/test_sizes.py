"""One unit for sizes: the upload form's limit, a refusal and a listed file all say MB = 10^6 bytes."""

from __future__ import annotations

import pytest

from pipelines.base.errors import RejectedFileError
from pipelines.base.sizes import format_size, upload_limit_bytes
from pipelines.indexing.file_inspector import inspect_file


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (61, "61 B"),
        (999, "999 B"),
        (1_000, "1 KB"),
        (1_946, "1.9 KB"),
        (20_000, "20 KB"),
        (999_999, "1 MB"),
        (50_000_000, "50 MB"),
        (52_428_800, "52.4 MB"),
        (55_012_345, "55 MB"),
        (200_000_000, "200 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_sizes_read_in_decimal_units(size: int, shown: str) -> None:
    assert format_size(size) == shown


def test_a_refusal_names_the_limit_as_the_setting_says_it() -> None:
    """NEEDLE_MAX_UPLOAD_MB=50 reads "50 MB" in the refusal, and a 55 MB file "55 MB" (it used to say
    "over the upload limit of 52.4 MB" beside a list showing "55.0 MB" for a file of 57.7 MB)."""
    limit = upload_limit_bytes(50)
    assert limit == 50_000_000
    with pytest.raises(RejectedFileError) as refused:
        inspect_file("minutes.md", b"# Minutes\n" + b"a" * 55_000_000, max_bytes=limit)
    assert refused.value.reason == "the file is 55 MB, over the upload limit of 50 MB"
