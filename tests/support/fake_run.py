"""A whole run on scripted members in its own process, for tests that SIGKILL it.

``python -m tests.support.fake_run OUT [--no-prune]`` runs four seeds (one without metadata, so
annotation runs too), two samples each, concurrency 2, on :func:`fakes.fake_members`; exits 0
when the run is complete. ``GRA_CRASH_AT`` (see ``gra_graph.crashpoints``) makes it kill itself.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gra_graph.runner import Runner
from gra_graph.state import Seed
from tests.support.fakes import coding_seeds, committee_config, fake_members

SEEDS = [
    *coding_seeds(3),
    Seed(instruction="What is the capital of France?", response="Paris."),
]


async def run(out: Path, prune: bool) -> bool:
    config = committee_config(
        checkpoints={"prune_finished": prune}, dedup={"embedder": "ngram"}
    )
    runner = Runner(
        config, SEEDS, out, samples_per_seed=2, concurrency=2, members=fake_members(config)
    )
    async with runner:
        async for _ in runner.records():
            pass
    return runner.summary.complete


if __name__ == "__main__":
    complete = asyncio.run(run(Path(sys.argv[1]), "--no-prune" not in sys.argv))
    sys.exit(0 if complete else 3)
