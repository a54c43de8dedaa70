"""Drawings of a graph file (``gra draw``): Mermaid, ASCII, and PNG, SVG or HTML via Graphviz.

Why this module exists: the compiled graph is the same for every graph file, but what its
conditional edges *do* depends on the file (tau, delta, revise rounds, who adjudicates).
A drawing that only shows LangGraph's nodes and arrows cannot tell ``graphs/gra.yaml`` from
``graphs/gra_revise.yaml``. So:

- the nodes and edges always come from LangGraph's own ``build_graph().get_graph()``, so a new
  node or edge appears in every drawing without touching this file;
- :func:`edge_rules` is the one place that turns a :class:`~gra_graph.config.GraphConfig` into
  edge labels ("mu < tau = 8.0"); an edge the file turns off (revise with
  ``revise.max_rounds: 0``, adjudication with ``adjudication: false``) is kept and drawn as
  disabled (dashed grey, labelled "off"), never silently dropped;
- with a run directory, :func:`run_counts` streams its ``records.jsonl`` and counts how many
  seed-samples took each edge (:func:`edges_taken` reads one record's path from its checks,
  reviews, verdicts, revisions, adjudication and status).

PNG and SVG are rendered by Graphviz's ``dot`` as a local subprocess (no web service); HTML is
one self-contained page around the inline SVG. Without ``dot`` those formats fail with a
:class:`DrawingError` naming the OS package to install.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables.graph import Graph as LcGraph
from langgraph.graph import END, START

from gra_graph.config import GraphConfig
from gra_graph.decision import UNREVIEWED
from gra_graph.rundirs import RunDir
from gra_graph.stages import Stage

Format = Literal["mermaid", "ascii", "png", "svg", "html"]
FORMATS: tuple[str, ...] = Format.__args__
SUFFIX_FORMATS = {".png": "png", ".svg": "svg", ".html": "html", ".htm": "html"}
GRAPHVIZ_HINT = (
    "needs Graphviz's `dot` program, which is not on PATH: install the OS package graphviz "
    "(Debian/Ubuntu: apt-get install -y graphviz; macOS: brew install graphviz)"
)
DOT_TIMEOUT_S = 60.0
OFF_GREY = "#999999"

EdgeKey = tuple[str, str]


class DrawingError(RuntimeError):
    """A drawing that cannot be made (no ``dot``, no run there); the message says what to do."""


@dataclass(frozen=True)
class EdgeRule:
    """When a sample takes one edge, as read from the graph file.

    ``clauses`` are alternatives (any one suffices); ``off`` names the setting that turns the
    edge off in this graph file, or is ``None`` while the edge can be taken.
    """

    clauses: tuple[str, ...] = ()
    off: str | None = None

    @property
    def text(self) -> str:
        """The rule on one line; disabled edges say "off" and why."""
        if self.off is not None:
            return f"off ({self.off})"
        return " or ".join(self.clauses)

    @property
    def lines(self) -> list[str]:
        """The rule over several lines, one alternative each, for drawn labels."""
        if self.off is not None:
            return [self.text]
        return [f"or {c}" if i else c for i, c in enumerate(self.clauses)]


def _check_rule_labels(config: GraphConfig) -> tuple[str, str]:
    """How the instruction checks pass and fail under ``judging.check_rule``."""
    judging = config.judging
    rule, threshold = judging.check_rule, judging.check_threshold
    if rule == "majority":
        return "no criterion failed by a majority", "a majority fails a criterion"
    if rule == "mean_probability" and judging.check_thresholds:
        needed = ", ".join(f"{c} {t:g}" for c, t in judging.criterion_thresholds.items())
        return f"mean P(pass) >= its threshold ({needed})", "mean P(pass) below a threshold"
    if rule == "mean_probability":
        return (
            f"mean P(pass) >= {threshold:g} on every criterion",
            f"mean P(pass) < {threshold:g} on a criterion",
        )
    return "every check passes", "any reviewer fails a check"


def edge_rules(config: GraphConfig) -> dict[EdgeKey, EdgeRule]:
    """Every conditional edge's rule under ``config``; the one place labels come from.

    Mirrors ``decision.next_step``, ``decision.instruction_check_outcome`` and
    ``decision.adjudication_decision`` (docs/method.md, sections 4a, 5, 6 and 9a). Edges not
    named here (unconditional ones, or those of a node added later) are drawn without a rule.
    """
    t = config.thresholds
    tau, delta, usable = f"tau = {t.tau}", f"delta = {t.delta}", t.min_valid_reviews
    rounds, floor = config.revise.max_rounds, config.revise.score_floor
    mode = _adjudication_setting(config)
    no_adjudication = None if config.model_adjudicates else mode
    no_human = None if config.human_adjudicates else mode
    then_human = config.adjudication == "model_then_human"
    no_revise = None if rounds else "revise.max_rounds: 0"
    reject = f"mu < {tau}" + (f" and (mu < floor {floor} or round = {rounds})" if rounds else "")
    decide_end = [reject]
    if not config.adjudication:
        decide_end.append(f"mu >= {tau} and sigma > {delta} (adjudication off)")
    decide_end.append(f"fewer than {usable} usable reviews")
    checks_pass, checks_fail = _check_rule_labels(config)
    drafts = config.generation.draft_attempts
    redrafts = f" ({drafts} drafts)" if drafts > 1 else ""
    cut = ", or is cut at its token budget" if config.generation.cut_answers == "reject" else ""
    return {
        ("compose_keywords", "write_instruction"): EdgeRule(("keywords composed",)),
        ("compose_keywords", END): EdgeRule(("generator fails to compose keywords",)),
        ("write_instruction", "write_response"): EdgeRule(("instruction written",)),
        ("write_instruction", END): EdgeRule(
            (
                "generator writes no instruction",
                f"instruction copies its prompt or speaks of its tasks{redrafts}",
            )
        ),
        ("write_response", "check_instruction"): EdgeRule(
            (f"one check per reviewer (committee of {config.committee_size})",)
        ),
        ("write_response", END): EdgeRule(
            (
                "generator writes no response",
                f"response restates the instruction or copies its prompt{cut}{redrafts}",
            )
        ),
        ("gather_checks", "score_response"): EdgeRule(
            (f"{checks_pass}, at least {usable} usable",)
        ),
        ("gather_checks", END): EdgeRule((checks_fail, f"fewer than {usable} usable checks")),
        ("decide", "enrich"): EdgeRule((f"mu >= {tau} and sigma <= {delta}",)),
        ("decide", "adjudicate"): EdgeRule(
            (f"mu >= {tau} and sigma > {delta}",), off=no_adjudication
        ),
        ("decide", "revise"): EdgeRule(
            (f"mu < {tau} and mu >= floor {floor} and round < {rounds}",), off=no_revise
        ),
        ("decide", END): EdgeRule(tuple(decide_end)),
        ("adjudicate", "enrich"): EdgeRule(
            (f"adjudicator composite >= {tau}",), off=no_adjudication
        ),
        ("adjudicate", END): EdgeRule(
            (f"adjudicator composite < {tau}", "adjudicator abstains"),
            off=no_adjudication or (f"{mode}: a person decides instead" if then_human else None),
        ),
        # human adjudication (docs/method.md, section 9h): the thread waits at interrupt()
        ("decide", "human_adjudicate"): EdgeRule(
            (f"mu >= {tau} and sigma > {delta}: waits for a person",),
            off=None if config.adjudication == "human" else mode,
        ),
        ("adjudicate", "human_adjudicate"): EdgeRule(
            (f"adjudicator composite < {tau}: waits for a person", "adjudicator abstains"),
            off=None if then_human else mode,
        ),
        ("human_adjudicate", "enrich"): EdgeRule(
            ("a person keeps", "a person edits, then keeps"), off=no_human
        ),
        ("human_adjudicate", END): EdgeRule(("a person drops",), off=no_human),
        ("revise", "score_response"): EdgeRule(
            ("revised: one score per reviewer, next round",), off=no_revise
        ),
        ("revise", END): EdgeRule(("reviser fails",), off=no_revise),
        **_verifier_rules(config),
        **_unreviewed_rules(config),
    }


def _unreviewed_rules(config: GraphConfig) -> dict[EdgeKey, EdgeRule]:
    """``committee_size: 0`` (the no-reviewer ablation): a response goes straight to
    ``decide``, which keeps it; with reviewers these edges are never taken."""
    off = "committee_size > 0" if config.committee_size else None
    keep = "no reviewers (committee_size 0): kept unreviewed"
    v = config.verifiers
    verify_off = off or (None if v.enabled else "verifiers.enabled: false")
    return {
        ("write_response", "decide"): EdgeRule((keep,), off=off),
        ("verify", "decide"): EdgeRule((keep,), off=verify_off),
        ("revise", "decide"): EdgeRule((keep,), off=off or "revise.max_rounds: 0"),
    }


def _adjudication_setting(config: GraphConfig) -> str:
    """The graph file's ``adjudication`` setting as written there."""
    value = config.adjudication
    return f"adjudication: {str(value).lower() if isinstance(value, bool) else value}"


