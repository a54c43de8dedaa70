"""Seed annotation (docs/method.md, section 1): a member names the domain, keywords and
summary of a seed that arrives without them. Runs once per seed, before sampling."""

from __future__ import annotations

from gra_graph.config import Role
from gra_graph.context import GraContext
from gra_graph.nodes.calls import CallOutcome, ask_stage
from gra_graph.roles import eligible, sample_rng
from gra_graph.schemas import Annotation
from gra_graph.stages import Stage
from gra_graph.state import Seed


async def annotate_seed(
    ctx: GraContext, seed: Seed, seed_index: int
) -> tuple[Seed | None, CallOutcome[Annotation]]:
    """Fill in what a seed lacks; a domain the seed states is kept. ``None`` if unusable."""
    rng = sample_rng(ctx.run_seed, seed_index, -1, "annotate")
    member = rng.choice(eligible(ctx.config, Role.ENRICHER))
    out = await ask_stage(
        ctx,
        member,
        Stage.ANNOTATE,
        {"instruction": seed.instruction, "response": seed.response},
        ("annotate", seed_index),
    )
    if out.value is None:
        return None, out
    filled = seed.model_copy(
        update={
            "domain": seed.domain or out.value.domain,
            "keywords": seed.keywords or list(out.value.keywords),
            "summary": seed.summary or out.value.summary,
        }
    )
    return filled, out
