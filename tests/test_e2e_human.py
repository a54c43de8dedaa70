"""Human adjudication on the real bundled models (llama.cpp, SQLite): a run parks its
conflicts at LangGraph's interrupt, a person's answers are recorded, and the resume applies
each exactly once. Thresholds are opened wide (tau 0.5, delta 0, every instruction passes) so
that the tiny models' reviews reach a conflict; the mechanism, not their judgement, is tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph.human import record_answer, waiting
from tests.support.helpers import ROOT, shipped_prompts_yaml

pytestmark = pytest.mark.e2e


def gra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_conflicts_wait_for_a_person_and_answers_apply_once(tmp_path: Path):
    graph = tmp_path / "human.yaml"
    graph.write_text(
        f"extends: {ROOT / 'graphs' / 'gra.yaml'}\n"
        "name: gra-human-e2e\n"
        "adjudication: human\n"
        "thresholds: {tau: 0.5, delta: 0.0, min_valid_reviews: 1}\n"
        "judging: {check_rule: mean_probability, check_threshold: 0.01}\n"
        "budgets: {write_response: 64}\n" + shipped_prompts_yaml(),
        encoding="utf-8",
    )
    run = tmp_path / "run"
    seeds = str(ROOT / "examples" / "seeds.jsonl")
    first = gra(
        "run", str(graph), "--seeds", seeds, "--limit", "3", "--out", str(run), cwd=tmp_path
    )
    parked = waiting(run)
    assert parked, f"no conflict reached a person; exit {first.returncode}: {first.stderr}"
    assert first.returncode == 3 and "gra review" in first.stderr
    journal = run / "records.jsonl"  # absent while every seed-sample waits
    records = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
    assert not {r["seed_index"] for r in records} & {w.seed_index for w in parked}

    decisions = ["keep", "drop"]
    for i, sample in enumerate(parked):
        record_answer(run, sample.thread_id, decisions[i % 2], who="e2e")
    for _ in range(2):  # a second resume has nothing left to apply
        again = gra("resume", str(run), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    assert waiting(run) == []
    records = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    decided = [r for r in records if r.get("human")]
    assert len(decided) == len(parked)  # each answer applied once
    for i, sample in enumerate(parked):
        (record,) = [
            r
            for r in decided
            if (r["seed_index"], r["sample_index"]) == (sample.seed_index, sample.sample_index)
        ]
        assert record["human"]["decision"] == decisions[i % 2]
        assert record["human"]["who"] == "e2e"
        assert record["status"] == ("accepted" if decisions[i % 2] == "keep" else "rejected")
