"""The Reviewers (docs/method.md, section 4) and the committee decision (section 5).

``check_instruction`` and ``score_response`` run once per reviewer, fanned out with ``Send``;
each receives a :class:`~gra_graph.state.ReviewerTask` and appends one entry to the state.
A reviewer whose output stays unusable after its retries abstains; it is recorded as such and
left out of the mean and spread.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from gra_graph.config import Stage
from gra_graph.context import GraContext
from gra_graph.decision import committee_verdict, instruction_check_outcome, next_step
from gra_graph.nodes.calls import ask_structured
from gra_graph.schemas import InstructionCheckOutput, ScoreOutput
from gra_graph.state import (
    CHECK_CRITERIA,
    GraState,
    InstructionCheck,
    Review,
    ReviewerTask,
)


def _task_values(task: ReviewerTask) -> dict[str, object]:
    return {
        "domain": task["domain"],
        "instruction": task["instruction"],
        "response": task["response"],
    }


async def check_instruction(task: ReviewerTask, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Step 3a for one reviewer: rationality, completeness, clarity, each pass or fail."""
    ctx = runtime.context
    reviewer = task["reviewer"]
    out = await ask_structured(
        ctx,
        reviewer,
        Stage.CHECK_INSTRUCTION,
        _task_values(task),
        InstructionCheckOutput,
        (task["seed_index"], task["sample_index"], reviewer),
    )
    check = InstructionCheck(reviewer=reviewer, model_file=ctx.members[reviewer].model_ref)
    if out.value is None:
        check.abstained, check.error = True, out.error
    else:
        check.criteria = {c: getattr(out.value, c) == "pass" for c in CHECK_CRITERIA}
        check.reason = out.value.reason
    return {"checks": [check.model_dump()], "calls": [out.record.model_dump()]}


async def gather_checks(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Join of the instruction checks: reject at once if any reviewer failed any criterion."""
    checks = [InstructionCheck.model_validate(c) for c in state.get("checks", [])]
    decision = instruction_check_outcome(checks, runtime.context.config.thresholds)
    return {"decision": decision.model_dump()} if decision else {}


async def score_response(task: ReviewerTask, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Step 3b for one reviewer: six integer scores 0-10 plus strengths and weaknesses."""
    ctx = runtime.context
    reviewer = task["reviewer"]
    out = await ask_structured(
        ctx,
        reviewer,
        Stage.SCORE_RESPONSE,
        _task_values(task),
        ScoreOutput,
        (task["seed_index"], task["sample_index"], reviewer, task["round"]),
    )
    review = Review(
        reviewer=reviewer, model_file=ctx.members[reviewer].model_ref, round=task["round"]
    )
    if out.value is None:
        review.abstained, review.error = True, out.error
    else:
        review.scores = out.value.scores()
        review.strengths, review.weaknesses = out.value.strengths, out.value.weaknesses
    return {"reviews": [review.model_dump()], "calls": [out.record.model_dump()]}


def current_reviews(state: GraState) -> list[Review]:
    """The reviews of the state's current round, in committee order."""
    order = {name: i for i, name in enumerate(state["roles"]["reviewers"])}
    reviews = [Review.model_validate(r) for r in state.get("reviews", [])]
    this_round = [r for r in reviews if r.round == state["round"]]
    return sorted(this_round, key=lambda r: order.get(r.reviewer, len(order)))


async def decide(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Step 4: mean and spread of this round's usable reviews, and where to go next."""
    config = runtime.context.config
    verdict = committee_verdict(current_reviews(state), config.thresholds, state["round"])
    step, decision = next_step(verdict, state["round"], config)
    update: dict[str, Any] = {"verdicts": [verdict.model_dump()], "route": step}
    if decision is not None:
        update["decision"] = decision.model_dump()
    return update
