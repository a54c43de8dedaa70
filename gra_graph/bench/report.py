"""Showing a bench: the progress bar, the terminal tables, the Markdown and JSON files."""

from __future__ import annotations

from collections.abc import Callable
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


_MAIN_COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("setting", "setting", lambda s: s["name"]),
    ("kind", "kind", lambda s: s["kind"]),
    ("AUROC", "AUROC (mu)", lambda s: s["auroc"]),
    ("AUROC chk0", "AUROC (failed check = 0)", lambda s: s["auroc_check_zero"]),
    ("acc", "accuracy", lambda s: s["accuracy"]),
    ("acc sound", "accepts sound", lambda s: s["accept_rate_sound"]),
    ("rej defective", "rejects defective", lambda s: s["reject_rate_defective"]),
    ("check fail", "check fails", lambda s: s["check_fail_rate"]),
    ("abstain", "abstention", lambda s: s["abstention"]),
    ("calls", "calls", lambda s: s["calls"]),
    ("seconds", "seconds", lambda s: _fmt(s["seconds"], 1)),
)


def _breakdown(report: BenchReport, part: str) -> tuple[list[str], list[list[str]]]:
    """Rows of AUROC by defect kind or domain (``part``), one column per setting."""
    keys = sorted({k for s in report.settings for k in s[part]})
    header = [part.removeprefix("by_"), *[s["name"] for s in report.settings]]
    rows = []
    for key in keys:
        cells = []
        for s in report.settings:
            entry = s[part].get(key)
            if entry is None:
                cells.append("-")
            elif part == "by_defect":
                cells.append(f"{_fmt(entry['auroc'], 2)} / {_fmt(entry['reject_rate'], 2)}")
            else:
                cells.append(f"{_fmt(entry['auroc'], 2)} / {_fmt(entry['accuracy'], 2)}")
        n = next(s[part][key]["pairs"] for s in report.settings if key in s[part])
        rows.append([f"{key} ({n})", *cells])
    return header, rows


_BREAKDOWN_TITLES = {
    "by_defect": "AUROC (sound vs this defect) / share of these pairs rejected",
    "by_domain": "AUROC within the domain / accuracy",
}


def tables(report: BenchReport) -> list[Table]:
    """The terminal tables: one row per setting, then the breakdowns."""
    t = report.config.thresholds
    main = Table(
        title=f"bench-review of graph '{report.graph}' on {len(report.per_pair)} pairs "
        f"(tau {t.tau}, delta {t.delta}, min_valid_reviews {t.min_valid_reviews})"
    )
    for short, _long, _get in _MAIN_COLUMNS:
        main.add_column(short, justify="left" if short in {"setting", "kind"} else "right")
    for s in report.settings:
        main.add_row(*[_fmt(get(s)) for _s, _l, get in _MAIN_COLUMNS])
    out = [main]
    for part, title in _BREAKDOWN_TITLES.items():
        header, rows = _breakdown(report, part)
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        out.append(table)
    return out


def markdown(report: BenchReport) -> str:
    """The same tables as Markdown, with the run's particulars."""
    t = report.config.thresholds
    lines = [
        f"# bench-review: graph `{report.graph}`",
        "",
        f"{len(report.per_pair)} pairs from `{report.pairs_file}`, seed {report.seed}, "
        f"committee of {report.config.committee_size}, tau {t.tau}, delta {t.delta}, "
        f"min_valid_reviews {t.min_valid_reviews}. Judge calls: "
        f"{report.new_calls} new, {report.cached_calls} from the cache; "
        f"wall {report.wall_seconds:.1f} s.",
        "",
        "| " + " | ".join(long for _s, long, _g in _MAIN_COLUMNS) + " |",
        "|" + "---|" * len(_MAIN_COLUMNS),
    ]
    for s in report.settings:
        lines.append("| " + " | ".join(_fmt(get(s)) for _s, _l, get in _MAIN_COLUMNS) + " |")
    for part, title in _BREAKDOWN_TITLES.items():
        header, rows = _breakdown(report, part)
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |"]
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
