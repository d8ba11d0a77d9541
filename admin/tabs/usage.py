"""Usage tab: how Needle is used, drawn with Gradio's own plot components from the core's figures
(:mod:`pipelines.knowledge.usage`; ``needle usage --json`` prints the same). A viewer's account sees the
counts of every question but only the top questions it may see (see :func:`session_view`)."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from admin import render
from admin.roles import session_view
from pipelines.knowledge.gaps import parse_since
from pipelines.service import NeedleService


class UsageActions:
    def __init__(self, service: NeedleService) -> None:
        self.service = service

    def figures(self, since: str) -> tuple[Any, ...]:
        try:
            seconds = parse_since(since)
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None
        view = session_view(self.service)
        report = self.service.knowledge.usage(
            seconds, may_see_trace=None if view.unrestricted else view.visible_trace_ids
        )
        days = pd.DataFrame([vars(day) for day in report.days])
        # Dates, not labels: a month of days as text labels is 30 overlapping strings on the x axis.
        days["day"] = pd.to_datetime(days["day"])
        outcomes = days.melt(
            id_vars="day", value_vars=["answered", "abstained"], var_name="outcome", value_name="n"
        )
        votes = days.melt(id_vars="day", value_vars=["up", "down"], var_name="vote", value_name="n")
        channels = pd.DataFrame(report.channels or [{"channel": "(none)", "questions": 0}])
        top = [[row["count"], row["question"]] for row in report.top_questions]
        rate = f"{report.helpful_rate:.0%} helpful" if report.helpful_rate is not None else "no votes yet"
        summary = (
            f"**{report.questions}** questions in the last {render.md_text(since or '30d')}: "
            f"**{report.answered}** answered, **{report.abstained}** abstained; 👍 {report.up} · 👎 "
            f"{report.down} ({rate}); **{report.escalations}** taken to a person."
        )
        return summary, days, outcomes, votes, days, channels, top


#: Counts start at zero: otherwise a chart whose values are all equal (one channel) has an empty range
#: and draws no bar at all. (A chart of zeros only, no escalations yet, still has a range of zero width:
#: a y_lim set per answer would make the ``usage`` endpoint return updates instead of plain figures.)
FROM_ZERO = [0, None]
#: A day's bar is a day wide on the time axis (unbinned, it is a one-pixel line).
ONE_DAY = "1d"


def build_usage_tab(service: NeedleService) -> None:
    actions = UsageActions(service)
    with gr.Tab("Usage", id="usage") as tab:
        with gr.Row():
            since = gr.Textbox(value="30d", label="Period (30d, 12h, 2w)", max_lines=1, scale=1)
            refresh = gr.Button("Refresh", scale=1)
        summary = gr.Markdown(elem_id="usage-summary")
        with gr.Row():
            per_day = gr.BarPlot(
                x="day", y="questions", title="Questions per day", x_bin=ONE_DAY, y_lim=FROM_ZERO
            )
            outcomes = gr.BarPlot(
                x="day", y="n", color="outcome", title="Answered vs abstained", x_bin=ONE_DAY, y_lim=FROM_ZERO
            )
        with gr.Row():
            votes = gr.BarPlot(
                x="day", y="n", color="vote", title="👍 / 👎 per day", x_bin=ONE_DAY, y_lim=FROM_ZERO
            )
            escalations = gr.BarPlot(
                x="day", y="escalations", title="Taken to a person per day", x_bin=ONE_DAY, y_lim=FROM_ZERO
            )
        channels = gr.BarPlot(x="channel", y="questions", title="Questions per channel", y_lim=FROM_ZERO)
        top = gr.Dataframe(headers=["Asked", "Question"], label="Top questions", interactive=False, wrap=True)
    outputs = [summary, per_day, outcomes, votes, escalations, channels, top]
    refresh.click(actions.figures, [since], outputs, api_name="usage")
    tab.select(actions.figures, [since], outputs, api_visibility="private")
    since.submit(actions.figures, [since], outputs, api_visibility="private")