def _verifier_rules(config: GraphConfig) -> dict[EdgeKey, EdgeRule]:
    """The executable verifiers' edges (docs/verifiers.md): ``verify`` sits between a written
    response and its reviewers, for the domains the graph file names."""
    v = config.verifiers
    off = None if v.enabled else "verifiers.enabled: false"
    no_revise = None if config.revise.max_rounds else "revise.max_rounds: 0"
    domains = f"domain in [{', '.join(v.domains)}]"
    onward = (
        "always (vote: the verification is one more vote at decide)"
        if v.mode == "vote"
        else "the verification passes or is inconclusive"
    )
    veto_off = off or ("verifiers.mode: vote" if v.mode == "vote" else None)
    unverified = {}
    if v.enabled:  # the plain edge to the reviewers now carries the other domains only
        unverified[("write_response", "check_instruction")] = EdgeRule(
            (
                f"domain not in [{', '.join(v.domains)}]: one check per reviewer "
                f"(committee of {config.committee_size})",
            )
        )
    return {
        **unverified,
        ("write_response", "verify"): EdgeRule((domains,), off=off),
        ("revise", "verify"): EdgeRule((domains,), off=off or no_revise),
        ("verify", "check_instruction"): EdgeRule((f"{onward}: one check per reviewer",), off=off),
        ("verify", "score_response"): EdgeRule(
            (f"{onward}: one score per reviewer, next round",), off=off or no_revise
        ),
        ("verify", END): EdgeRule(("the verification fails (veto)",), off=veto_off),
    }


