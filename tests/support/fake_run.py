"""A whole run on scripted members in its own process, for tests that SIGKILL it.

``python -m tests.support.fake_run OUT [--no-prune] [--iterations N]`` runs four seeds (one
without metadata, so annotation runs too), two samples each, concurrency 2, on
:func:`fakes.fake_members`; exits 0 when the run is complete. ``GRA_CRASH_AT`` (see
``gra_graph.crashpoints``) makes it kill itself. With ``--iterations N`` the generator and
enricher write a text that differs with the prompt (:data:`fakes.VARIED`), so accepted samples
survive the near-duplicate filter (those whose prompts were the same do not) and seed the next
iteration.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gra_graph.runner import Runner
from gra_graph.state import Seed
from tests.support.fakes import VARIED, coding_seeds, committee_config, fake_members

SEEDS = [
    *coding_seeds(3),
    Seed(instruction="What is the capital of France?", response="Paris."),
]


async def run(out: Path, prune: bool, iterations: int) -> bool:
    config = committee_config(checkpoints={"prune_finished": prune}, dedup={"embedder": "ngram"})
    members = fake_members(config, {"gen": VARIED} if iterations > 1 else None)
    runner = Runner(
        config,
        SEEDS,
        out,
        samples_per_seed=2,
        concurrency=2,
        members=members,
        iterations=iterations,
    )
    async with runner:
        async for _ in runner.records():
            pass
    return runner.summary.complete


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[args.index("--iterations") + 1]) if "--iterations" in args else 1
    complete = asyncio.run(run(Path(args[0]), "--no-prune" not in args, n))
    sys.exit(0 if complete else 3)
