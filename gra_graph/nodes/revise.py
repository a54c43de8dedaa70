"""Revise cycles (project extension): the Generator rewrites its response from the reviewers'
feedback; the revision is then scored again by the same committee."""

from __future__ import annotations

import difflib
from typing import Any

from langgraph.runtime import Runtime

from gra_graph.context import GraContext
from gra_graph.nodes.calls import ask_stage
from gra_graph.nodes.common import current_reviews, feedback_lines, reject
from gra_graph.stages import Stage
from gra_graph.state import GraState, Revision


async def revise(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Rewrite the response; advance the round counter; keep the prior version on record."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    reviews = current_reviews(state)
    out = await ask_stage(
        ctx,
        generator,
        Stage.REVISE,
        {
            "domain": state["domain"],
            "instruction": state["instruction"],
            "response": state["response"],
            "feedback": feedback_lines(reviews),
        },
        (state["seed_index"], state["sample_index"], state["round"]),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()]}
    if out.value is None:
        return update | reject(f"revision by {generator} failed: {out.error}")
    revision = Revision(
        round=state["round"] + 1,
        reviser=generator,
        prior_response=state["response"],
        feedback=[r.weaknesses for r in reviews if not r.abstained and r.weaknesses],
        prior_mu=state["verdicts"][-1]["mu"] if state.get("verdicts") else None,
        new_response=out.value,
        diff="".join(
            difflib.unified_diff(
                state["response"].splitlines(keepends=True),
                out.value.splitlines(keepends=True),
                fromfile=f"round {state['round']}",
                tofile=f"round {state['round'] + 1}",
            )
        ),
    )
    return update | {
        "response": out.value,
        "round": state["round"] + 1,
        "revisions": [revision.model_dump()],
    }
