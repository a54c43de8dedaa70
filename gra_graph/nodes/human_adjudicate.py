"""A person settles a conflict (``adjudication: human`` or ``model_then_human``; docs/method.md,
section 9h): the thread stops at LangGraph's ``interrupt()`` with a :class:`HumanQuestion`, and
goes on when it is resumed with a :class:`HumanAnswer` (``Command(resume=...)``).

The node asks again, with the reason in ``HumanQuestion.error``, when the resume value is not a
valid answer, so a bad answer never ends the thread. Only this node calls ``interrupt()``; the
Adjudicator member has already been asked (and recorded) by then, so resuming re-runs no model.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from gra_graph.nodes.common import current_reviews
from gra_graph.state import Decision, GraState, HumanAnswer, HumanDecision, HumanQuestion


def human_question(state: GraState, error: str | None = None) -> HumanQuestion:
    """What the person is shown: the sample, the committee's mean and spread, each review."""
    verdict = (state.get("verdicts") or [{}])[-1]
    reviews = [
        {
            "reviewer": r.reviewer,
            "abstained": r.abstained,
            "scores": dict(r.scores),
            "strengths": r.strengths,
            "weaknesses": r.weaknesses,
        }
        for r in current_reviews(state)
    ]
    return HumanQuestion(
        seed_index=state["seed_index"],
        sample_index=state["sample_index"],
        domain=state["domain"],
        instruction=state["instruction"],
        response=state["response"],
        mu=verdict.get("mu"),
        sigma=verdict.get("sigma"),
        reviews=reviews,
        adjudication=state.get("adjudication"),
        error=error,
    )


def read_answer(value: Any) -> HumanAnswer:
    """A resume value as a :class:`HumanAnswer` (a model or its dict); ``ValueError`` saying
    what is wrong otherwise."""
    if isinstance(value, HumanAnswer):
        return value
    try:
        return HumanAnswer.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"not a valid human answer ({problems})") from None


async def human_adjudicate(state: GraState) -> Command[Literal["enrich", "__end__"]]:
    """Wait for a person's keep / drop / edit; keep and edit go on to enrichment."""
    error: str | None = None
    while True:  # each interrupt() after the first takes the next resume value
        value = interrupt(human_question(state, error).model_dump())
        try:
            answer = read_answer(value)
            break
        except ValueError as exc:
            error = str(exc)
    human = HumanDecision(
        who=answer.who,
        decision=answer.decision,
        note=answer.note,
        original_response=state["response"],
        edited_response=answer.edited_response,
    )
    update: dict[str, Any] = {"human": human.model_dump()}
    verdict = (state.get("verdicts") or [{}])[-1]
    why = (
        f"answered by {answer.who}; committee mu {verdict.get('mu')}, sigma {verdict.get('sigma')}"
    )
    if answer.decision == "drop":
        update["decision"] = Decision(status="rejected", reason=f"human drops: {why}").model_dump()
        return Command(update=update, goto=END)
    if answer.decision == "edit":
        update["response"] = answer.edited_response
    kept = "human keeps an edited response" if answer.decision == "edit" else "human keeps"
    update["decision"] = Decision(status="accepted", reason=f"{kept}: {why}").model_dump()
    return Command(update=update, goto="enrich")
