"""Showing a bench: the progress bar, the terminal tables, the Markdown and JSON files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gra_graph.bench.bench import BenchObserver, BenchReport
from gra_graph.output import write_json_atomic


class BenchProgress(BenchObserver):
    """A rich progress bar over judge calls, with how many came from the cache."""

    def __init__(self, console: Console) -> None:
        self.cached = 0
        self.new = 0
        self.progress = Progress(
            TextColumn("[bold]judge calls"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("bench", total=0, counts="")

    def __enter__(self) -> BenchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_planned(self, calls: int) -> None:
        total = self.progress.tasks[0].total or 0
        self.progress.update(self.task, total=total + calls)

    def on_call(self, cached: bool) -> None:
        if cached:
            self.cached += 1
        else:
            self.new += 1
        self.progress.update(self.task, advance=1, counts=f"new {self.new} cached {self.cached}")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def interval_text(interval: Sequence[float] | None) -> str:
    """A bootstrap interval as the reports print it (``0.37-0.81``), ``-`` when there is none."""
    return "-" if interval is None else f"{interval[0]:.2f}-{interval[1]:.2f}"


def _versus(report: BenchReport) -> list[str]:
    """One sentence per committee setting: its AUROC against its best member's."""
    return [
        f"{c['setting']} minus the best single reviewer ({c['best_single']}): "
        f"{c['difference']:+.3f} AUROC, 95% paired bootstrap interval "
        f"{c['ci'][0]:+.3f} to {c['ci'][1]:+.3f} over {c['pairs']} pairs."
        for c in report.committee_vs_best_single
    ]


_MAIN_COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("setting", "setting", lambda s: s["name"]),
    ("AUROC", "AUROC (mu)", lambda s: s["auroc"]),
    ("95% CI", "AUROC 95% CI", lambda s: interval_text(s.get("auroc_ci"))),
    ("chk=0", "AUROC (failed check = 0)", lambda s: s["auroc_check_zero"]),
    ("acc", "accuracy", lambda s: s["accuracy"]),
    ("sound acc", "sound accepted", lambda s: s["accept_rate_sound"]),
    ("defect rej", "defective rejected", lambda s: s["reject_rate_defective"]),
    ("chk fail", "check failed", lambda s: s["check_fail_rate"]),
    ("abst", "abstention", lambda s: s["abstention"]),
    ("calls", "calls", lambda s: s["calls"]),
    ("s", "seconds", lambda s: _fmt(s["seconds"], 1)),
)
"""Terminal header, Markdown header, value: one row per setting."""

_GRIDS: tuple[tuple[str, str, str], ...] = (
    ("by_defect", "auroc", "AUROC, sound pairs against the pairs with this defect"),
    ("by_defect", "reject_rate", "share of the pairs with this defect rejected"),
    ("by_domain", "auroc", "AUROC within the domain"),
    ("by_domain", "accuracy", "accuracy within the domain"),
)
"""The breakdowns: (part, figure, title); one row per setting, one column per kind or domain."""


def _grid(report: BenchReport, part: str, figure: str) -> tuple[list[str], list[list[str]]]:
    keys = sorted({k for s in report.settings for k in s[part]})
    counts = {k: next(s[part][k]["pairs"] for s in report.settings if k in s[part]) for k in keys}
    header = ["setting", *[f"{k} ({counts[k]})" for k in keys]]
    rows = [
        [s["name"], *[_fmt(s[part][k][figure], 2) if k in s[part] else "-" for k in keys]]
        for s in report.settings
    ]
    return header, rows


