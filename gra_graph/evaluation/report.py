"""Showing evaluations: terminal tables with one column per run, and the JSON file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.table import Table

from gra_graph.evaluation.agreement import Agreement
from gra_graph.evaluation.cost import ROLES, Cost, PerSample
from gra_graph.evaluation.diversity import Semantic
from gra_graph.evaluation.evaluate import COMPOSITE, RunEvaluation, TextFigures
from gra_graph.evaluation.metrics import Spread
from gra_graph.output import write_json_atomic
from gra_graph.terminal import safe

Cell = Callable[[RunEvaluation], str]


def run_names(evaluations: Sequence[RunEvaluation]) -> list[str]:
    """Column headers: each run directory's name, or its whole path where names repeat."""
    names = [Path(e.run_dir).name or e.run_dir for e in evaluations]
    if len(set(names)) < len(names):
        names = [e.run_dir for e in evaluations]
    return names


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _count_rate(count: int, value: float | None) -> str:
    return f"{count} ({_pct(value)})" if value is not None else str(count)


def _spread(value: Spread | None) -> str:
    if value is None:
        return "-"
    return " / ".join(f"{v:g}" for v in (value.min, value.p25, value.median, value.p75, value.max))


def _near(semantic: Semantic) -> str:
    if semantic.unavailable:  # its first words ("unavailable", "skipped"); the notes say why
        return f"- ({safe(semantic.unavailable.split(':')[0])})"
    if semantic.near_duplicate_pairs is None:
        return "- (fewer than 2 samples)"
    return (
        f"{semantic.near_duplicate_pairs} pairs ({_pct(semantic.near_duplicate_pair_rate)}), "
        f"dedup drops {_pct(semantic.near_duplicate_rate)}"
    )


def _distance(semantic: Semantic) -> str:
    if semantic.unavailable:
        return "-"
    return _num(semantic.mean_pairwise_cosine_distance)


def _alpha(agreement: Agreement | None) -> str:
    if agreement is None:
        return "-"
    if agreement.alpha is None:
        return f"- ({safe(agreement.reason)})"
    return f"{agreement.alpha:.3f} ({agreement.units} units)"


def _cost(value: Cost | PerSample | None, none: str = "-") -> str:
    if value is None:
        return none
    return f"{value.tokens:,.0f} tok · {value.seconds:,.1f} s · {value.calls:,g} calls"


