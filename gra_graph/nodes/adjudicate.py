"""The Adjudicator (docs/method.md, section 6): re-scores a conflicted sample after reading every
reviewer's feedback, and keeps it only if its own composite reaches tau."""

from __future__ import annotations

import statistics
from typing import Any

from langgraph.runtime import Runtime

from gra_graph.config import Stage
from gra_graph.context import GraContext
from gra_graph.decision import adjudication_decision
from gra_graph.nodes.calls import ask_structured
from gra_graph.nodes.review import current_reviews
from gra_graph.schemas import AdjudicationOutput
from gra_graph.state import Adjudication, GraState, Review


def feedback_lines(reviews: list[Review]) -> str:
    """Each reviewer's mean score and feedback, one line each, for the adjudicator or reviser."""
    lines = []
    for r in reviews:
        if r.abstained:
            lines.append(f"- {r.reviewer}: abstained")
        else:
            lines.append(
                f"- {r.reviewer} (mean {r.composite:.1f}): strengths: {r.strengths or '-'}"
                f"; weaknesses: {r.weaknesses or '-'}"
            )
    return "\n".join(lines)


async def adjudicate(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Re-score on the same rubric; keep iff the composite is >= tau."""
    ctx = runtime.context
    name = state["roles"]["adjudicator"]
    out = await ask_structured(
        ctx,
        name,
        Stage.ADJUDICATE,
        {
            "domain": state["domain"],
            "instruction": state["instruction"],
            "response": state["response"],
            "feedback": feedback_lines(current_reviews(state)),
        },
        AdjudicationOutput,
        (state["seed_index"], state["sample_index"], state["round"]),
    )
    adjudication = Adjudication(adjudicator=name, model_file=ctx.members[name].model_ref)
    if out.value is None:
        adjudication.abstained, adjudication.error = True, out.error
    else:
        adjudication.scores = out.value.scores()
        adjudication.composite = round(statistics.fmean(adjudication.scores.values()), 4)
        adjudication.rationale = out.value.rationale
    decision = adjudication_decision(adjudication, ctx.config.thresholds.tau)
    adjudication.keep = decision.status == "accepted"
    return {
        "adjudication": adjudication.model_dump(),
        "decision": decision.model_dump(),
        "calls": [out.record.model_dump()],
    }
