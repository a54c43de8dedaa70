"""Executable verifiers (docs/verifiers.md): check a response by running it or by solving the
task independently, before the committee reviews it.

The graph comes here from ``write_response`` (and from ``revise``) only for a domain the graph
file verifies (``verifiers.domains``); other domains go straight to review. One member, never
the sample's Generator, writes tests (coding) or its own answer (math); the rules that turn
that into a verdict are :mod:`gra_graph.verify.checks`. With ``verifiers.mode: veto`` a failed
verification ends the sample as rejected; otherwise the review goes on and, in ``vote`` mode,
``decide`` counts the verification as one more vote
(:func:`gra_graph.verify.checks.verifier_votes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from gra_graph.config import GraphConfig, Role, Verifiers
from gra_graph.context import GraContext
from gra_graph.nodes.calls import ask_stage
from gra_graph.roles import eligible, sample_rng
from gra_graph.stages import Stage
from gra_graph.state import CallRecord, Decision, GraState, Verification
from gra_graph.verify.checks import (
    ComplexityPlan,
    SqlPlan,
    judge_coding,
    judge_complexity,
    judge_math,
    judge_sql,
    plan_coding,
    veto_reason,
    vetoes,
)
from gra_graph.verify.sql import Database


def verifier_members(
    config: GraphConfig, run_seed: int, state: GraState, count: int = 1
) -> list[str]:
    """Who verifies this sample, ``count`` calls' worth: ``verifiers.member`` for every call,
    else a seeded draw without repeats from the members that may review, other than the
    Generator, starting over when there are fewer of them than calls (a resumed sample draws
    the same)."""
    if config.verifiers.member is not None:
        return [config.verifiers.member] * count
    generator = (state.get("roles") or {}).get("generator")
    pool = [n for n in eligible(config, Role.REVIEWER) if n != generator]
    pool = pool or [n for n in (m.name for m in config.members) if n != generator] or [generator]
    rng = sample_rng(run_seed, state["seed_index"], state["sample_index"], "verifier")
    order = rng.sample(pool, len(pool))
    return [order[i % len(order)] for i in range(count)]


async def run_verifier(
    ctx: GraContext,
    members: list[str],
    domain: str,
    instruction: str,
    response: str,
    call_key: tuple[object, ...],
) -> tuple[Verification, list[CallRecord]]:
    """Verify one response: ``members[0]`` writes the tests (Python code); each of
    ``members`` writes a test database (an SQL answer) or answers independently (math, a
    complexity answer) once, so those take ``verifiers.solutions`` members
    (:func:`verifier_calls`). Returns the verification and the calls.

    Used by the ``verify`` node and by ``evals/bench_verifiers.py``, so both apply the same
    rules.
    """
    if domain == "coding":
        plan = plan_coding(instruction, response)
        if isinstance(plan, Verification):
            return plan, []
        if isinstance(plan, SqlPlan):
            return await _verify_sql(ctx, members, plan, instruction, call_key)
        if isinstance(plan, ComplexityPlan):
            return await _solve_and_judge(
                ctx,
                members,
                Stage.SOLVE_COMPLEXITY,
                domain,
                instruction,
                call_key,
                lambda answers: judge_complexity(response, answers),
            )
        out = await ask_stage(
            ctx,
            members[0],
            Stage.WRITE_TESTS,
            {"domain": domain, "instruction": instruction, "signatures": plan.signature_lines()},
            call_key,
        )
        written = list(out.value.tests) if out.value is not None else []  # type: ignore[attr-defined]
        verification = await asyncio.to_thread(
            judge_coding, plan, written, ctx.config.verifiers, out.error
        )
        verification.member, verification.model_file = members[0], out.record.model_file
        return verification, [out.record]
    if domain == "math":
        return await _solve_and_judge(
            ctx,
            members,
            Stage.SOLVE,
            domain,
            instruction,
            call_key,
            lambda answers: judge_math(response, answers),
        )
    raise ValueError(f"no verifier for the domain {domain!r}")


async def _solve_and_judge(
    ctx: GraContext,
    members: list[str],
    stage: Stage,
    domain: str,
    instruction: str,
    call_key: tuple[object, ...],
    judge: Callable[[list[str | None]], Verification],
) -> tuple[Verification, list[CallRecord]]:
    """Each of ``members`` answers ``stage`` once, independently; ``judge`` rules on the
    answers (``None`` for a call that failed)."""
    values = {"domain": domain, "instruction": instruction}
    outs = await asyncio.gather(
        *(
            ask_stage(ctx, member, stage, values, (*call_key, "solution", i))
            for i, member in enumerate(members)
        )
    )
    answers = [o.value.answer if o.value is not None else None for o in outs]  # type: ignore[attr-defined]
    verification = judge(answers)
    verification.member = ", ".join(dict.fromkeys(members))
    verification.model_file = ", ".join(dict.fromkeys(o.record.model_file for o in outs))
    return verification, [o.record for o in outs]


async def _verify_sql(
    ctx: GraContext,
    members: list[str],
    plan: SqlPlan,
    instruction: str,
    call_key: tuple[object, ...],
) -> tuple[Verification, list[CallRecord]]:
    values = {"domain": "coding", "instruction": instruction}
    outs = await asyncio.gather(
        *(
            ask_stage(ctx, member, Stage.WRITE_SQL_CHECK, values, (*call_key, "sql", i))
            for i, member in enumerate(members)
        )
    )
    written = [
        Database(tuple(o.value.setup), o.value.query) if o.value is not None else None  # type: ignore[attr-defined]
        for o in outs
    ]
    verification = await asyncio.to_thread(judge_sql, plan, written, ctx.config.verifiers)
    verification.member = ", ".join(dict.fromkeys(members))
    verification.model_file = ", ".join(dict.fromkeys(o.record.model_file for o in outs))
    return verification, [o.record for o in outs]


def verifier_calls(domain: str, instruction: str, response: str, settings: Verifiers) -> int:
    """How many members a response's verification asks: ``solutions`` for math and for an SQL
    or complexity answer, else one (the Python test writer)."""
    if domain == "math" or (
        domain == "coding"
        and isinstance(plan_coding(instruction, response), SqlPlan | ComplexityPlan)
    ):
        return settings.solutions
    return 1


async def verify(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Verify this round's response and record it; with ``veto``, a failure rejects it.

    The edge out (:func:`gra_graph.routing.after_verify`) ends a rejected sample and sends
    any other to the reviewers.
    """
    ctx = runtime.context
    settings = ctx.config.verifiers
    round_ = state.get("round", 0)
    count = verifier_calls(state["domain"], state["instruction"], state["response"], settings)
    verification, calls = await run_verifier(
        ctx,
        verifier_members(ctx.config, ctx.run_seed, state, count),
        state["domain"],
        state["instruction"],
        state["response"],
        (state["seed_index"], state["sample_index"], "verify", round_),
    )
    verification.round = round_
    verification.vetoed = vetoes(verification, settings)
    update: dict[str, Any] = {
        "verifications": [verification.model_dump()],
        "calls": [c.model_dump() for c in calls],
    }
    if verification.vetoed:
        update["decision"] = Decision(
            status="rejected", reason=veto_reason(verification)
        ).model_dump()
    return update
