"""The role draw and the Generator's three stages (docs/method.md, sections 2-3)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from gra_graph.config import Stage
from gra_graph.context import GraContext
from gra_graph.nodes.calls import ask_structured, ask_text
from gra_graph.roles import draw_roles as draw
from gra_graph.roles import sample_rng
from gra_graph.schemas import KeywordTriple
from gra_graph.state import Decision, GraState


def call_key(state: GraState, *extra: object) -> tuple[object, ...]:
    """The identity of a call within the run, which fixes its sampling seed."""
    return (state["seed_index"], state["sample_index"], *extra)


def reject(reason: str) -> dict[str, Any]:
    return {"decision": Decision(status="rejected", reason=reason).model_dump()}


async def draw_roles(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Draw Generator, Reviewers, Adjudicator and Enricher for this sample."""
    ctx = runtime.context
    rng = sample_rng(ctx.run_seed, state["seed_index"], state["sample_index"], "roles")
    return {"roles": draw(ctx.config, rng).model_dump(), "round": 0}


def _examples(pool: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- keywords: {', '.join(p['keywords'])}\n  summary: {p['summary']}" for p in pool
    )


async def compose_keywords(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2a: a NEW keyword triple combining the patterns of pool examples."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    out = await ask_structured(
        ctx,
        generator,
        Stage.COMPOSE_KEYWORDS,
        {"domain": state["domain"], "examples": _examples(state["pool"])},
        KeywordTriple,
        call_key(state),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()]}
    if out.value is None:
        return update | reject(f"generator {generator} failed to compose keywords: {out.error}")
    return update | {"keywords": list(out.value.keywords)}


async def write_instruction(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2b: an instruction built on the new keywords, guided by the pool's summaries."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    out = await ask_text(
        ctx,
        generator,
        Stage.WRITE_INSTRUCTION,
        {
            "domain": state["domain"],
            "keywords": ", ".join(state["keywords"]),
            "summaries": "\n".join(f"- {p['summary']}" for p in state["pool"]),
        },
        call_key(state),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()]}
    if out.value is None:
        return update | reject(f"generator {generator} wrote no instruction: {out.error}")
    return update | {"instruction": out.value}


async def write_response(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Stage 2c: the Generator answers its own instruction."""
    ctx = runtime.context
    generator = state["roles"]["generator"]
    out = await ask_text(
        ctx,
        generator,
        Stage.WRITE_RESPONSE,
        {"domain": state["domain"], "instruction": state["instruction"]},
        call_key(state),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()]}
    if out.value is None:
        return update | reject(f"generator {generator} wrote no response: {out.error}")
    return update | {"response": out.value}
