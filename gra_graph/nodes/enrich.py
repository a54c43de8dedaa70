"""Metadata enrichment (docs/method.md, section 7b): a fresh keyword triple and summary for a kept
sample, so it can seed later rounds."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from gra_graph.context import GraContext
from gra_graph.nodes.calls import ask_stage
from gra_graph.stages import Stage
from gra_graph.state import GraState


async def enrich(state: GraState, runtime: Runtime[GraContext]) -> dict[str, Any]:
    """Write keywords and summary; if the enricher's output is unusable, the sample keeps its
    composed keywords, has no summary, and the record says enrichment failed."""
    ctx = runtime.context
    name = state["roles"]["enricher"]
    out = await ask_stage(
        ctx,
        name,
        Stage.ENRICH,
        {
            "domain": state["domain"],
            "instruction": state["instruction"],
            "response": state["response"],
        },
        (state["seed_index"], state["sample_index"]),
    )
    update: dict[str, Any] = {"calls": [out.record.model_dump()], "enriched": out.value is not None}
    if out.value is not None:
        update |= {"keywords": list(out.value.keywords), "summary": out.value.summary}
    return update
