"""End to end on the real bundled GGUF models (llama.cpp, SQLite), with small inputs.

These load SmolLM2-135M and Gemma-3-270M from their packages; nothing is faked or skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, checkpointed_calls, shipped_graph_text

SEEDS = ROOT / "examples" / "seeds.jsonl"

pytestmark = pytest.mark.e2e


def gra(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def records(out: Path) -> list[dict]:
    text = (out / "records.jsonl").read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "torn last line"
    return [json.loads(line) for line in text.splitlines()]


def assert_exactly_once(out: Path, expected: set[tuple[int, int]]) -> list[dict]:
    rows = records(out)
    keys = [(r["seed_index"], r["sample_index"]) for r in rows]
    assert len(keys) == len(set(keys)), f"duplicated records: {keys}"
    assert set(keys) == expected
    return rows


# a thread's checkpoints: its input, then one per finished node; draw_roles makes no call, and
# by the end of write_instruction every thread has made at least one
CALLS_MADE = 4


def checkpoint_counts(db: Path) -> dict[str, int]:
    """Checkpoints per thread, read without writing to a database another process is using."""
    if not db.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            rows = conn.execute("SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id")
            return {str(thread): int(n) for thread, n in rows}
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return {}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """Two seeds through graphs/gra.yaml on the real models, once for the tests that read it."""
    out = tmp_path_factory.mktemp("full") / "run"
    result = gra(
        "run",
        "graphs/gra.yaml",
        "--seeds",
        str(SEEDS),
        "--out",
        str(out),
        "--limit",
        "2",
        "--quiet",
    )
    return out, result


def test_full_run_writes_records_and_accepted(full_run):
    out, result = full_run
    assert result.returncode == 0, result.stderr
    rows = assert_exactly_once(out, {(0, 0), (1, 0)})
    assert (out / "accepted.jsonl").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    for row in rows:
        assert row["status"] in {"accepted", "rejected"} and row["reason"]
        assert row["calls"], "every record carries its model calls"
        generator = row["roles"]["generator"]
        assert row["models"][generator].startswith("bundled:")
        assert sum(c["completion_tokens"] for c in row["calls"]) > 0
        assert all(c["seconds"] > 0 for c in row["calls"])
        assert len(row["checks"]) == 3  # the committee checked the instruction
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed_samples"] == 2 and summary["completion_tokens"] > 0
    assert "gra run summary" in result.stderr


def test_gra_eval_on_the_real_run(full_run, tmp_path: Path):
    out, result = full_run
    assert result.returncode == 0, result.stderr
    report = tmp_path / "eval.json"
    evaluated = gra("eval", str(out), "--json", str(report))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "Krippendorff" in evaluated.stdout and "cost of all calls" in evaluated.stdout
    (run,) = json.loads(report.read_text())["runs"]
    rows = records(out)
    summary = json.loads((out / "summary.json").read_text())
    o = run["outcome"]
    assert o["seed_samples"] == 2 and o["accepted"] == summary["accepted"]
    assert o["checked"] == 2  # every record carries the committee's instruction checks
    cost = run["cost"]
    calls = [c for r in rows for c in r["calls"]]  # the two seeds carry metadata: no annotation
    assert cost["total"]["calls"] == len(calls)
    assert cost["total"]["completion_tokens"] == summary["completion_tokens"]
    assert cost["total"]["prompt_tokens"] == sum(c["prompt_tokens"] for c in calls)
    assert cost["by_role"]["generator"]["calls"] >= 2 * 3  # keywords, instruction, response
    assert cost["by_role"]["reviewer"]["calls"] >= 2 * 3  # three instruction checks each
    assert set(cost["by_member"]) == {c["member"] for r in rows for c in r["calls"]}
    # the real MiniLM embedded the two generated samples at the graph file's threshold
    semantic = run["generated"]["semantic"]
    assert run["generated"]["samples"] == 2 and semantic["unavailable"] == ""
    assert semantic["threshold"] == 0.9
    assert 0.0 < semantic["mean_pairwise_cosine_distance"] <= 2.0
    check_alpha = run["check_agreement"]["rationality"]
    assert check_alpha["units"] == 2 and check_alpha["ratings"] <= 6


def test_sigkill_mid_run_then_resume_completes_exactly_once(tmp_path: Path):
    out = tmp_path / "run"
    run_args = ["run", "graphs/gra.yaml", "--seeds", str(SEEDS), "--out", str(out)]
    run_args += ["--limit", "4", "--concurrency", "2", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gra_graph.cli", *run_args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = out / "checkpoints.sqlite"
    deadline = time.monotonic() + 300
    try:
        # kill once a record is written and some unfinished thread has checkpointed model
        # calls, so the resume has both finished and half-done threads to handle
        while time.monotonic() < deadline:
            done = records(out) if (out / "records.jsonl").exists() else []
            finished = {f"{r['seed_index']}-{r['sample_index']}" for r in done}
            counts = checkpoint_counts(db)
            started = [t for t, n in counts.items() if t not in finished and n >= CALLS_MADE]
            if done and started:
                break
            if proc.poll() is not None:
                pytest.fail("the run finished before it could be killed")
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = records(out)
    assert 1 <= len(before) < 4, "the kill should land mid-run"
    done_before = {(r["seed_index"], r["sample_index"]) for r in before}
    partial = asyncio.run(
        checkpointed_calls(db, [f"{i}-0" for i in range(4) if (i, 0) not in done_before])
    )

    result = gra(*run_args)  # the same command again
    assert result.returncode == 0, result.stderr
    after = assert_exactly_once(out, {(i, 0) for i in range(4)})
    # records written before the kill are kept as they were, not recomputed
    assert after[: len(before)] == before
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_records"] == len(before)
    # unfinished threads continued from their checkpoint: every call they had made before the
    # kill is in their final record unchanged (same tokens, same timings), not redone; parallel
    # reviewer calls of one step may be listed in another order
    assert any(partial.values()), "some unfinished thread had checkpointed calls"
    by_thread = {f"{r['seed_index']}-{r['sample_index']}": r for r in after}
    for thread_id, calls in partial.items():
        final_calls = by_thread[thread_id]["calls"]
        assert all(call in final_calls for call in calls)
        assert len(final_calls) >= len(calls)


def test_unusable_reviewer_output_is_an_abstention(tmp_path: Path):
    # A 6-token budget cannot hold the instruction-check JSON: every reviewer's reply is cut
    # off, retried, and then recorded as an abstention - never as a pass, a fail or a 0.
    graph = tmp_path / "tight.yaml"
    text = re.sub(r"check_instruction: \d+", "check_instruction: 6", shipped_graph_text())
    graph.write_text(text)
    out = tmp_path / "run"
    # two seeds: a tiny generator's draft can be rejected before review (drafts.py), and
    # this test needs one sample that reaches the reviewers
    result = gra(
        "run", str(graph), "--seeds", str(SEEDS), "--out", str(out), "--limit", "2", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    reviewed = [row for row in records(out) if row["checks"]]
    assert reviewed, "no sample reached the instruction check"
    row = reviewed[0]
    assert len(row["checks"]) == 3
    for check in row["checks"]:
        assert check["abstained"] is True
        assert check["criteria"] == {}
        assert check["error"]
    check_calls = [c for c in row["calls"] if c["stage"] == "check_instruction"]
    assert all(c["attempts"] == 2 and not c["ok"] for c in check_calls)
    assert row["status"] == "rejected"
    assert row["reason"].startswith("instruction check undecidable: 0 usable of 3 (3 abstained)")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["abstentions"] == 3 * len(reviewed)


def test_readme_python_snippet_runs(tmp_path: Path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", readme, re.S)
    assert snippet, "README has a python snippet"
    code = snippet.group(1).replace('"runs/api-demo"', repr(str(tmp_path / "api")))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    printed = [
        line for line in result.stdout.splitlines() if line.startswith(("accepted", "rejected"))
    ]
    assert len(printed) == 2
    assert len(records(tmp_path / "api")) == 2
