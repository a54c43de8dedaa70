"""The Reviewers (docs/method.md, section 4) and the committee decision (section 5).

``check_instruction`` and ``score_response`` run once per reviewer, fanned out with ``Send``;
each receives a :class:`~gra_graph.state.ReviewerTask` and appends one entry to the state.
A reviewer whose output stays unusable after its retries abstains; it is recorded as such and
left out of the mean and spread. How scores and checks are asked and read (sampled or expected,
dimension order, P(pass)) is the graph's ``judging`` (:mod:`gra_graph.nodes.judging`).
``decide`` returns a :class:`~langgraph.types.Command` whose ``goto`` is the next node, so the
graph's edges out of ``decide`` are its return type.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from gra_graph.context import GraContext
from gra_graph.decision import committee_verdict, instruction_check_outcome, next_step
from gra_graph.nodes.calls import ask_stage
from gra_graph.nodes.common import current_reviews
from gra_graph.nodes.judging import ask_scores, check_probes, pass_probabilities
from gra_graph.stages import Stage
from gra_graph.state import GraState, InstructionCheck, Review, ReviewerTask
from gra_graph.verify.checks import verifier_votes


def _task_values(task: ReviewerTask) -> dict[str, object]:
    return {
        "domain": task["domain"],
        "instruction": task["instruction"],
        "response": task["response"],
    }


async def check_instruction(task: ReviewerTask, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Step 3a for one reviewer: pass or fail on each instruction criterion."""
    reviewer = task["reviewer"]
    out = await ask_stage(
        runtime.context,
        reviewer,
        Stage.CHECK_INSTRUCTION,
        _task_values(task),
        (task["seed_index"], task["sample_index"], reviewer),
        probes=check_probes(runtime.context),
    )
    check = InstructionCheck(reviewer=reviewer, model_file=out.record.model_file)
    if out.value is None:
        check.abstained, check.error = True, out.error
    else:
        check.criteria = out.value.passed()  # type: ignore[attr-defined]
        check.reason = out.value.reason  # type: ignore[attr-defined]
        check.pass_probability, check.note = pass_probabilities(runtime.context, out)
    return {"checks": [check.model_dump()], "calls": [out.record.model_dump()]}


async def gather_checks(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Join of the instruction checks: reject at once if they fail by the graph's check rule
    (the paper's: any reviewer failing any criterion)."""
    checks = [InstructionCheck.model_validate(c) for c in state.get("checks", [])]
    config = runtime.context.config
    decision = instruction_check_outcome(checks, config.thresholds, config.judging)
    return {"decision": decision.model_dump()} if decision else {}


async def score_response(task: ReviewerTask, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Step 3b for one reviewer: a score 0-10 per dimension, strengths, weaknesses (or, on the
    pass/fail scale, its reason and a verdict per dimension)."""
    reviewer = task["reviewer"]
    reading = await ask_scores(
        runtime.context,
        reviewer,
        Stage.SCORE_RESPONSE,
        _task_values(task),
        (task["seed_index"], task["sample_index"], reviewer, task["round"]),
        ("strengths", "weaknesses", "reason"),
    )
    calls = [c.model_dump() for c in reading.calls]
    review = Review(reviewer=reviewer, model_file=reading.calls[0].model_file, round=task["round"])
    if reading.error is not None:
        review.abstained, review.error = True, reading.error
        review.dimension_order = reading.dimension_order
    else:
        review = review.model_copy(update={**reading.provenance(), **reading.text})
    return {"reviews": [Review.model_validate(review.model_dump()).model_dump()], "calls": calls}


async def decide(
    state: GraState, runtime: Runtime[GraContext]
) -> Command[Literal["adjudicate", "human_adjudicate", "revise", "enrich", "__end__"]]:
    """Step 4: mean and spread of this round's usable reviews, and where to go next."""
    config = runtime.context.config
    reviews = current_reviews(state) + verifier_votes(state, config)  # votes: verifiers vote
    verdict = committee_verdict(reviews, config.thresholds, state["round"])
    step, decision = next_step(verdict, state["round"], config)
    update: dict[str, Any] = {"verdicts": [verdict.model_dump()]}
    if decision is not None:
        update["decision"] = decision.model_dump()
    return Command(update=update, goto=END if step == "end" else step)
