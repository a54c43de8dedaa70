"""A run that waits for a person, in its own process, for tests that SIGKILL it.

``python -m tests.support.human_run OUT run`` runs two seeds, two samples each, on scripted
members whose reviewers always conflict (r1, r2 score 10, r3 scores 6), with
``adjudication: human``: every seed-sample waits. ``... OUT answer`` records an answer for
every sample still unanswered (:data:`ANSWERS`: keep, drop or edit by key), then resumes the
run, which applies them. Exits 0 when the run is complete, 3 otherwise. ``GRA_CRASH_AT`` (see
``gra_graph.crashpoints``) makes it kill itself.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gra_graph.human import record_answer, waiting
from gra_graph.runner import Runner
from gra_graph.state import HumanChoice
from tests.support.cli_fake import CONFLICT
from tests.support.fakes import coding_seeds, committee_config, fake_members

KEYS = [(i, j) for i in range(2) for j in range(2)]
ANSWERS: dict[tuple[int, int], tuple[HumanChoice, str | None]] = {
    (0, 0): ("keep", None),
    (0, 1): ("drop", None),
    (1, 0): ("edit", "An edited answer for 1-0."),
    (1, 1): ("edit", "An edited answer for 1-1."),
}


def config():
    return committee_config(adjudication="human", dedup={"embedder": "ngram"})


async def run(out: Path) -> bool:
    cfg = config()
    runner = Runner(
        cfg,
        coding_seeds(2),
        out,
        samples_per_seed=2,
        concurrency=2,
        members=fake_members(cfg, CONFLICT),
    )
    async with runner:
        async for _ in runner.records():
            pass
    return runner.summary.complete


def answer(out: Path) -> None:
    for item in waiting(out):
        if not item.answered:
            decision, edited = ANSWERS[(item.seed_index, item.sample_index)]
            record_answer(out, item.thread_id, decision, edited)


if __name__ == "__main__":
    out, step = Path(sys.argv[1]), sys.argv[2]
    if step == "answer":
        answer(out)
    sys.exit(0 if asyncio.run(run(out)) else 3)