# ---- counts from a run directory


def edges_taken(record: Mapping[str, Any]) -> list[EdgeKey]:
    """The edges one record's seed-sample took, each once, in order; ``[]`` if it never
    entered the graph (its seed could not be annotated, so the thread never started).

    Read from the record's fields: a missing keyword triple, instruction or response says
    where the Generator stopped; verifications say a verifier ran (and whether it vetoed);
    checks, reviews and verdicts say how far review went; revise
    calls without a revision say the reviser failed; the adjudication says whether it kept.
    """
    if not record.get("roles"):
        return []
    path: list[EdgeKey] = [(START, "draw_roles"), ("draw_roles", "compose_keywords")]
    if not record.get("keywords"):
        return [*path, ("compose_keywords", END)]
    path.append(("compose_keywords", "write_instruction"))
    if record.get("instruction") is None:
        return [*path, ("write_instruction", END)]
    path.append(("write_instruction", "write_response"))
    if record.get("response") is None:
        return [*path, ("write_response", END)]
    verified = {v.get("round", 0): v for v in record.get("verifications") or []}
    unreviewed = record.get("reason") == UNREVIEWED
    if 0 in verified:
        path.append(("write_response", "verify"))
        if verified[0].get("vetoed"):
            return [*path, ("verify", END)]
        if unreviewed:
            return [*path, ("verify", "decide"), ("decide", "enrich"), ("enrich", END)]
        path.append(("verify", "check_instruction"))
    elif unreviewed:
        return [*path, ("write_response", "decide"), ("decide", "enrich"), ("enrich", END)]
    else:
        path.append(("write_response", "check_instruction"))
    path.append(("check_instruction", "gather_checks"))
    if not record.get("reviews"):
        return [*path, ("gather_checks", END)]
    path += [("gather_checks", "score_response"), ("score_response", "decide")]
    revisions = len(record.get("revisions") or [])
    revise_calls = sum(
        1 for call in record.get("calls") or [] if call.get("stage") == Stage.REVISE.value
    )
    if revisions or revise_calls:
        path.append(("decide", "revise"))
    if revisions and any(r > 0 for r in verified):
        path += [("revise", "verify"), ("verify", "score_response")]
        if any(v.get("vetoed") for r, v in verified.items() if r > 0):
            return [*path, ("verify", END)]
    elif revisions:
        path.append(("revise", "score_response"))
    if revise_calls > revisions:  # the last revise call produced nothing: the reviser failed
        return [*path, ("revise", END)]
    verdicts = record.get("verdicts") or []
    outcome = verdicts[-1].get("outcome") if verdicts else None
    adjudication = record.get("adjudication")
    if outcome == "accept":
        return [*path, ("decide", "enrich"), ("enrich", END)]
    human = record.get("human")
    if outcome == "conflict" and human:  # a person decided, after the Adjudicator or not
        path.append(("decide", "adjudicate") if adjudication else ("decide", "human_adjudicate"))
        if adjudication:
            path.append(("adjudicate", "human_adjudicate"))
        if human.get("decision") == "drop":
            return [*path, ("human_adjudicate", END)]
        return [*path, ("human_adjudicate", "enrich"), ("enrich", END)]
    if outcome == "conflict" and adjudication:
        path.append(("decide", "adjudicate"))
        if adjudication.get("keep"):
            return [*path, ("adjudicate", "enrich"), ("enrich", END)]
        return [*path, ("adjudicate", END)]
    return [*path, ("decide", END)]


