"""SIGKILL at every named crash point, then resume: nothing lost, nothing doubled, same result.

Each run is a separate process on scripted members (``tests/support/fake_run.py``) that kills
itself at the point named by ``GRA_CRASH_AT``; the same run is then started again without it.
The real-model version of this is ``evals/crash_harness.py`` (and ``test_e2e_crash.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gra_graph.crashpoints import ENV_VAR, HUMAN_POINTS, POINTS
from tests.support.helpers import ROOT, checkpointed_calls

EXPECTED = {(i, j) for i in range(4) for j in range(2)}


def fake_run(out: Path, crash_at: str | None = None, *extra: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_at:
        env[ENV_VAR] = crash_at
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.fake_run", str(out), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    return proc.returncode


TIMING_FIELDS = {"seconds", "finished_at"}
"""What differs between two runs that made the same calls: durations and wall-clock stamps."""


def without_timing(obj):
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items() if k not in TIMING_FIELDS}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


def journal(path: Path) -> list[dict]:
    data = path.read_text(encoding="utf-8") if path.exists() else ""
    assert data == "" or data.endswith("\n"), f"torn line in {path.name}"
    return [json.loads(line) for line in data.splitlines()]


def outcome_rows(out: Path) -> list[dict]:
    """The records of a complete run: each seed-sample exactly once."""
    records = journal(out / "records.jsonl")
    keys = [(r["seed_index"], r["sample_index"]) for r in records]
    assert len(keys) == len(set(keys)), f"duplicate records {keys}"
    assert set(keys) == EXPECTED
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    return records


def outcome(out: Path) -> dict:
    records = outcome_rows(out)
    return {
        "records": sorted((without_timing(r) for r in records), key=lambda r: json.dumps(r)),
        "annotations": without_timing(journal(out / "annotations.jsonl")),
        "accepted": journal(out / "accepted.jsonl"),
        "dedup": journal(out / "dedup.jsonl"),
    }


def stored_threads(out: Path) -> set[str]:
    with sqlite3.connect(out / "checkpoints.sqlite") as conn:
        rows = conn.execute("SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes")
        return {row[0] for row in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert fake_run(out) == 0
    return outcome(out)


@pytest.mark.parametrize(
    "crash_at",
    [
        "before-checkpoint-commit:23",  # all of a step's writes saved, no new checkpoint
        "before-checkpoint-commit:56",
        "after-checkpoint-commit:40",
        "mid-records-append:5",
        "after-records-append:3",
        "mid-annotations-append:1",
        "mid-iterations-append:1",  # the (only) iteration's commit line torn
        "after-iterations-append:1",  # committed, accepted.jsonl not yet written
        "before-accepted-rename:1",
        "before-dedup-rename:1",
        "before-status-write:1",
    ],
)
def test_kill_at_crash_point_then_resume(tmp_path: Path, reference: dict, crash_at: str):
    out = tmp_path / "run"
    assert fake_run(out, crash_at) == -signal.SIGKILL, "the crash point was reached"
    status = json.loads((out / "run.json").read_text())["status"]
    assert status == "running"  # a killed run cannot say otherwise: `gra runs` shows crashed
    assert fake_run(out) == 0
    assert outcome(out) == reference
    assert stored_threads(out) == set(), "every finished thread's checkpoints were pruned"


def test_every_crash_point_is_covered():
    tested = {
        "before-checkpoint-commit",
        "after-checkpoint-commit",
        "mid-records-append",
        "after-records-append",
        "mid-annotations-append",
        "mid-iterations-append",  # also across iterations in test_iterations.py
        "after-iterations-append",
        "before-accepted-rename",
        "before-dedup-rename",
        "before-status-write",
    }
    # answer -> resume -> record: in test_human_durability.py (runs that wait for a person)
    assert tested | set(HUMAN_POINTS) == set(POINTS)


def test_torn_record_line_is_left_by_a_mid_append_kill(tmp_path: Path):
    out = tmp_path / "run"
    assert fake_run(out, "mid-records-append:2") == -signal.SIGKILL
    data = (out / "records.jsonl").read_bytes()
    assert not data.endswith(b"\n"), "the crash point leaves half a line, as a real kill can"


def test_kill_between_record_and_prune_leaves_rows_that_resume_deletes(tmp_path: Path):
    out = tmp_path / "run"
    assert fake_run(out, "after-records-append:1") == -signal.SIGKILL
    (first,) = journal(out / "records.jsonl")
    finished = f"{first['seed_index']}-{first['sample_index']}"
    assert finished in stored_threads(out)  # recorded, not yet pruned
    assert fake_run(out) == 0
    assert stored_threads(out) == set()


def test_a_resume_keeps_the_checkpointed_calls_and_their_wall_clock_stamps(tmp_path: Path):
    out = tmp_path / "run"
    assert fake_run(out, "after-checkpoint-commit:40") == -signal.SIGKILL
    recorded = {f"{r['seed_index']}-{r['sample_index']}" for r in journal(out / "records.jsonl")}
    unfinished = stored_threads(out) - recorded
    partial = asyncio.run(checkpointed_calls(out / "checkpoints.sqlite", unfinished))
    assert any(partial.values()), "some unfinished thread had checkpointed calls"
    resumed_at = time.time()
    assert fake_run(out) == 0
    final = {f"{r['seed_index']}-{r['sample_index']}": r["calls"] for r in outcome_rows(out)}
    for thread_id, calls in partial.items():
        # replayed, not redone: each call as it was made, stamp included (parallel reviewer
        # calls of one step may be listed in another order)
        assert all(call in final[thread_id] for call in calls)
        assert all(call["finished_at"] < resumed_at for call in calls)
        new = [c for c in final[thread_id] if c not in calls]
        assert all(c["finished_at"] > resumed_at for c in new)
    assert any(c["finished_at"] > resumed_at for thread_id in partial for c in final[thread_id]), (
        "the resume made the unfinished threads' remaining calls"
    )


def test_without_pruning_every_thread_keeps_its_checkpoints(tmp_path: Path, reference: dict):
    out = tmp_path / "run"
    assert fake_run(out, None, "--no-prune") == 0
    # the three seeds with metadata have threads; the annotated one too (it annotated fine)
    assert stored_threads(out) == {f"{i}-{j}" for i, j in EXPECTED}
    assert outcome(out) == reference
