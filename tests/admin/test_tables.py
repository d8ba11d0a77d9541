"""The narrow-screen layout names real tables and real columns (a renamed table would silently squeeze
again at 390 px; the browser test checks how they look)."""

from __future__ import annotations

from collections.abc import Callable

from admin.app import build_admin
from admin.tabs.tables import NARROW_COLUMNS, TABLE_CSS
from pipelines.service.facade import NeedleService


def test_every_narrow_layout_is_a_table_of_the_console_and_fits(
    service_factory: Callable[..., NeedleService],
) -> None:
    blocks = build_admin(service_factory())
    tables = {block.elem_id: block for block in blocks.blocks.values() if type(block).__name__ == "Dataframe"}
    for elem_id, shown in NARROW_COLUMNS.items():
        assert elem_id in tables, elem_id
        columns = len(tables[elem_id].headers)
        assert max(shown) < columns and 1 < len(shown) < columns, elem_id
        assert sum(shown.values()) == 100, elem_id
        assert f"{elem_id}-detail" in {block.elem_id for block in blocks.blocks.values()}
        assert f"#{elem_id} th[data-heading]" in TABLE_CSS
