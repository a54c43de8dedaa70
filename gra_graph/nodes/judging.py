"""How a judge is asked and read (docs/method.md, section 9f): the graph's ``judging`` settings
turned into calls, and the calls' replies into scores and check probabilities.

- :func:`ask_scores` asks a reviewer or the adjudicator for its scores in the dimension order(s)
  ``judging.score_order`` gives (one call, or one per dimension), with score probes when
  ``judging.scoring`` is ``expected``, and reads each score as the integer written (sampled)
  or as the expectation over the member's own distribution of 0..10 (expected).
- :func:`check_probes` and :func:`pass_probabilities` do the same for the instruction check's
  P(pass) per criterion.

A member that cannot report distributions (a stock LangChain chat model, an injected fault's
reply) is read as sampled, and :attr:`ScoreReading.note` says so; nothing is invented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gra_graph.context import GraContext
from gra_graph.llm.value_probe import (
    PASS_FAIL_VALUES,
    SCORE_VALUES,
    ValueProbe,
    expected_value,
)
from gra_graph.nodes.calls import CallOutcome, ask_stage, asks_verdicts
from gra_graph.score_order import dimension_orders
from gra_graph.stages import Stage
from gra_graph.state import CHECK_CRITERIA, CallRecord, ScoringMode

NO_READINGS = "the member reports no value probabilities"


@dataclass
class ScoreReading:
    """A judge's scores from its call(s), or the error that made it abstain."""

    calls: list[CallRecord]
    error: str | None = None
    scores: dict[str, int | float] = field(default_factory=dict)
    sampled_scores: dict[str, int] = field(default_factory=dict)
    distributions: dict[str, dict[str, float]] = field(default_factory=dict)
    scoring: ScoringMode = "sampled"
    dimension_order: list[str] = field(default_factory=list)
    note: str | None = None
    text: dict[str, str] = field(default_factory=dict)
    """The free-text fields of the (first) reply: strengths and weaknesses, or rationale."""

    def provenance(self) -> dict[str, Any]:
        """The fields a :class:`~gra_graph.state.Review` or
        :class:`~gra_graph.state.Adjudication` records about how its scores were read."""
        return {
            "scores": self.scores,
            "scoring": self.scoring,
            "sampled_scores": self.sampled_scores,
            "distributions": self.distributions,
            "dimension_order": self.dimension_order,
            "note": self.note,
        }


def score_probes(order: tuple[str, ...], verdicts: bool = False) -> tuple[ValueProbe, ...]:
    """Probes for the 0-10 value of each dimension asked, or its pass/fail verdict."""
    return (ValueProbe(order, PASS_FAIL_VALUES if verdicts else SCORE_VALUES),)


def expected_score(distribution: Mapping[str, float]) -> float:
    """The expected score of one dimension: over 0..10, or 10 x P(pass) for a verdict.

    >>> expected_score({'"pass"': 0.75, '"fail"': 0.25})
    7.5
    """
    if '"pass"' in distribution or '"fail"' in distribution:
        return 10.0 * distribution.get('"pass"', 0.0)
    return expected_value(dict(distribution))


def check_probes(ctx: GraContext) -> tuple[ValueProbe, ...]:
    """Probes for each criterion's pass/fail, when the graph reads checks as probabilities."""
    if not ctx.config.judging.reads_checks:
        return ()
    return (ValueProbe(CHECK_CRITERIA, PASS_FAIL_VALUES),)


def pass_probabilities(
    ctx: GraContext, outcome: CallOutcome[Any]
) -> tuple[dict[str, float], str | None]:
    """Each criterion's P(pass) from a check call, and a note when the graph wanted them but
    the member reported none."""
    if not ctx.config.judging.reads_checks or outcome.value is None:
        return {}, None
    found = outcome.distributions or {}
    probabilities = {
        c: round(found[c]['"pass"'], 6) for c in CHECK_CRITERIA if '"pass"' in found.get(c, {})
    }
    if len(probabilities) < len(CHECK_CRITERIA):
        missing = [c for c in CHECK_CRITERIA if c not in probabilities]
        return probabilities, f"{NO_READINGS} for {', '.join(missing)}"
    return probabilities, None


async def ask_scores(
    ctx: GraContext,
    member: str,
    stage: Stage,
    values: Mapping[str, object],
    call_key: tuple[object, ...],
    text_fields: tuple[str, ...],
) -> ScoreReading:
    """``member``'s scores for ``stage`` (score_response or adjudicate), read as the graph's
    ``judging`` says; see the module docstring. Calls of one score run concurrently."""
    judging = ctx.config.judging
    dims = tuple(ctx.config.score_dimensions)
    orders = dimension_orders(judging.score_order, dims, ctx.run_seed, member, *call_key)
    expected = judging.scoring == "expected"
    verdicts = asks_verdicts(ctx, stage)
    outcomes = await asyncio.gather(
        *(
            ask_stage(
                ctx,
                member,
                stage,
                values,
                call_key if len(orders) == 1 else (*call_key, order[0]),
                order=None if order == dims else order,
                probes=score_probes(order, verdicts) if expected else (),
            )
            for order in orders
        )
    )
    reading = ScoreReading(calls=[o.record for o in outcomes])
    asked = [d for order in orders for d in order]
    reading.dimension_order = asked if tuple(asked) != dims else []
    failed = next((o for o in outcomes if o.value is None), None)
    if failed is not None:
        reading.error = failed.error
        return reading
    written: dict[str, int] = {}
    found: dict[str, dict[str, float]] = {}
    for outcome in outcomes:
        written.update(outcome.value.scores())  # type: ignore[union-attr]
        found.update(outcome.distributions or {})
    first = outcomes[0].value
    reading.text = {f: str(getattr(first, f, "")) for f in text_fields}
    written = {d: written[d] for d in dims}
    if not expected:
        reading.scores = dict(written)
        return reading
    missing = [d for d in dims if d not in found]
    if len(missing) == len(dims):
        reading.scores = dict(written)
        reading.note = f"{NO_READINGS}: sampled scores used"
        return reading
    reading.scoring = "expected"
    reading.sampled_scores = dict(written)
    reading.distributions = {d: found[d] for d in dims if d in found}
    reading.scores = {
        d: round(expected_score(found[d]), 4) if d in found else written[d] for d in dims
    }
    if missing:
        reading.note = f"{NO_READINGS} for {', '.join(missing)}: sampled scores used for them"
    return reading
