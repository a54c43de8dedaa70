"""The run's graph with per-edge counts, as an HTML block, through :mod:`gra_graph.drawing`.

The edge rules come from the run's own graph file (the one ``run.json`` records, or one given
with ``--graph``); a run started from the Python API, or whose file is gone or unusable, is
drawn with counts only and a note why. SVG is Graphviz's ``dot``; without it the block is the
Mermaid text and the rule legend in a ``<pre>``, with a note saying what to install.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.drawing import (
    GRAPHVIZ_HINT,
    Drawing,
    DrawingError,
    DrawnEdge,
    EdgeRule,
    RunCounts,
    legend_lines,
    make_drawing,
    render_dot,
    run_mismatch,
    to_dot,
    to_mermaid,
)
from gra_graph.rundirs import RunDir, RunInfoError


@dataclass(frozen=True)
class GraphSource:
    """The graph file whose rules label the edges, or why there is none."""

    config: GraphConfig | None
    source: str
    note: str = ""


def graph_source(run_dir: str | Path, graph_file: Path | None = None) -> GraphSource:
    """``graph_file`` if given, else the graph file the run was started with."""
    if graph_file is None:
        try:
            graph_file = Path(RunDir(run_dir).resume_request().graph)
        except RunInfoError as exc:
            return GraphSource(None, "", f"edge rules unknown: {exc}")
    try:
        config = GraphConfig.from_file(graph_file)
    except GraphConfigError as exc:
        return GraphSource(None, str(graph_file), f"edge rules unknown: {exc}")
    note = run_mismatch(Path(run_dir), config) or ""
    return GraphSource(config, str(graph_file), note)


def _counts_only(counts: RunCounts, name: str) -> Drawing:
    """LangGraph's nodes and edges with the run's counts and no rules."""
    from gra_graph.graph import build_graph

    graph = build_graph().get_graph()
    return Drawing(
        name=name,
        description="",
        source="(graph file unavailable)",
        settings="edge rules unknown",
        nodes=tuple(node.id for node in graph.nodes.values()),
        edges=tuple(
            DrawnEdge(
                e.source,
                e.target,
                e.conditional,
                EdgeRule(),
                counts.edges.get((e.source, e.target), 0),
            )
            for e in graph.edges
        ),
        counts=counts,
    )


def run_drawing(source: GraphSource, counts: RunCounts, name: str) -> Drawing:
    """The drawing of the run: the graph file's rules when known, and the counts."""
    if source.config is None:
        return _counts_only(counts, name)
    return make_drawing(source.config, source.source, counts)


def _inline(svg: bytes) -> str:
    """``dot``'s SVG as an element for HTML: no prolog, DOCTYPE or namespace URLs."""
    text = svg.decode()
    text = text[text.index("<svg") :]
    return re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", text, count=2)


def graph_html(drawing: Drawing) -> str:
    """The drawing as inline SVG, or as text in a ``<pre>`` with a note when ``dot`` is
    missing or fails."""
    try:
        return f'<div class="graph">{_inline(render_dot(to_dot(drawing), "svg"))}</div>'
    except DrawingError as exc:
        why = str(exc) if "not on PATH" not in str(exc) else f"the picture {GRAPHVIZ_HINT}"
        text = to_mermaid(drawing) + "\n" + "\n".join(legend_lines(drawing))
        return (
            f'<p class="note">{html.escape(why)}; the graph as Mermaid text instead:</p>'
            f"<pre>{html.escape(text)}</pre>"
        )