def _table(title: str, evaluations: Sequence[RunEvaluation], rows: list[tuple[str, Cell]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for name in run_names(evaluations):
        table.add_column(safe(name), overflow="fold")
    for label, cell in rows:
        if not label:
            table.add_section()
            continue
        table.add_row(label, *(cell(e) for e in evaluations))
    return table


def _outcome_rows() -> list[tuple[str, Cell]]:
    def reasons(e: RunEvaluation) -> str:
        top = list(e.outcome.rejection_reasons.items())[:3]
        return ", ".join(f"{safe(k)} {v}" for k, v in top) or "-"

    def kept(e: RunEvaluation) -> str:
        k = e.outcome.kept_after_dedup
        return "- (accepted.jsonl not written yet)" if k is None else str(k)

    o = lambda e: e.outcome  # noqa: E731 - a short accessor keeps the rows on one line each
    return [
        ("graph", lambda e: safe(e.graph)),
        ("status", lambda e: o(e).status),
        ("seed-samples done", lambda e: f"{o(e).seed_samples} of {o(e).expected}"),
        ("accepted", lambda e: _count_rate(o(e).accepted, o(e).acceptance_rate)),
        ("kept after dedup (accepted.jsonl)", kept),
        ("adjudicated", lambda e: _count_rate(o(e).adjudicated, o(e).adjudication_rate)),
        ("revised (>= 1 round)", lambda e: _count_rate(o(e).revised, o(e).revision_rate)),
        (
            "instruction check passed",
            lambda e: f"{o(e).check_passed} of {o(e).checked} ({_pct(o(e).check_pass_rate)})",
        ),
        ("rejected, top reasons", reasons),
        ("abstentions", lambda e: str(o(e).abstentions)),
    ]


def _text_rows(label: str, pick: Callable[[RunEvaluation], TextFigures]) -> list[tuple[str, Cell]]:
    lex = lambda e: pick(e).lexical  # noqa: E731
    return [
        (f"{label}: samples", lambda e: str(pick(e).samples)),
        (
            "distinct-1 / distinct-2, instructions",
            lambda e: (
                f"{_num(lex(e).distinct_1_instruction)} / {_num(lex(e).distinct_2_instruction)}"
            ),
        ),
        (
            "distinct-1 / distinct-2, responses",
            lambda e: f"{_num(lex(e).distinct_1_response)} / {_num(lex(e).distinct_2_response)}",
        ),
        ("instruction words: min/p25/median/p75/max", lambda e: _spread(lex(e).instruction_words)),
        ("response words: min/p25/median/p75/max", lambda e: _spread(lex(e).response_words)),
        ("mean pairwise cosine distance", lambda e: _distance(pick(e).semantic)),
        (
            "near-duplicates (cosine >= threshold)",
            lambda e: _near(pick(e).semantic),
        ),
    ]


def _domain_rows(evaluations: Sequence[RunEvaluation]) -> list[tuple[str, Cell]]:
    names: list[str] = []
    for e in evaluations:
        names += [d for d in e.domains if d not in names]

    def cell(domain: str) -> Cell:
        def show(e: RunEvaluation) -> str:
            count = e.domains.get(domain)
            return f"{count.accepted} / {count.all}" if count else "-"

        return show

    return [(safe(d), cell(d)) for d in names]


def _agreement_rows(evaluations: Sequence[RunEvaluation]) -> list[tuple[str, Cell]]:
    scores: list[str] = []
    checks: list[str] = []
    for e in evaluations:
        scores += [d for d in e.score_agreement if d not in scores]
        checks += [c for c in e.check_agreement if c not in checks]
    rows: list[tuple[str, Cell]] = []
    for name in scores:
        label = "composite: mean of a review" if name == COMPOSITE else f"score: {safe(name)}"
        rows.append((f"{label} (interval)", lambda e, n=name: _alpha(e.score_agreement.get(n))))
    if checks:
        rows.append(("", lambda e: ""))
    for name in checks:
        rows.append(
            (f"check: {safe(name)} (nominal)", lambda e, n=name: _alpha(e.check_agreement.get(n)))
        )
    return rows


def _cost_rows(evaluations: Sequence[RunEvaluation], per_accepted: bool) -> list[tuple[str, Cell]]:
    """Rows of all calls, each role and each member: per accepted sample, or in all."""
    roles = [r for r in ROLES if any(r in e.cost.by_role for e in evaluations)]
    roles += sorted({r for e in evaluations for r in e.cost.by_role} - set(roles))
    members = sorted({m for e in evaluations for m in e.cost.by_member})

    def cell(part: str, key: str | None) -> Cell:
        def show(e: RunEvaluation) -> str:
            costs = e.cost_per_accepted if per_accepted else e.cost
            if costs is None:
                return "- (none accepted)"
            value = costs.total if key is None else getattr(costs, part).get(key)
            return _cost(value)

        return show

    if per_accepted and not any(e.cost_per_accepted for e in evaluations):
        return [("all calls", cell("total", None))]  # nothing to break down
    return [
        ("all calls", cell("total", None)),
        *((f"role: {safe(r)}", cell("by_role", r)) for r in roles),
        ("", lambda e: ""),
        *((f"member: {safe(m)}", cell("by_member", m)) for m in members),
    ]


def tables(evaluations: Sequence[RunEvaluation]) -> list[Table]:
    """The report as rich tables, one column per run."""
    return [
        _table("outcome", evaluations, _outcome_rows()),
        _table(
            "diversity and length (accepted: before the near-duplicate pass)",
            evaluations,
            [
                *_text_rows("accepted", lambda e: e.accepted),
                ("", lambda e: ""),
                *_text_rows("all generated", lambda e: e.generated),
            ],
        ),
        _table("domain mix: accepted / all seed-samples", evaluations, _domain_rows(evaluations)),
        _table(
            "reviewer agreement: Krippendorff's alpha (abstentions are missing values)",
            evaluations,
            _agreement_rows(evaluations),
        ),
        _table(
            "cost per accepted sample (tokens: prompt + completion; seconds: summed per call)",
            evaluations,
            _cost_rows(evaluations, per_accepted=True),
        ),
        _table("cost of all calls", evaluations, _cost_rows(evaluations, per_accepted=False)),
    ]


def notes(evaluations: Sequence[RunEvaluation]) -> list[str]:
    """The notes of every run, prefixed with its column name (safe to print)."""
    return [
        f"{safe(name)}: {safe(note)}"
        for name, e in zip(run_names(evaluations), evaluations, strict=True)
        for note in e.notes
    ]


def write_json(evaluations: Sequence[RunEvaluation], path: Path) -> None:
    """``{"runs": [...]}``, one object per run in the order given, written atomically."""
    write_json_atomic(path, {"runs": [e.model_dump(mode="json") for e in evaluations]})
