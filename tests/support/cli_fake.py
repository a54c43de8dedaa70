"""The real ``gra`` command line, with scripted members in place of the GGUF models.

``python -m tests.support.cli_fake run GRAPH --seeds S --out D ...`` is ``gra run ...``: the
same argument parsing, signal handling, error handling, printing and Runner, except that the
members are :func:`tests.support.fakes.fake_members` (every review passes) instead of loaded
models. Tests and ``evals/redteam.py`` use it where what is probed is the command, not the
models, and a real model would only make the probe slow.

``GRA_FAKE_DELAY`` (seconds, default 0) makes every scripted call take that long, so a signal
or a file change can land in the middle of a run. ``GRA_FAKE_CONFLICT=1`` makes the reviewers
``r1`` and ``r2`` score 10 and ``r3`` score 6 (mu 8.67, sigma 1.89): every sample that reaches
scoring is a conflict (:data:`CONFLICT`; other graphs: :func:`conflict_replies`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gra_graph import cli, runner
from gra_graph.config import GraphConfig
from gra_graph.llm import members as llm_members
from tests.support.fakes import DEFAULTS, Reply, default_text, fake_members, scores

DELAY_ENV = "GRA_FAKE_DELAY"
CONFLICT_ENV = "GRA_FAKE_CONFLICT"
CONFLICT: dict[str, dict[str, Reply]] = {
    "r1": {"ScoreOutput": scores(10)},
    "r2": {"ScoreOutput": scores(10)},
    "r3": {"ScoreOutput": scores(6)},
}


def _slow(reply: str | None, delay: float) -> Callable[[str, str], str]:
    def answer(title: str, prompt: str) -> str:
        time.sleep(delay)
        return default_text(prompt) if reply is None else reply

    return answer


def conflict_replies(config: GraphConfig) -> dict[str, dict[str, Reply]]:
    """:data:`CONFLICT` for a graph with members r1-r3; for any other graph, every third
    member in file order scores 6 and the rest 10, so committees that mix them conflict."""
    names = [m.name for m in config.members]
    if set(CONFLICT) <= set(names):
        return CONFLICT
    return {n: {"ScoreOutput": scores(6 if i % 3 == 2 else 10)} for i, n in enumerate(names)}


def scripted_members(config: GraphConfig) -> Any:
    """Every member scripted; each call sleeps ``GRA_FAKE_DELAY`` seconds first."""
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    if os.environ.get(CONFLICT_ENV) == "1":
        return fake_members(config, conflict_replies(config))
    if delay <= 0:
        return fake_members(config)
    script: dict[str, Reply] = {title: _slow(str(text), delay) for title, text in DEFAULTS.items()}
    script["text"] = _slow(None, delay)
    return fake_members(config, {m.name: script for m in config.members})


def model_paths(config: GraphConfig) -> dict[str, Path]:
    """What ``check_member_models`` returns, without looking for model files."""
    return {m.name: Path(f"scripted-{m.name}.gguf") for m in config.members}


def main(argv: list[str]) -> int:
    runner.load_members = scripted_members  # type: ignore[assignment]
    runner.check_member_models = model_paths  # type: ignore[assignment]
    llm_members.check_member_models = model_paths  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
