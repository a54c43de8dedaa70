"""SIGKILL between a person's answer and its record, then resume: nothing lost, nothing doubled.

Each step is a separate process on scripted members (``tests/support/human_run.py``): a run
whose every seed-sample waits for a person, then a process that records the answers and
resumes, killing itself at the point named by ``GRA_CRASH_AT``; the same answering step then
runs again without it (answering only what is still unanswered, as a person would).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph.crashpoints import ENV_VAR, HUMAN_POINTS
from tests.support.helpers import ROOT
from tests.support.human_run import ANSWERS, KEYS
from tests.test_durability import without_timing


def human_run(out: Path, step: str, crash_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_at:
        env[ENV_VAR] = crash_at
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.human_run", str(out), step],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 3, -signal.SIGKILL), proc.stderr
    return proc.returncode


def lines(path: Path) -> list[dict]:
    data = path.read_text(encoding="utf-8") if path.exists() else ""
    assert data == "" or data.endswith("\n"), f"torn line left in {path.name}"
    return [json.loads(line) for line in data.splitlines()]


def outcome(out: Path) -> list[dict]:
    """The records, checked: one per seed-sample, each with the person's answer applied."""
    records = lines(out / "records.jsonl")
    keys = [(r["seed_index"], r["sample_index"]) for r in records]
    assert sorted(keys) == KEYS, f"lost or doubled records: {keys}"
    for r in records:
        decision, edited = ANSWERS[(r["seed_index"], r["sample_index"])]
        assert r["human"]["decision"] == decision and r["human"]["who"] == "human"
        assert r["status"] == ("rejected" if decision == "drop" else "accepted")
        assert r["response"] == (edited or r["human"]["original_response"])
    answered = [(a["seed_index"], a["sample_index"]) for a in lines(out / "answers.jsonl")]
    assert sorted(answered) == KEYS, f"an answer lost or recorded twice: {answered}"
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    return sorted(
        (without_timing(r) for r in records), key=lambda r: (r["seed_index"], r["sample_index"])
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert human_run(out, "run") == 3  # every seed-sample waits
    assert human_run(out, "answer") == 0
    return outcome(out)


@pytest.mark.parametrize(
    "crash_at",
    [
        "mid-answers-append:2",  # the second answer half-written: never acknowledged
        "after-answer-append:4",  # every answer durable, no thread resumed yet
        "before-checkpoint-commit:3",  # a resumed step's writes saved, no checkpoint yet
        "after-human-resume:1",  # the answer consumed and checkpointed, no record yet
        "mid-records-append:2",
        "after-records-append:2",
    ],
)
def test_kill_between_answer_and_record_then_resume(
    tmp_path: Path, reference: list[dict], crash_at: str
):
    out = tmp_path / "run"
    assert human_run(out, "run") == 3
    assert human_run(out, "answer", crash_at) == -signal.SIGKILL, "the crash point was reached"
    assert human_run(out, "answer") == 0
    assert outcome(out) == reference


def test_the_human_crash_points_are_covered():
    assert set(HUMAN_POINTS) == {"mid-answers-append", "after-answer-append", "after-human-resume"}


def test_a_torn_answer_is_cut_off_by_the_next_answer(tmp_path: Path):
    out = tmp_path / "run"
    assert human_run(out, "run") == 3
    assert human_run(out, "answer", "mid-answers-append:1") == -signal.SIGKILL
    assert not (out / "answers.jsonl").read_bytes().endswith(b"\n")  # half a line on disk
    assert human_run(out, "answer") == 0
    assert [a["thread_id"] for a in lines(out / "answers.jsonl")] == ["0-0", "0-1", "1-0", "1-1"]