@dataclass
class RunCounts:
    """How many seed-samples of one run took each edge."""

    run_dir: Path
    edges: Counter[EdgeKey] = field(default_factory=Counter)
    records: int = 0
    outside: int = 0  # records of seed-samples that never entered the graph

    def add(self, record: Mapping[str, Any]) -> None:
        taken = edges_taken(record)
        self.records += 1
        self.outside += not taken
        self.edges.update(dict.fromkeys(taken, 1))


def run_counts(run_dir: Path) -> RunCounts:
    """Count the edges taken by every record of ``run_dir``, streaming its records journal.

    A seed-sample is counted once even if a torn resume left its record twice.

    Raises:
        DrawingError: ``run_dir`` holds no run.
    """
    run = RunDir(run_dir)
    if not run.is_run() and not run.records_path.is_file():
        raise DrawingError(f"{run_dir} is not a run directory (no {run.records_path.name})")
    counts = RunCounts(run_dir)
    seen: set[tuple[Any, Any]] = set()
    for row in run.journal_rows(run.records_path):
        key = (row.get("seed_index"), row.get("sample_index"))
        if key not in seen:
            seen.add(key)
            counts.add(row)
    return counts


def run_mismatch(run_dir: Path, config: GraphConfig) -> str | None:
    """A warning if ``run_dir`` was run with another graph file than the one being drawn."""
    manifest = RunDir(run_dir).manifest() if RunDir(run_dir).is_run() else {}
    recorded = manifest.get("graph_fingerprint")
    if recorded and recorded != config.fingerprint():
        return (
            f"{run_dir} was run with graph '{manifest.get('graph', '?')}' under other settings "
            f"than '{config.name}': the counts are that run's, the rules this file's"
        )
    return None


