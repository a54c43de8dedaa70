"""Pure routing functions for the graph's conditional edges (unit-tested on plain dicts).

The decisions after scoring and after adjudication are not here: ``decide`` and ``adjudicate``
return a ``Command`` naming the next node, and their return types declare the edges.
"""

from __future__ import annotations

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Send

from gra_graph.context import GraContext
from gra_graph.state import GraState, ReviewerTask


def reviewer_tasks(state: GraState) -> list[ReviewerTask]:
    """One task per reviewer of the sample, with what that reviewer is shown."""
    return [
        ReviewerTask(
            run_id=state.get("run_id", ""),
            seed_index=state["seed_index"],
            sample_index=state["sample_index"],
            reviewer=name,
            domain=state["domain"],
            instruction=state["instruction"],
            response=state["response"],
            round=state.get("round", 0),
        )
        for name in state["roles"]["reviewers"]
    ]


def to_reviewers(node: str, state: GraState) -> list[Send] | str:
    """One task per reviewer to ``node``; straight to ``decide`` when the graph has no
    reviewers (``committee_size: 0``, the paper's no-reviewer ablation)."""
    tasks = reviewer_tasks(state)
    return [Send(node, task) for task in tasks] if tasks else "decide"


def unless_decided(next_node: str):
    """An edge that ends the thread once a node has set a decision, else goes to ``next_node``."""

    def route(state: GraState) -> str:
        return END if state.get("decision") else next_node

    route.__name__ = f"to_{next_node}_unless_decided"
    return route


def fan_out(node: str):
    """An edge that sends one task per reviewer to ``node``, or ends if already decided."""

    def route(state: GraState) -> list[Send] | str:
        if state.get("decision"):
            return END
        return to_reviewers(node, state)

    route.__name__ = f"fan_out_{node}"
    return route


# ---- executable verifiers (docs/verifiers.md)


def verify_or_fan_out(node: str):
    """An edge from a step that wrote a response: to ``verify`` when the graph file verifies
    the sample's domain, else one task per reviewer to ``node``; END once decided."""

    def route(state: GraState, runtime: Runtime[GraContext]) -> list[Send] | str:
        if state.get("decision"):
            return END
        if runtime.context.config.verifiers.applies(state["domain"]):
            return "verify"
        return to_reviewers(node, state)

    route.__name__ = f"verify_or_fan_out_{node}"
    return route


def after_verify(state: GraState) -> list[Send] | str:
    """Out of ``verify``: END when it vetoed, else the reviewers, to the instruction check in
    the first round and to scoring after a revision."""
    if state.get("decision"):
        return END
    node = "check_instruction" if state.get("round", 0) == 0 else "score_response"
    return to_reviewers(node, state)
