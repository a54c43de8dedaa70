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
from typing import Any

from langgraph.runtime import Runtime

from gra_graph.config import GraphConfig, Role
from gra_graph.context import GraContext
from gra_graph.nodes.calls import ask_stage
from gra_graph.roles import eligible, sample_rng
from gra_graph.stages import Stage
from gra_graph.state import CallRecord, Decision, GraState, Verification
from gra_graph.verify.checks import judge_coding, judge_math, plan_coding


def verifier_member(config: GraphConfig, run_seed: int, state: GraState) -> str:
    """Who verifies this sample: ``verifiers.member``, else a seeded draw from the members
    that may review, other than the Generator (so a resumed sample draws the same one)."""
    if config.verifiers.member is not None:
        return config.verifiers.member
    generator = (state.get("roles") or {}).get("generator")
    pool = [n for n in eligible(config, Role.REVIEWER) if n != generator]
    pool = pool or [n for n in (m.name for m in config.members) if n != generator] or [generator]
    rng = sample_rng(run_seed, state["seed_index"], state["sample_index"], "verifier")
    return rng.choice(pool)


async def run_verifier(
    ctx: GraContext,
    member: str,
    domain: str,
    instruction: str,
    response: str,
    call_key: tuple[object, ...],
) -> tuple[Verification, list[CallRecord]]:
    """Verify one response with ``member``: its verification and the calls it made.

    Used by the ``verify`` node and by ``evals/bench_verifiers.py``, so both apply the same
    rules.
    """
    if domain == "coding":
        plan = plan_coding(instruction, response)
        if isinstance(plan, Verification):
            return plan, []
        out = await ask_stage(
            ctx,
            member,
            Stage.WRITE_TESTS,
            {"domain": domain, "instruction": instruction, "signatures": plan.signature_lines()},
            call_key,
        )
        written = list(out.value.tests) if out.value is not None else []  # type: ignore[attr-defined]
        verification = await asyncio.to_thread(
            judge_coding, plan, written, ctx.config.verifiers, out.error
        )
    elif domain == "math":
        out = await ask_stage(
            ctx, member, Stage.SOLVE, {"domain": domain, "instruction": instruction}, call_key
        )
        value = out.value
        verification = judge_math(
            response,
            value.answer if value is not None else None,  # type: ignore[attr-defined]
            value.work if value is not None else "",  # type: ignore[attr-defined]
        )
    else:
        raise ValueError(f"no verifier for the domain {domain!r}")
    verification.member, verification.model_file = member, out.record.model_file
    return verification, [out.record]


async def verify(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Verify this round's response and record it; with ``veto``, a failure rejects it.

    The edge out (:func:`gra_graph.routing.after_verify`) ends a rejected sample and sends
    any other to the reviewers.
    """
    ctx = runtime.context
    settings = ctx.config.verifiers
    round_ = state.get("round", 0)
    member = verifier_member(ctx.config, ctx.run_seed, state)
    verification, calls = await run_verifier(
        ctx,
        member,
        state["domain"],
        state["instruction"],
        state["response"],
        (state["seed_index"], state["sample_index"], "verify", round_),
    )
    verification.round = round_
    verification.vetoed = settings.mode == "veto" and verification.outcome == "failed"
    update: dict[str, Any] = {
        "verifications": [verification.model_dump()],
        "calls": [c.model_dump() for c in calls],
    }
    if verification.vetoed:
        reason = f"{verification.verifier} verifier vetoes: {verification.reason}"
        update["decision"] = Decision(status="rejected", reason=reason).model_dump()
    return update
