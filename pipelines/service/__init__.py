"""The application's core: :class:`~pipelines.service.facade.NeedleService`, the one object every face
talks to, which builds the stores, the embedders and both sides and wires them together; and ``reindex``.

May import everything below it (connectors, knowledge, querying, indexing, records, stores, text, base);
never the lab, the application's entry points (``app``, ``cli``) or a face.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``from pipelines.service import NeedleService`` without importing the heavy facade for submodules."""
    if name == "NeedleService":
        from pipelines.service.facade import NeedleService

        return NeedleService
    raise AttributeError(name)
