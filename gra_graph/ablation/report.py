"""The ablation's comparison: a markdown table, a CSV file and a bar chart (PNG).

The chart is drawn by Graphviz's ``dot`` (already the project's renderer for ``gra draw``): one
HTML-like table per figure, each bar a cell whose width is proportional to the value, so no
plotting library is installed for one picture.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from gra_graph.ablation.compare import AblationRow
from gra_graph.bench.report import interval_text
from gra_graph.drawing import render_dot

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "graph"),
    ("seed_samples", "seed-samples"),
    ("accepted", "accepted"),
    ("acceptance_rate", "acceptance"),
    ("kept_after_dedup", "kept"),
    ("auroc", "bench AUROC"),
    ("auroc_ci", "AUROC 95% CI"),
    ("auroc_check_zero", "AUROC, failed check = 0"),
    ("accuracy", "bench accuracy"),
    ("calls_per_accepted", "calls / accepted"),
    ("tokens_per_accepted", "tokens / accepted"),
    ("model_seconds_per_accepted", "model s / accepted"),
    ("note", "note"),
)
"""The table's columns: (row field, heading), in order."""


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown(rows: Sequence[AblationRow], title: str) -> str:
    """One markdown table, a row per graph, in the order they ran."""
    head = [h for _, h in COLUMNS]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = asdict(row)
        low, high = values["auroc_low"], values["auroc_high"]
        values["auroc_ci"] = None if low is None else interval_text((low, high))
        cells = [_cell(values[f]).replace("|", "\\|") for f, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[AblationRow], path: Path) -> None:
    """Every field of every row, a header line first (empty cells for missing figures)."""
    names = [f.name for f in fields(AblationRow)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})


CHART_FIGURES: tuple[tuple[str, str, Callable[[AblationRow], float | None]], ...] = (
    ("acceptance rate", "#4c78a8", lambda r: r.acceptance_rate),
    ("bench AUROC", "#f58518", lambda r: r.auroc),
    ("model seconds per accepted sample", "#54a24b", lambda r: r.model_seconds_per_accepted),
)
BAR_POINTS = 240
"""The width of the longest bar of each figure."""


def chart_dot(rows: Sequence[AblationRow], title: str) -> str:
    """Graphviz source of the chart: a panel per figure, a bar per graph."""
    panels = []
    for label, colour, value_of in CHART_FIGURES:
        values = [value_of(r) for r in rows]
        top = max((v for v in values if v is not None), default=0.0) or 1.0
        cells = [f'<TR><TD COLSPAN="3"><B>{html.escape(label)}</B></TD></TR>']
        for row, value in zip(rows, values, strict=True):
            name = html.escape(row.name)
            width = 0 if value is None else max(1, round(BAR_POINTS * value / top))
            shown = "-" if value is None else _cell(value)
            # the bar, then blank space to the full width: the bar starts at the left edge
            bar = "".join(
                f'<TD WIDTH="{w}" HEIGHT="14" FIXEDSIZE="TRUE"{fill}></TD>'
                for w, fill in ((width, f' BGCOLOR="{colour}"'), (BAR_POINTS - width, ""))
                if w > 0
            )
            cells.append(
                f'<TR><TD ALIGN="RIGHT">{name}</TD>'
                f'<TD ALIGN="LEFT" WIDTH="{BAR_POINTS}"><TABLE BORDER="0" CELLSPACING="0" '
                f'CELLPADDING="0"><TR>{bar}</TR></TABLE></TD>'
                f'<TD ALIGN="LEFT">{html.escape(shown)}</TD></TR>'
            )
        panels.append(
            '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2">' + "".join(cells) + "</TABLE>"
        )
    body = "".join(f"<TR><TD>{p}</TD></TR>" for p in panels)
    return (
        "digraph ablation {\n"
        f'  graph [label="{_dot_text(title)}", labelloc=t, fontsize=16];\n'
        '  node [shape=plaintext, fontname="Helvetica", fontsize=11];\n'
        f'  chart [label=<<TABLE BORDER="0">{body}</TABLE>>];\n'
        "}\n"
    )


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def write_chart(rows: Sequence[AblationRow], title: str, path: Path) -> None:
    """The chart as PNG.

    Raises:
        DrawingError: Graphviz's ``dot`` is missing or failed.
    """
    path.write_bytes(render_dot(chart_dot(rows, title), "png"))
