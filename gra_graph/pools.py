"""Few-shot pools: per domain, the samples the Generator learns from.

The Generator of each sample sees its own seed's pair plus ``generation.few_shot - 1`` others
of the same domain (docs/method.md, section 3). A pool keeps at most :data:`POOL_CAP` pairs per
domain, chosen by reservoir sampling seeded by the run seed, so a seeds file of any length needs
bounded memory; a file with up to ``POOL_CAP`` seeds per domain keeps every pair, in file order,
exactly as if the pool were unbounded.

With ``--iterations`` the pools grow: after each iteration the samples it kept are offered
too (:func:`gra_graph.seeding.grow_pools`), with the keywords and summary enrichment wrote and
their instruction as a few-shot example, and stay for every later iteration; the cap and the
reservoir apply to everything offered, in the order offered (the seeds file, then iteration 1's
kept samples, then iteration 2's...), so a resumed run rebuilds the same pools.
"""

from __future__ import annotations

import random

from gra_graph.roles import sample_rng
from gra_graph.state import PoolEntry, Seed

POOL_CAP = 1000
"""Most entries kept per domain (about a megabyte each domain at most)."""


EXAMPLE_CHARS = 600
"""Longest instruction kept as a few-shot example; a longer one is shown by its summary only
(a prompt of long examples crowds a small model's context, and this bounds pool memory)."""


def pool_entry(seed: Seed) -> PoolEntry:
    """The pool entry of an annotated seed."""
    assert seed.keywords and seed.summary
    example = seed.instruction if len(seed.instruction) <= EXAMPLE_CHARS else None
    return PoolEntry(keywords=seed.keywords, summary=seed.summary, instruction=example)


class FewShotPools:
    """Bounded per-domain pools, filled one annotated seed at a time.

    Example:
        >>> pools = FewShotPools(run_seed=0)
        >>> pools.add(Seed(instruction="i", response="r", domain="qa",
        ...                keywords=["a", "b", "c"], summary="s"))
        >>> len(pools.domain("qa"))
        1
    """

    def __init__(self, run_seed: int, cap: int = POOL_CAP) -> None:
        self.run_seed = run_seed
        self.cap = cap
        self._pools: dict[str, list[PoolEntry]] = {}
        self._seen: dict[str, int] = {}
        self._rngs: dict[str, random.Random] = {}

    def add(self, seed: Seed) -> None:
        """Offer an annotated seed's pair to its domain's pool (reservoir sampling)."""
        if not (seed.domain and seed.keywords and seed.summary):
            return
        entry = pool_entry(seed)
        pool = self._pools.setdefault(seed.domain, [])
        seen = self._seen.get(seed.domain, 0)
        self._seen[seed.domain] = seen + 1
        if seen < self.cap:
            pool.append(entry)
            return
        rng = self._rngs.setdefault(
            seed.domain, sample_rng(self.run_seed, -1, -1, f"pool:{seed.domain}")
        )
        slot = rng.randrange(seen + 1)
        if slot < self.cap:
            pool[slot] = entry

    def domain(self, domain: str) -> list[PoolEntry]:
        """The pairs kept for ``domain`` (empty if none)."""
        return self._pools.get(domain, [])
