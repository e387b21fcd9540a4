"""AccessDashboard: plotly charts of the access log, with a days selector and refresh.

Requests per day per dataset, outcomes per day (ok / denied / rate limited / error), bytes
served per day, top users and p50/p95 durations per dataset — all from the analytics route
(``client.access_report``). Dataset ids and user names are escaped before plotly sees them:
its labels read a few tags, and log text is data, never markup.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import format as fmt
from .actions import describe_error
from .static import StaticRepr

DAY_CHOICES = (1, 7, 14, 30, 90)
OUTCOME_COLOURS = {"ok": "#2e7d32", "denied": "#c62828", "rate_limited": "#ef8f00", "error": "#6d4c41"}
OUTCOME_NAMES = {"ok": "ok", "denied": "denied", "rate_limited": "rate limited", "error": "error"}
TITLES = (
    "Requests per day, by dataset",
    "Outcomes per day",
    "Bytes served per day",
    "Top users (requests)",
    "Duration per dataset (ms)",
)


class AccessDashboard(StaticRepr, widgets.VBox):
    def __init__(self, client: Any = None, days: int = 7, **kwargs: Any):
        if client is None:
            from ..client import default_client

            client = default_client()
        self.client = client
        self.report: dict[str, Any] = {"rows": [], "outcomes": [], "top_users": [], "durations": []}
        choices = sorted(set(DAY_CHOICES) | {int(days)})
        self.days = widgets.Dropdown(
            options=[(f"last {d} day{'s' if d > 1 else ''}", d) for d in choices],
            value=int(days),
            description="Period",
            layout=widgets.Layout(width="220px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", layout=widgets.Layout(width="110px")
        )
        self.status = widgets.Label(layout=widgets.Layout(margin="0 0 0 12px"))
        self.figure = go.FigureWidget(empty_figure())
        super().__init__(
            [
                widgets.HBox(
                    [self.days, self.refresh_button, self.status], layout=widgets.Layout(align_items="center")
                ),
                self.figure,
            ],
            **kwargs,
        )
        self.days.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Fetch the report for the chosen period and redraw (an error shows as one line)."""
        try:
            self.report = self.client.access_report(self.days.value)
        except Exception as exc:  # noqa: BLE001 - one line beside the selector
            self.status.value = describe_error(exc)["text"]
            return
        draw(self.figure, self.report, self.days.value)
        total = sum(r["total_requests"] for r in self.report["rows"])
        users = len(self.report.get("top_users", []))
        self.status.value = (
            f"{fmt.plural(total, 'request')} · {fmt.plural(len(datasets_of(self.report)), 'dataset')}"
            f" · {fmt.plural(users, 'user')}{' (top 10 shown)' if users >= 10 else ''}"
            f" · since {self.report.get('since', '?')}"
        )

    def static_html(self) -> str:
        per_dataset = totals_by_dataset(self.report)
        return (
            f"<p>{fmt.text(self.status.value)}</p>"
            + fmt.html_table(
                ["dataset", "requests", "bytes served"],
                [[d, fmt.human_count(n), fmt.human_bytes(b)] for d, (n, b) in per_dataset.items()],
                caption=f"Access, last {self.days.value} days",
            )
            + fmt.html_table(
                ["outcome", "requests"],
                [[OUTCOME_NAMES[o], fmt.human_count(n)] for o, n in totals_by_outcome(self.report).items()],
            )
            + fmt.html_table(
                ["user", "requests", "bytes served"],
                [
                    [u["user"] or "(anonymous)", fmt.human_count(u["requests"]), fmt.human_bytes(u["bytes_served"])]
                    for u in self.report.get("top_users", [])
                ],
            )
            + fmt.html_table(
                ["dataset", "p50 ms", "p95 ms"],
                [
                    [d["dataset_id"], f"{d['p50_ms']:.1f}", f"{d['p95_ms']:.1f}"]
                    for d in self.report.get("durations", [])
                ],
            )
        )

    def static_text(self) -> str:
        """The summary, the analytics rows (as ``scout.analytics()`` names them) and the outcomes."""
        columns = [
            "access_date",
            "dataset_id",
            "total_requests",
            "unique_users",
            "success_rate_percent",
            "bytes_served",
        ]
        rows = [[str(r.get(c, "")) for c in columns] for r in self.report.get("rows", [])]
        return "\n".join(
            [
                f"Scout access, last {self.days.value} days: {self.status.value}",
                fmt.text_table(columns, rows) if rows else "no access recorded in this period",
                "outcomes: " + ", ".join(f"{OUTCOME_NAMES[o]} {n}" for o, n in totals_by_outcome(self.report).items()),
            ]
        )


