"""The per-sample role draw (docs/method.md, section 2) and the run's deterministic randomness.

Generator first, uniformly from the members allowed to generate; then the Reviewers, at random
from the rest; then the Adjudicator from what is left. The Enricher (metadata enrichment, step
6) is any member. Every draw comes from a generator seeded by the run seed and the sample's
identity, so a run is reproducible and a resumed thread draws the same roles.
"""

from __future__ import annotations

import hashlib
import random

from gra_graph.config import GraphConfig, Role
from gra_graph.state import RoleDraw


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (Python's ``hash`` is salted per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def sample_rng(run_seed: int, seed_index: int, sample_index: int, purpose: str) -> random.Random:
    """A random generator private to one sample and one purpose."""
    return random.Random(derive_seed(run_seed, seed_index, sample_index, purpose))


def eligible(config: GraphConfig, role: Role) -> list[str]:
    """Names of the members that may play ``role``, in graph-file order."""
    return [m.name for m in config.members if role in m.roles]


def draw_roles(config: GraphConfig, rng: random.Random) -> RoleDraw:
    """Draw Generator, Reviewers, Adjudicator and Enricher for one sample.

    With ``role_assignment: fixed`` (the paper's ablation) every sample gets the first eligible
    members in graph-file order instead.
    """
    pick = _first if config.role_assignment == "fixed" else rng.sample
    generator = pick(eligible(config, Role.GENERATOR), 1)[0]
    reviewer_pool = [n for n in eligible(config, Role.REVIEWER) if n != generator]
    if len(reviewer_pool) < config.committee_size:
        raise ValueError(
            f"only {len(reviewer_pool)} reviewers besides generator {generator!r}; "
            f"committee_size is {config.committee_size}"
        )
    reviewers = pick(reviewer_pool, config.committee_size)
    adjudicator = None
    if config.model_adjudicates:  # a person needs no member
        taken = {generator, *reviewers}
        rest = [n for n in eligible(config, Role.ADJUDICATOR) if n not in taken]
        if not rest:
            raise ValueError("no member left to adjudicate after the generator and reviewers")
        adjudicator = pick(rest, 1)[0]
    enricher = pick(eligible(config, Role.ENRICHER), 1)[0]
    return RoleDraw(
        generator=generator, reviewers=list(reviewers), adjudicator=adjudicator, enricher=enricher
    )


def _first(names: list[str], k: int) -> list[str]:
    return names[:k]
