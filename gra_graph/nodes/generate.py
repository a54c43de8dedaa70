"""The role draw and the Generator's three stages (docs/method.md, sections 2-3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from gra_graph.context import GraContext
from gra_graph.drafts import cut_answer, instruction_fault, response_fault
from gra_graph.nodes.calls import CallOutcome, ask_stage
from gra_graph.nodes.common import call_key, reject
from gra_graph.roles import draw_roles as draw
from gra_graph.roles import sample_rng
from gra_graph.stages import Stage
from gra_graph.state import GraState


async def draw_roles(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Draw Generator, Reviewers, Adjudicator and Enricher for this sample."""
    ctx = runtime.context
    rng = sample_rng(ctx.run_seed, state["seed_index"], state["sample_index"], "roles")
    return {"roles": draw(ctx.config, rng).model_dump(), "round": 0}


def _keyword_examples(pool: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- keywords: {', '.join(p['keywords'])}\n  summary: {p['summary']}" for p in pool
    )


def _task_examples(pool: list[dict[str, Any]]) -> str:
    """The pool's real instructions, each with its summary (the paper's guidance)."""
    blocks = []
    for p in pool:
        task = p.get("instruction")
        if task:
            blocks.append(f"- Task: {task}\n  About: {p['summary']}")
        else:
            blocks.append(f"- About: {p['summary']}")
    return "\n".join(blocks)


async def compose_keywords(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2a: a NEW keyword triple combining the patterns of pool examples.

    The triple is composed from the first ``generation.keyword_sources`` examples (the seed's
    own first), or from all of them as in the paper when that setting is null.
    """
    ctx = runtime.context
    generator = state["roles"]["generator"]
    sources = ctx.config.generation.keyword_sources
    pool = state["pool"][:sources] if sources else state["pool"]
    out = await ask_stage(
        ctx,
        generator,
        Stage.COMPOSE_KEYWORDS,
        {"domain": state["domain"], "examples": _keyword_examples(pool)},
        call_key(state),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()]}
    if out.value is None:
        return update | reject(f"generator {generator} failed to compose keywords: {out.error}")
    return update | {"keywords": list(out.value.keywords)}  # type: ignore[attr-defined]


def _draft_key(state: GraState, attempt: int) -> tuple[object, ...]:
    """The first draft keeps the call identity it always had; each redraft gets its own."""
    return call_key(state) if attempt == 0 else call_key(state, "redraft", attempt)


@dataclass
class _Drafts:
    """The Generator's drafts for one stage: every call, and the last draft with its fault."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    value: Any = None
    """the last draft; None when its call failed (``error`` says why)"""
    error: str | None = None
    fault: str | None = None
    """why the last draft fails the draft rules; None when it passes"""


async def _draft(
    ctx: GraContext,
    state: GraState,
    stage: Stage,
    values: dict[str, object],
    fault_of: Callable[[CallOutcome[Any]], str | None],
) -> _Drafts:
    """Up to ``generation.draft_attempts`` drafts of ``stage``, until one passes ``fault_of``
    (:mod:`gra_graph.drafts`) or a call fails."""
    drafts = _Drafts()
    for attempt in range(ctx.config.generation.draft_attempts):
        out = await ask_stage(
            ctx, state["roles"]["generator"], stage, values, _draft_key(state, attempt)
        )
        drafts.calls.append(out.record.model_dump())
        drafts.value, drafts.error = out.value, out.error
        if out.value is None:
            return drafts
        drafts.fault = fault_of(out)
        if drafts.fault is None:
            return drafts
    return drafts


async def write_instruction(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2b: an instruction built on the new keywords, guided by the pool's real tasks and
    their summaries, written as one JSON string so it ends where the task ends. A "task" that
    copies the stage's own prompt, or speaks of its prompt's tasks, is drafted again up to
    ``generation.draft_attempts`` times, then rejected before review (:mod:`gra_graph.drafts`)."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    values: dict[str, object] = {
        "domain": state["domain"],
        "keywords": ", ".join(state["keywords"]),
        "summaries": "\n".join(f"- {p['summary']}" for p in state["pool"]),
        "examples": _task_examples(state["pool"]),
    }
    fixed_text = ctx.prompts[Stage.WRITE_INSTRUCTION].fixed_text
    drafts = await _draft(
        ctx,
        state,
        Stage.WRITE_INSTRUCTION,
        values,
        lambda out: instruction_fault(out.value.instruction, fixed_text),
    )
    update: dict[str, Any] = {"calls": drafts.calls}
    if drafts.value is None:
        return update | reject(f"generator {generator} wrote no instruction: {drafts.error}")
    update["instruction"] = drafts.value.instruction
    if drafts.fault is not None:
        return update | reject(f"generator {generator} {drafts.fault}")
    return update


async def write_response(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2c: the Generator answers its own instruction. An answer that only restates the
    instruction, or copies the stage's prompt (or, with ``generation.cut_answers: reject``, is
    cut at its token budget), is drafted again up to ``generation.draft_attempts`` times, then
    rejected before any reviewer sees it (:mod:`gra_graph.drafts`)."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    instruction = state["instruction"]
    fixed_text = ctx.prompts[Stage.WRITE_RESPONSE].fixed_text
    reject_cut = ctx.config.generation.cut_answers == "reject"
    budget = ctx.config.budgets.for_stage(Stage.WRITE_RESPONSE)

    def fault(out: CallOutcome[Any]) -> str | None:
        cut = cut_answer(out.record.finish_reason, budget) if reject_cut else None
        return response_fault(instruction, str(out.value), fixed_text) or cut

    drafts = await _draft(
        ctx,
        state,
        Stage.WRITE_RESPONSE,
        {"domain": state["domain"], "instruction": instruction},
        fault,
    )
    update: dict[str, Any] = {"calls": drafts.calls}
    if drafts.value is None:
        return update | reject(f"generator {generator} wrote no response: {drafts.error}")
    update["response"] = drafts.value
    if drafts.fault is not None:
        return update | reject(f"generator {generator} {drafts.fault}")
    return update