def empty_figure() -> go.Figure:
    fig = make_subplots(
        rows=3,
        cols=2,
        subplot_titles=TITLES,
        vertical_spacing=0.12,
        horizontal_spacing=0.1,
        specs=[[{}, {}], [{}, {}], [{"colspan": 2}, None]],
    )
    fig.update_layout(
        height=900,
        barmode="stack",
        margin=dict(l=60, r=30, t=60, b=40),
        template="plotly_white",
        legend=dict(orientation="v", x=1.02, y=1),
        font=dict(size=12),
    )
    return fig


def datasets_of(report: dict[str, Any]) -> list[str]:
    return sorted({r["dataset_id"] for r in report.get("rows", [])})


def totals_by_dataset(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in report.get("rows", []):
        found[r["dataset_id"]][0] += r["total_requests"]
        found[r["dataset_id"]][1] += r["bytes_served"]
    return {d: (n, b) for d, (n, b) in sorted(found.items())}


def totals_by_outcome(report: dict[str, Any]) -> dict[str, int]:
    found = dict.fromkeys(OUTCOME_COLOURS, 0)
    for o in report.get("outcomes", []):
        found[o["outcome"]] = found.get(o["outcome"], 0) + o["requests"]
    return found


def draw(fig: go.FigureWidget, report: dict[str, Any], days: int) -> None:
    """Replace every trace with the report's (one batch: the front end redraws once)."""
    rows = sorted(report.get("rows", []), key=lambda r: r["access_date"])
    day_list = sorted({r["access_date"] for r in rows} | {o["access_date"] for o in report.get("outcomes", [])})
    traces: list[tuple[Any, int, int]] = []
    for dataset in datasets_of(report):
        per_day = {r["access_date"]: r["total_requests"] for r in rows if r["dataset_id"] == dataset}
        traces.append(
            (
                go.Bar(
                    name=fmt.plot_text(dataset),
                    x=list(per_day),
                    y=list(per_day.values()),
                    legendgroup="datasets",
                    legendgrouptitle_text="Datasets",
                ),
                1,
                1,
            )
        )
    for outcome, colour in OUTCOME_COLOURS.items():
        per_day = {o["access_date"]: o["requests"] for o in report.get("outcomes", []) if o["outcome"] == outcome}
        if per_day:
            traces.append(
                (
                    go.Bar(
                        name=OUTCOME_NAMES[outcome],
                        x=list(per_day),
                        y=list(per_day.values()),
                        marker_color=colour,
                        legendgroup="outcomes",
                        legendgrouptitle_text="Outcomes",
                    ),
                    1,
                    2,
                )
            )
    served: dict[str, int] = defaultdict(int)
    for r in rows:
        served[r["access_date"]] += r["bytes_served"]
    traces.append(
        (
            go.Bar(
                name="bytes served",
                x=day_list,
                y=[served.get(d, 0) for d in day_list],
                marker_color="#1565c0",
                showlegend=False,
                hovertext=[fmt.human_bytes(served.get(d, 0)) for d in day_list],
            ),
            2,
            1,
        )
    )
    users = list(reversed(report.get("top_users", [])))
    traces.append(
        (
            go.Bar(
                name="requests by user",
                orientation="h",
                y=[fmt.plot_text(u["user"] or "(anonymous)") for u in users],
                x=[u["requests"] for u in users],
                marker_color="#6a1b9a",
                showlegend=False,
            ),
            2,
            2,
        )
    )
    durations = report.get("durations", [])
    names = [fmt.plot_text(d["dataset_id"]) for d in durations]
    for name, key, colour in (("p50", "p50_ms", "#64b5f6"), ("p95", "p95_ms", "#0d47a1")):
        traces.append(
            (
                go.Scatter(
                    name=name,
                    x=names,
                    y=[d[key] for d in durations],
                    mode="markers",
                    marker=dict(size=11, color=colour, symbol="circle" if name == "p50" else "diamond"),
                    legendgroup="durations",
                    legendgrouptitle_text="Duration",
                ),
                3,
                1,
            )
        )
    with fig.batch_update():
        fig.data = ()
        for trace, row, col in traces:
            fig.add_trace(trace, row=row, col=col)
        fig.update_layout(
            title_text=f"Scout dataset access — last {days} day{'s' if days > 1 else ''}", barmode="stack"
        )
        fig.layout.annotations = [a for a in fig.layout.annotations if a.text in TITLES] + (
            [
                go.layout.Annotation(
                    text="No access recorded in this period",
                    showarrow=False,
                    xref="paper",
                    yref="paper",
                    x=0.5,
                    y=0.5,
                    font=dict(size=16, color="#777"),
                )
            ]
            if not rows
            else []
        )
        fig.update_xaxes(type="category", row=1)
        fig.update_xaxes(type="category", row=2, col=1)
        fig.update_xaxes(type="category", row=3)
        fig.update_yaxes(rangemode="tozero")
        fig.update_xaxes(rangemode="tozero", row=2, col=2)
        fig.update_yaxes(title_text="bytes", ticksuffix="B", tickformat="~s", row=2, col=1)
        fig.update_yaxes(title_text="ms", row=3, col=1)
