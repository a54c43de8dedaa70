"""Helpers every node file shares: call identities, rejections, the current round's reviews
and the feedback text built from them."""

from __future__ import annotations

from typing import Any

from gra_graph.state import Decision, GraState, Review


def call_key(state: GraState, *extra: object) -> tuple[object, ...]:
    """The identity of a call within the run, which fixes its sampling seed."""
    return (state["seed_index"], state["sample_index"], *extra)


def reject(reason: str) -> dict[str, Any]:
    """A state update that ends the sample as rejected, with ``reason``."""
    return {"decision": Decision(status="rejected", reason=reason).model_dump()}


def current_reviews(state: GraState) -> list[Review]:
    """The reviews of the state's current round, in committee order."""
    order = {name: i for i, name in enumerate(state["roles"]["reviewers"])}
    reviews = [Review.model_validate(r) for r in state.get("reviews", [])]
    this_round = [r for r in reviews if r.round == state["round"]]
    return sorted(this_round, key=lambda r: order.get(r.reviewer, len(order)))


def feedback_lines(reviews: list[Review]) -> str:
    """Each reviewer's mean score and feedback, one line each, for the adjudicator or reviser."""
    lines = []
    for r in reviews:
        if r.abstained:
            lines.append(f"- {r.reviewer}: abstained")
        elif r.reason:  # a review on the pass/fail scale gives its reason instead
            lines.append(f"- {r.reviewer} (mean {r.composite:.1f}): {r.reason}")
        else:
            lines.append(
                f"- {r.reviewer} (mean {r.composite:.1f}): strengths: {r.strengths or '-'}"
                f"; weaknesses: {r.weaknesses or '-'}"
            )
    return "\n".join(lines)
