"""What every console event handler goes through: a check before it runs, and refusals shown as text.

Gradio renders a ``gr.Error``'s message as (sanitised) HTML in its toast. The console's refusals often
repeat what an admin typed (a source id, a chunk id, a channel) and the core's messages quote documents'
names, so every message is escaped here, once for all handlers: a toast shows ``<b>`` as the five
characters typed, never as bold text or an element on the page.
"""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr


def as_text(error: gr.Error) -> gr.Error:
    """``error`` with its message escaped for Gradio's toast, keeping how long it stays and whether the
    server prints it."""
    escaped = gr.Error(
        html.escape(str(error.message), quote=False),
        duration=error.duration,
        visible=error.visible,
        title=error.title,
        print_exception=error.print_exception,
    )
    escaped.__cause__ = error.__cause__
    return escaped


def around(fn: Callable[..., Any], before: Callable[[], None] | None = None) -> Callable[..., Any]:
    """``fn`` with ``before`` run first and its refusals turned into text (:func:`as_text`), keeping
    what Gradio inspects: its signature (for injected requests and progress) and whether it is a
    generator or a coroutine."""

    def check() -> None:
        if before is not None:
            before()

    if inspect.isasyncgenfunction(fn):

        async def agen(*args: Any, **kwargs: Any) -> Any:
            try:
                check()
                async for item in fn(*args, **kwargs):
                    yield item
            except gr.Error as error:
                raise as_text(error) from None

        return functools.wraps(fn)(agen)
    if inspect.isgeneratorfunction(fn):

        def gen(*args: Any, **kwargs: Any) -> Any:
            try:
                check()
                yield from fn(*args, **kwargs)
            except gr.Error as error:
                raise as_text(error) from None

        return functools.wraps(fn)(gen)
    if inspect.iscoroutinefunction(fn):

        async def coro(*args: Any, **kwargs: Any) -> Any:
            try:
                check()
                return await fn(*args, **kwargs)
            except gr.Error as error:
                raise as_text(error) from None

        return functools.wraps(fn)(coro)

    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            check()
            return fn(*args, **kwargs)
        except gr.Error as error:
            raise as_text(error) from None

    return functools.wraps(fn)(plain)


def handler_name(fn: Callable[..., Any]) -> str:
    """How the console names a handler (``Class.method``) in its role tables and logs."""
    return getattr(fn, "__qualname__", repr(fn))


def wrap_handlers(blocks: gr.Blocks, before: Callable[[str], Callable[[], None] | None]) -> None:
    """Wrap every event handler of ``blocks`` once with :func:`around`; ``before(name)`` gives the check
    to run first for the handler called ``name`` (``None``: none)."""
    for block_fn in blocks.fns.values():
        if block_fn.fn is not None:
            block_fn.fn = around(block_fn.fn, before(handler_name(block_fn.fn)))