# ---- the drawing: LangGraph's nodes and edges, with this file's rules


@dataclass(frozen=True)
class DrawnEdge:
    """One edge of the drawing: LangGraph's edge plus its rule and, with a run, its count."""

    source: str
    target: str
    conditional: bool
    rule: EdgeRule
    count: int | None = None

    @property
    def disabled(self) -> bool:
        return self.rule.off is not None

    @property
    def label(self) -> str:
        """Rule and count on one line ("" for an unconditional edge without a run)."""
        parts = [self.rule.text] if self.rule.text else []
        if self.count is not None:
            parts.append(_samples(self.count))
        return " ".join(parts)


@dataclass(frozen=True)
class Drawing:
    """What every format draws: the graph's nodes and labelled edges, and where it came from."""

    name: str
    description: str
    source: str
    settings: str
    nodes: tuple[str, ...]
    edges: tuple[DrawnEdge, ...]
    counts: RunCounts | None = None

    @property
    def disabled_nodes(self) -> frozenset[str]:
        """Nodes whose every incoming edge is off: the file never lets a sample reach them."""
        incoming: dict[str, list[DrawnEdge]] = {}
        for edge in self.edges:
            incoming.setdefault(edge.target, []).append(edge)
        return frozenset(node for node, edges in incoming.items() if all(e.disabled for e in edges))


_ADJUDICATION_WORDS: dict[bool | str, str] = {
    True: "on",
    False: "off",
    "human": "by a person",
    "model_then_human": "by the model, then a person",
}


def settings_line(config: GraphConfig) -> str:
    """The settings the edge rules come from, on one line."""
    t, r = config.thresholds, config.revise
    return (
        f"committee of {config.committee_size}, tau {t.tau}, delta {t.delta}, "
        f"min usable reviews {t.min_valid_reviews}, "
        f"adjudication {_ADJUDICATION_WORDS.get(config.adjudication, config.adjudication)}, "
        + (
            f"revise up to {r.max_rounds} round(s) from floor {r.score_floor}"
            if r.max_rounds
            else "revise off"
        )
    )


def _samples(n: int) -> str:
    return f"[{n} sample{'' if n == 1 else 's'}]"


def _langgraph_graph() -> LcGraph:
    from gra_graph.graph import build_graph  # the compiled graph; needs no members

    return build_graph().get_graph()


def make_drawing(config: GraphConfig, source: str, counts: RunCounts | None = None) -> Drawing:
    """The drawing of ``config``'s graph: LangGraph's nodes and edges, this file's rules."""
    graph = _langgraph_graph()
    rules = edge_rules(config)
    edges = tuple(
        DrawnEdge(
            source=e.source,
            target=e.target,
            conditional=e.conditional,
            rule=rules.get((e.source, e.target), EdgeRule()),
            count=None if counts is None else counts.edges.get((e.source, e.target), 0),
        )
        for e in graph.edges
    )
    return Drawing(
        name=config.name,
        description=config.description,
        source=source,
        settings=settings_line(config),
        nodes=tuple(node.id for node in graph.nodes.values()),
        edges=edges,
        counts=counts,
    )


# ---- text formats


def _mermaid_text(text: str) -> str:
    """A label for Mermaid's quoted ``|"..."|`` form: quotes as entity codes, no line breaks."""
    return text.replace('"', "#quot;").replace("\n", " ")


