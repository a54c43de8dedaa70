"""``gra stats`` in the terminal: the run's figures as Rich tables.

Member names, domains and reasons come from files a user may have been handed: they go
through :func:`gra_graph.terminal.safe` before they are printed.
"""

from __future__ import annotations

from rich.table import Table

from gra_graph.terminal import safe
from gra_graph.viewer.stats import RunStats


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def stats_tables(stats: RunStats) -> list[Table]:
    """Counts by status, rates, rejection reasons, abstentions per member, score summaries
    and throughput."""
    o, info = stats.outcome, stats.info
    counts = Table(title=f"run {safe(stats.run_dir)} ({safe(info.graph)}, {safe(info.status)})")
    counts.add_column("status")
    counts.add_column("seed-samples", justify="right")
    counts.add_row("accepted", str(o.accepted))
    counts.add_row("rejected", str(o.rejected))
    counts.add_row("finished", f"{o.seed_samples} of {info.total}")
    if o.kept_after_dedup is not None:
        counts.add_row("kept after dedup", str(o.kept_after_dedup))

    rates = Table(title="rates")
    rates.add_column("rate")
    rates.add_column("value", justify="right")
    rates.add_column("of", justify="right")
    rates.add_row("acceptance", _pct(o.acceptance_rate), f"{o.accepted} / {o.seed_samples}")
    rates.add_row("adjudication", _pct(o.adjudication_rate), f"{o.adjudicated} / {o.seed_samples}")
    rates.add_row("revision", _pct(o.revision_rate), f"{o.revised} / {o.seed_samples}")
    rates.add_row(
        "instruction-check pass", _pct(o.check_pass_rate), f"{o.check_passed} / {o.checked}"
    )

    reasons = Table(title="rejection reasons")
    reasons.add_column("reason")
    reasons.add_column("seed-samples", justify="right")
    for reason, n in o.rejection_reasons.items():
        reasons.add_row(safe(reason), str(n))

    members = Table(title="abstention per member")
    members.add_column("member")
    members.add_column("judgments", justify="right")
    members.add_column("abstained", justify="right")
    members.add_column("rate", justify="right")
    for a in stats.abstentions:
        members.add_row(safe(a.member), str(a.judgments), str(a.abstained), _pct(a.rate))

    scores = Table(title="scores per dimension (every round, abstentions left out)")
    for name in ("dimension", "scores", "mean", "median", "min", "max"):
        scores.add_column(name, justify="left" if name == "dimension" else "right")
    for s in stats.scores:
        scores.add_row(
            safe(s.dimension),
            str(s.count),
            _num(s.mean),
            _num(s.median),
            _num(s.low),
            _num(s.high),
        )

    throughput = Table(title="throughput (model time: the calls' own seconds added up)")
    throughput.add_column("completion tokens", justify="right")
    throughput.add_column("model seconds", justify="right")
    throughput.add_column("tokens/s", justify="right")
    tps = stats.tokens_per_second
    throughput.add_row(
        str(stats.completion_tokens),
        f"{stats.model_seconds:g}",
        "-" if tps is None else f"{tps:.1f}",
    )
    tables = [counts, rates]
    if o.rejection_reasons:
        tables.append(reasons)
    return [*tables, members, scores, throughput]
