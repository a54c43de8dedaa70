"""A finished run with every kind of outcome, made by the real Runner on scripted members.

For the viewer's tests: reviewers score by a digest of the prompt they see, so the same
prompts give the same outcomes in any process, and a dozen seed-samples cover acceptances,
rejections below the floor, a revision, conflicts sent to the adjudicator, abstentions (a
reviewer answering text that is not JSON) and failed instruction checks.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from gra_graph.config import GraphConfig
from gra_graph.runner import Runner
from gra_graph.seeds import SeedFile
from tests.support.fakes import CHECK_FAIL, CHECK_PASS, VARIED, fake_members, scores
from tests.support.helpers import ROOT, scripted_graph_text

# the score each reviewer writes, by the prompt's bucket (None: a reply that is not JSON)
SCORES = {
    "r1": [9, 3, 10, 6],
    "r2": [9, 3, 10, None],
    "r3": [9, 3, 6, 6],
}


def bucket(prompt: str, n: int = 4) -> int:
    return int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % n


def _scorer(member: str):
    def reply(title: str, prompt: str) -> str:
        value = SCORES[member][bucket(prompt)]
        return "this is not JSON" if value is None else scores(value, f"{member} wants more")

    return reply


def _checker(title: str, prompt: str) -> str:
    return CHECK_FAIL if bucket(prompt, 6) == 0 else CHECK_PASS


def write_inputs(tmp: Path, seeds: int = 6) -> tuple[Path, Path]:
    """A graph file (revise on, one round) and a seeds file of the first example seeds."""
    graph = tmp / "viewer.yaml"
    graph.write_text(
        scripted_graph_text("viewer", "revise: {max_rounds: 1, score_floor: 5.0}\n"),
        encoding="utf-8",
    )
    lines = (ROOT / "examples" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()
    seeds_file = tmp / "seeds.jsonl"
    seeds_file.write_text("\n".join(lines[:seeds]) + "\n", encoding="utf-8")
    return graph, seeds_file


async def make_run(out: Path, graph: Path, seeds_file: Path) -> Runner:
    """Run ``graph`` on ``seeds_file`` into ``out``, two samples per seed, scripted."""
    config = GraphConfig.from_file(graph)
    replies = {
        "gen": dict(VARIED),
        **{m: {"ScoreOutput": _scorer(m), "InstructionCheckOutput": _checker} for m in SCORES},
    }
    runner = Runner(
        config,
        SeedFile.scan(seeds_file),
        out,
        samples_per_seed=2,
        concurrency=2,
        members=fake_members(config, replies),
        command={"graph": str(graph), "seeds": str(seeds_file), "samples_per_seed": 2},
    )
    async with runner:
        async for _ in runner.records():
            pass
    return runner


def viewer_run(tmp: Path) -> Path:
    """A finished run in ``tmp / "run"``."""
    graph, seeds_file = write_inputs(tmp)
    out = tmp / "run"
    asyncio.run(make_run(out, graph, seeds_file))
    return out
