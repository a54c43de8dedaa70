"""The Adjudicator (docs/method.md, section 6): re-scores a conflicted sample after reading
every reviewer's feedback, and keeps it only if its own composite reaches tau."""

from __future__ import annotations

import statistics
from typing import Any, Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from gra_graph.context import GraContext
from gra_graph.decision import adjudication_decision, escalate_to_human
from gra_graph.nodes.common import current_reviews, feedback_lines
from gra_graph.nodes.judging import ask_scores
from gra_graph.stages import Stage
from gra_graph.state import Adjudication, GraState


async def adjudicate(
    state: GraState, runtime: Runtime[GraContext]
) -> Command[Literal["enrich", "human_adjudicate", "__end__"]]:
    """Re-score on the same rubric; keep (and go on to enrichment) iff the composite >= tau.

    With ``adjudication: model_then_human`` a verdict :func:`escalate_to_human` flags goes to
    a person (``human_adjudicate``) instead of deciding."""
    ctx = runtime.context
    name = state["roles"]["adjudicator"]
    reading = await ask_scores(
        ctx,
        name,
        Stage.ADJUDICATE,
        {
            "domain": state["domain"],
            "instruction": state["instruction"],
            "response": state["response"],
            "feedback": feedback_lines(current_reviews(state)),
        },
        (state["seed_index"], state["sample_index"], state["round"]),
        ("rationale",),
    )
    adjudication = Adjudication(adjudicator=name, model_file=reading.calls[0].model_file)
    if reading.error is not None:
        adjudication.abstained, adjudication.error = True, reading.error
    else:
        adjudication = adjudication.model_copy(update={**reading.provenance(), **reading.text})
        adjudication.composite = round(statistics.fmean(adjudication.scores.values()), 4)
    tau = ctx.config.thresholds.tau
    decision = adjudication_decision(adjudication, tau)
    adjudication.keep = decision.status == "accepted"
    update: dict[str, Any] = {
        "adjudication": Adjudication.model_validate(adjudication.model_dump()).model_dump(),
        "calls": [c.model_dump() for c in reading.calls],
    }
    mu = (state.get("verdicts") or [{}])[-1].get("mu")
    if ctx.config.adjudication == "model_then_human" and escalate_to_human(adjudication, mu, tau):
        return Command(update=update, goto="human_adjudicate")  # a person decides
    update["decision"] = decision.model_dump()
    return Command(update=update, goto="enrich" if adjudication.keep else END)