def to_mermaid(drawing: Drawing) -> str:
    """LangGraph's own Mermaid output, with each edge's rule (and count) added as a quoted
    label, and disabled edges and nodes styled dashed grey (``linkStyle``/``classDef``).

    Labels go in the quoted ``-.->|"label"|`` form rather than LangGraph's ``-. label .->``,
    which Mermaid's lexer rejects as soon as a label holds a "." (every "tau = 8.0")."""
    text = _langgraph_graph().draw_mermaid()
    edges = {(e.source, e.target): e for e in drawing.edges}
    link = re.compile(r"^(\t(\S+) (?:-->|-\.->) )(\S+);$")
    lines: list[str] = []
    styles: list[str] = []
    index = 0
    for line in text.splitlines():
        match = link.match(line)
        if match:
            edge = edges.get((match.group(2), match.group(3)))
            if edge is not None and edge.label:
                line = f'{match.group(1)}|"{_mermaid_text(edge.label)}"| {match.group(3)};'
            if edge is not None and edge.disabled:
                styles.append(
                    f"\tlinkStyle {index} stroke:{OFF_GREY},stroke-dasharray:5 5,color:{OFF_GREY}"
                )
            index += 1
        lines.append(line)
    if drawing.disabled_nodes:
        styles.append(
            f"\tclassDef off fill:#eeeeee,stroke:{OFF_GREY},stroke-dasharray:5 5,color:{OFF_GREY}"
        )
        styles.append(f"\tclass {','.join(sorted(drawing.disabled_nodes))} off")
    return "\n".join(lines + styles) + "\n"


def legend_lines(drawing: Drawing) -> list[str]:
    """One line per edge with a rule or a count: "decide -> enrich: mu >= tau = 8.0 ..."."""
    lines = [f"graph '{drawing.name}' ({drawing.source}): {drawing.settings}", "edge rules"]
    if drawing.counts is not None:
        c = drawing.counts
        lines[1] += f" and seed-samples of run {c.run_dir} ({c.records} records)"
    lines[1] += ":"
    width = max(len(f"{e.source} -> {e.target}") for e in drawing.edges)
    for e in drawing.edges:
        if e.label:
            lines.append(f"  {f'{e.source} -> {e.target}':<{width}}  {e.label}")
    if drawing.counts is not None and drawing.counts.outside:
        lines.append(
            f"  {drawing.counts.outside} record(s) never entered the graph (their seed could "
            "not be annotated)"
        )
    return lines


def to_ascii(drawing: Drawing) -> str:
    """LangGraph's own ASCII drawing (grandalf), then a legend of the edge rules under it."""
    return (
        _langgraph_graph().draw_ascii().rstrip("\n")
        + "\n\n"
        + "\n".join(legend_lines(drawing))
        + "\n"
    )


