"""``gra stats``: a run's figures read once, as terminal tables or one self-contained page."""

from __future__ import annotations

from pathlib import Path

from gra_graph.viewer.graph import graph_html, graph_source, run_drawing
from gra_graph.viewer.html import esc, report_page
from gra_graph.viewer.records import load_records
from gra_graph.viewer.stats import RunStats, compute_stats


def run_stats(run_dir: str | Path) -> RunStats:
    """The figures of the run in ``run_dir``, over the records written so far.

    Raises:
        RunInfoError: ``run_dir`` is not a readable run directory.
    """
    return compute_stats(load_records(run_dir))


def report_html(run_dir: str | Path, graph_file: Path | None = None) -> str:
    """The static report of ``run_dir``: graph with per-edge counts, rates, plots and the
    sample table, in one page that loads nothing from anywhere else.

    Raises:
        RunInfoError: ``run_dir`` is not a readable run directory.
    """
    records = load_records(run_dir)
    stats = compute_stats(records)
    source = graph_source(run_dir, graph_file)
    block = graph_html(run_drawing(source, stats.counts, stats.info.graph))
    if source.note:
        block = f'<p class="note">{esc(source.note)}</p>{block}'
    return report_page(stats, block, records.records)
