"""File sizes in one unit everywhere: the console's page, its tables, refusals, the CLI and the browser's
own check all say "MB" and mean 10^6 bytes (as disks and browsers do), so "at most 50 MB", "over the
upload limit of 50 MB" and "55.2 MB" in a list can be compared at a glance.
"""

from __future__ import annotations

#: One kilobyte and one megabyte, in bytes (decimal, not 1024-based).
KB = 1_000
MB = 1_000_000
GB = 1_000_000_000


def upload_limit_bytes(max_upload_mb: float) -> int:
    """``NEEDLE_MAX_UPLOAD_MB`` in bytes."""
    return int(max_upload_mb * MB)


def format_size(size_bytes: float) -> str:
    """``61 B``, ``4.5 KB``, ``55.2 MB``, ``1.2 GB``: one decimal at most, none when it is zero
    (``50 MB``), so a limit and a file's size read alike. Below a megabyte sizes stay in KB, so a small
    limit never reads as "0.0 MB"."""
    size = float(size_bytes)
    if size < KB:
        return f"{size:.0f} B"
    for unit, factor in (("KB", KB), ("MB", MB)):
        if round(size / factor, 1) < 1000:  # 999,999 bytes is "1 MB", not "1000 KB"
            return f"{_one_decimal(size / factor)} {unit}"
    return f"{_one_decimal(size / GB)} GB"


def _one_decimal(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