# ---- Graphviz formats


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(drawing: Drawing) -> str:
    """Graphviz source: one line per rule clause on each edge, disabled edges dashed grey."""
    title = f"{drawing.name}: {drawing.source}"
    lines = [
        "digraph gra {",
        f"  graph [label={_dot_string(title)}, labelloc=t, fontsize=16, "
        'fontname="Helvetica,Arial,sans-serif", nodesep=0.4, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", '
        'fontname="Helvetica,Arial,sans-serif"];',
        '  edge [fontname="Helvetica,Arial,sans-serif", fontsize=10];',
    ]
    off_nodes = drawing.disabled_nodes
    for node in drawing.nodes:
        attrs = [f"label={_dot_string(node)}"]
        if node in (START, END):
            attrs.append('shape=oval, fillcolor="#bfb6fc"' if node == END else "shape=oval")
        if node in off_nodes:
            attrs.append(f'style="rounded,dashed", color="{OFF_GREY}", fontcolor="{OFF_GREY}"')
        lines.append(f"  {_dot_string(node)} [{', '.join(attrs)}];")
    for e in drawing.edges:
        count = [_samples(e.count)] if e.count is not None else []
        label = "\n".join([*e.rule.lines, *count])
        attrs = [f"label={_dot_string(label)}"] if label else []
        if e.disabled:
            attrs.append(f'style=dashed, color="{OFF_GREY}", fontcolor="{OFF_GREY}"')
        elif e.conditional:
            attrs.append('color="#444444"')
        lines.append(
            f"  {_dot_string(e.source)} -> {_dot_string(e.target)}"
            + (f" [{', '.join(attrs)}]" if attrs else "")
            + ";"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(source: str, fmt: Literal["png", "svg"]) -> bytes:
    """Run Graphviz's ``dot`` locally on ``source``.

    Raises:
        DrawingError: ``dot`` is missing, or it failed (its first error line is quoted).
    """
    dot = shutil.which("dot")
    if dot is None:
        raise DrawingError(f"gra draw --format {fmt} {GRAPHVIZ_HINT}")
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}"],
            input=source.encode(),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DrawingError(f"Graphviz's dot could not draw the graph: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        raise DrawingError(f"Graphviz's dot failed (exit {done.returncode}): {why}")
    return done.stdout


def _inline_svg(svg: bytes) -> str:
    """``dot``'s SVG as an element to inline in HTML: no XML prolog, DOCTYPE or namespace URLs
    (HTML5 parsing puts ``<svg>`` in the SVG namespace by itself)."""
    text = svg.decode()
    text = text[text.index("<svg") :]
    return re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", text, count=2)


def to_html(drawing: Drawing) -> str:
    """One self-contained page: the graph file's name, its settings, the inline SVG and a table
    of edge rules (and counts). No scripts, fonts or style sheets from anywhere else."""
    esc = html.escape
    svg = _inline_svg(render_dot(to_dot(drawing), "svg"))
    rows = "\n".join(
        ('<tr class="off">' if e.disabled else "<tr>") + f"<td>{esc(e.source)}</td>"
        f"<td>{esc(e.target)}</td><td>{esc(e.rule.text)}</td>"
        + (f"<td>{e.count}</td>" if e.count is not None else "")
        + "</tr>"
        for e in drawing.edges
    )
    count_head = "<th>seed-samples</th>" if drawing.counts is not None else ""
    run_note = ""
    if drawing.counts is not None:
        c = drawing.counts
        run_note = (
            f"<p>Counts: {c.records} records of run {esc(str(c.run_dir))}"
            + (f"; {c.outside} never entered the graph" if c.outside else "")
            + ".</p>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(drawing.name)}: {esc(drawing.source)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
tr.off td {{ color: {OFF_GREY}; border-style: dashed; }}
svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{esc(drawing.name)}</h1>
<p>Graph file: <code>{esc(drawing.source)}</code></p>
<p>{esc(drawing.description)}</p>
<p>Settings: {esc(drawing.settings)}</p>
{run_note}
{svg}
<h2>Edge rules</h2>
<table>
<tr><th>from</th><th>to</th><th>rule</th>{count_head}</tr>
{rows}
</table>
</body>
</html>
"""


def render(drawing: Drawing, fmt: Format) -> bytes:
    """``drawing`` in ``fmt``, as the bytes to write."""
    if fmt == "mermaid":
        return to_mermaid(drawing).encode()
    if fmt == "ascii":
        return to_ascii(drawing).encode()
    if fmt == "html":
        return to_html(drawing).encode()
    return render_dot(to_dot(drawing), fmt)  # type: ignore[arg-type]


def format_for(fmt: str | None, out: Path | None) -> Format:
    """The format asked for, else the one ``out``'s suffix names, else Mermaid."""
    if fmt:
        return fmt  # type: ignore[return-value]
    if out is not None:
        return SUFFIX_FORMATS.get(out.suffix.lower(), "mermaid")  # type: ignore[return-value]
    return "mermaid"


def draw_graph_file(
    graph_file: Path, fmt: Format, run_dir: Path | None = None
) -> tuple[bytes, list[str]]:
    """Load ``graph_file`` and draw it in ``fmt`` (with ``run_dir``'s counts); the bytes and
    any warnings to show.

    Raises:
        GraphConfigError: the graph file is unusable.
        DrawingError: see :func:`render_dot` and :func:`run_counts`.
    """
    config = GraphConfig.from_file(graph_file)
    warnings: list[str] = []
    counts = None
    if run_dir is not None:
        counts = run_counts(run_dir)
        if (mismatch := run_mismatch(run_dir, config)) is not None:
            warnings.append(mismatch)
    return render(make_drawing(config, str(graph_file), counts), fmt), warnings
