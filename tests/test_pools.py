"""Few-shot pools: every seed kept up to the cap, a bounded reproducible sample beyond it."""

from __future__ import annotations

from gra_graph.pools import FewShotPools
from gra_graph.state import Seed


def seed(i: int, domain: str = "qa") -> Seed:
    return Seed(
        instruction=f"t{i}",
        response="r",
        domain=domain,
        keywords=[f"k{i}", "b", "c"],
        summary=f"s{i}",
    )


def test_small_files_keep_every_pair_in_order():
    pools = FewShotPools(run_seed=0, cap=10)
    for i in range(10):
        pools.add(seed(i))
    pools.add(seed(99, "math"))
    assert [p.summary for p in pools.domain("qa")] == [f"s{i}" for i in range(10)]
    assert [p.summary for p in pools.domain("math")] == ["s99"]
    assert pools.domain("coding") == []


def test_large_files_keep_a_bounded_reproducible_sample():
    def fill(run_seed: int) -> list[str]:
        pools = FewShotPools(run_seed=run_seed, cap=50)
        for i in range(5000):
            pools.add(seed(i))
        return [p.summary for p in pools.domain("qa")]

    kept = fill(1)
    assert len(kept) == 50 and len(set(kept)) == 50
    assert fill(1) == kept and fill(2) != kept
    late = sum(int(s[1:]) >= 2500 for s in kept)
    assert 10 < late < 40  # roughly uniform over the file, not just its start


def test_unannotated_seeds_are_not_pooled():
    pools = FewShotPools(run_seed=0)
    pools.add(Seed(instruction="i", response="r"))
    assert pools.domain("qa") == []
