"""Every console handler's refusal reaches Gradio's toast as text, whatever kind of function it is."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pytest

from admin.handlers import around

TYPED = '<img src=x onerror="alert(1)"> & <b>bold</b>'


def _plain(text: str) -> str:
    raise gr.Error(f"no source or chunk {text!r}", duration=None, print_exception=False)


def _generator(text: str) -> Iterator[str]:
    yield "first"
    raise gr.Error(f"no source or chunk {text!r}", duration=None, print_exception=False)


def test_a_refusal_is_escaped_and_keeps_its_duration() -> None:
    with pytest.raises(gr.Error) as refused:
        around(_plain)(TYPED)
    assert refused.value.message == (
        "no source or chunk '&lt;img src=x onerror=\"alert(1)\"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;'"
    )
    assert refused.value.duration is None and refused.value.print_exception is False

    steps = around(_generator)(TYPED)
    assert next(steps) == "first"
    with pytest.raises(gr.Error, match="&lt;b&gt;bold") as refused:
        next(steps)
    assert "<" not in refused.value.message


def test_the_check_runs_first_and_its_refusal_is_text_too() -> None:
    calls: list[str] = []

    def check() -> None:
        calls.append("check")
        raise gr.Error("account <vera> may not")

    with pytest.raises(gr.Error, match="account &lt;vera&gt; may not"):
        around(lambda: calls.append("ran"), check)()
    assert calls == ["check"]