def _comparisons(report: BenchReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """The same calls read other ways: (title, header, rows) of the scoring, check-rule and
    position-bias tables (see :mod:`gra_graph.bench.summary`)."""
    views = list(dict.fromkeys(v for s in report.settings for v in s["scoring"]))
    scoring_header = ["setting"]
    for figure in ("AUROC", "chk=0", "acc"):
        scoring_header += [f"{figure} {v}" for v in views]
    scoring_rows = []
    for s in report.settings:
        row = [s["name"]]
        for key in ("auroc", "auroc_check_zero", "accuracy"):
            row += [_fmt(s["scoring"][v][key], 3) if v in s["scoring"] else "-" for v in views]
        scoring_rows.append(row)
    rules = list(dict.fromkeys(r for s in report.settings for r in s["check_rules"]))
    check_header = ["setting"]
    for rule in rules:
        check_header += [f"{rule}: sound pass", f"{rule}: defective fail"]
    check_rows = []
    for s in report.settings:
        row = [s["name"]]
        for rule in rules:
            found = s["check_rules"].get(rule)
            row += (
                [_fmt(found["pass_rate_sound"], 2), _fmt(found["fail_rate_defective"], 2)]
                if found
                else ["-", "-"]
            )
        check_rows.append(row)
    bias_header = ["setting", "reviews", "strictly monotone", "mean written score by position"]
    bias_rows = [
        [
            s["name"],
            str(s["position_bias"]["reviews"]),
            _fmt(s["position_bias"]["monotone_share"], 2),
            " ".join(_fmt(v, 1) for v in s["position_bias"]["mean_by_position"]),
        ]
        for s in report.settings
    ]
    j = report.config.judging
    return [
        (
            f"scores read as the graph reads them ({j.scoring}) and as written",
            scoring_header,
            scoring_rows,
        ),
        (f"instruction check under each rule (graph: {j.check_rule})", check_header, check_rows),
        (f"position bias (graph: score_order {j.score_order})", bias_header, bias_rows),
    ]


def _title(report: BenchReport) -> str:
    t = report.config.thresholds
    return (
        f"bench-review of graph '{report.graph}' on {len(report.per_pair)} pairs "
        f"(tau {t.tau}, delta {t.delta}, min_valid_reviews {t.min_valid_reviews})"
    )


def tables(report: BenchReport) -> list[Table]:
    """The terminal tables: one row per setting, then the breakdowns."""
    main = Table(title=_title(report), caption="\n".join(_versus(report)) or None)
    for short, _long, _get in _MAIN_COLUMNS:
        main.add_column(short, justify="left" if short == "setting" else "right")
    for s in report.settings:
        main.add_row(*[_fmt(get(s)) for _s, _l, get in _MAIN_COLUMNS])
    out = [main]
    for part, figure, title in _GRIDS:
        header, rows = _grid(report, part, figure)
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        out.append(table)
    for title, header, rows in _comparisons(report):
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        out.append(table)
    return out


def markdown(report: BenchReport) -> str:
    """The same tables as Markdown, with the run's particulars."""
    lines = [
        f"# {_title(report)}",
        "",
        f"Pairs from `{report.pairs_file}`, seed {report.seed}, committee of "
        f"{report.config.committee_size}. Judge calls: {report.new_calls} new, "
        f"{report.cached_calls} from the cache; wall {report.wall_seconds:.1f} s. Seconds per "
        "setting add up its calls' own durations (calls ran concurrently).",
        "",
        "| kind | " + " | ".join(long for _s, long, _g in _MAIN_COLUMNS) + " |",
        "|" + "---|" * (len(_MAIN_COLUMNS) + 1),
    ]
    for s in report.settings:
        cells = [s["kind"], *[_fmt(get(s)) for _s, _l, get in _MAIN_COLUMNS]]
        lines.append("| " + " | ".join(cells) + " |")
    if versus := _versus(report):
        lines += ["", *[f"- {sentence}" for sentence in versus]]
    for part, figure, title in _GRIDS:
        header, rows = _grid(report, part, figure)
        lines += ["", f"## {title[0].upper()}{title[1:]}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    for title, header, rows in _comparisons(report):
        lines += ["", f"## {title[0].upper()}{title[1:]}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    if report.skipped:
        lines += ["", *[f"- {why}" for why in report.skipped]]
    return "\n".join(lines) + "\n"


def write_json(report: BenchReport, path: Path) -> None:
    """The report as one JSON document (written whole, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, report.as_json())


def write_markdown(report: BenchReport, path: Path) -> None:
    """The tables as Markdown (written whole, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(markdown(report), encoding="utf-8")
    tmp.replace(path)
