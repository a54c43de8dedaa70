"""Before sampling: annotate the seeds that lack metadata (journaled, once per run), build the
few-shot pools, both in streaming passes over the seeds, and make each seed-sample's starting
state.

Every iteration goes through here (docs/method.md, section 8): iteration 1's seeds are the seeds
file, a later iteration's are the samples the one before kept. Seed indices are run-wide
(``first_index``), so the annotations journal, the thread ids and every seeded draw of a later
iteration never meet an earlier one's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gra_graph.context import GraContext
from gra_graph.nodes.annotate import annotate_seed
from gra_graph.pools import FewShotPools, pool_entry
from gra_graph.roles import sample_rng
from gra_graph.rundirs import RunDir
from gra_graph.seeds import SeedFile
from gra_graph.state import CallRecord, Seed

Seeds = Sequence[Seed] | SeedFile


async def annotate_seeds(
    ctx: GraContext,
    seeds: Seeds,
    run_dir: RunDir,
    concurrency: int,
    append: Callable[[dict[str, object]], object],
    on_call: Callable[[CallRecord], None],
    warn: Callable[[str], None],
    first_index: int = 0,
) -> dict[int, Seed | None]:
    """Annotate every seed that lacks metadata; only those are returned (``None``: unusable),
    keyed by run-wide seed index (``seeds[0]`` is seed ``first_index``).

    Streams the seeds with at most ``concurrency`` annotations in flight (never more workers
    than seeds to annotate, whatever ``concurrency`` says). Rows already in the run's
    annotations journal are reused, not asked again. ``append`` journals a new row and returns
    a false value when the run can write no more (a full disk): the pass then stops.
    ``on_call`` sees each call's accounting, reused ones included; ``warn`` hears what the
    repair of a damaged annotations journal changed.
    """

    def checked(row: dict[str, object]) -> int:
        if row["seed"] is not None:
            Seed.model_validate(row["seed"])
        CallRecord.model_validate(row["call"])
        return int(row["seed_index"])  # type: ignore[call-overload]

    repair = run_dir.repair(run_dir.annotations_path, checked)
    side = run_dir.corrupt_path(run_dir.annotations_path)
    for message in repair.warnings(run_dir.annotations_path, side):
        warn(message)
    cached = {row["seed_index"]: row for row in run_dir.journal_rows(run_dir.annotations_path)}
    result: dict[int, Seed | None] = {}
    stopped = False

    def todo() -> Iterator[tuple[int, Seed]]:
        for i, seed in enumerate(seeds, start=first_index):
            if seed.annotated:
                continue
            row = cached.pop(i, None)
            if row is None:
                yield i, seed
            else:
                result[i] = Seed.model_validate(row["seed"]) if row["seed"] else None
                on_call(CallRecord.model_validate(row["call"]))

    queue = todo()

    async def worker() -> None:
        nonlocal stopped
        for i, seed in queue:
            if stopped:
                return
            filled, out = await annotate_seed(ctx, seed, i)
            result[i] = filled
            row = {
                "seed_index": i,
                "seed": filled.model_dump() if filled else None,
                "error": out.error,
                "call": out.record.model_dump(),
            }
            if not await append(row):
                stopped = True
                return
            on_call(out.record)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(seeds))))))
    return result


def build_pools(seeds: Seeds, annotations: dict[int, Seed | None], run_seed: int) -> FewShotPools:
    """The few-shot pools, from one more streaming pass over the seeds."""
    pools = FewShotPools(run_seed)
    grow_pools(pools, seeds, annotations)
    return pools


def grow_pools(
    pools: FewShotPools,
    seeds: Seeds,
    annotations: dict[int, Seed | None],
    first_index: int = 0,
) -> None:
    """Offer every usable seed to its domain's pool, in order (``annotations`` fills the seeds
    without metadata, keyed by run-wide index from ``first_index``). A later iteration's seeds,
    the samples the one before kept, join the pool this way and stay for every iteration after."""
    for i, seed in enumerate(seeds, start=first_index):
        filled = seed if seed.annotated else annotations.get(i)
        if filled is not None:
            pools.add(filled)


def initial_state(
    run_id: str,
    key: tuple[int, int],
    seed: Seed,
    pools: FewShotPools,
    run_seed: int,
    few_shot: int,
    iteration: int = 1,
) -> dict[str, Any]:
    """The state a seed-sample's thread starts from: the seed, its domain, and the few-shot
    pool the Generator sees (the seed's own pair plus ``few_shot - 1`` others of its domain,
    drawn by the run seed and the sample's identity), and the iteration it belongs to."""
    seed_index, sample_index = key
    assert seed.domain and seed.keywords and seed.summary
    own = pool_entry(seed)
    others = [p for p in pools.domain(seed.domain) if p != own]
    rng = sample_rng(run_seed, seed_index, sample_index, "pool")
    picks = rng.sample(others, min(len(others), few_shot - 1))
    return {
        "run_id": run_id,
        "iteration": iteration,
        "seed_index": seed_index,
        "sample_index": sample_index,
        "seed": seed.model_dump(),
        "domain": seed.domain,
        "pool": [p.model_dump() for p in [own, *picks]],
    }
