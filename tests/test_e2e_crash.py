"""Crash consistency on the real bundled models: a few SIGKILLs, resumed with ``gra resume``.

Runs ``evals/crash_harness.py`` with a handful of kills (timed and at named crash points) on
two seed-samples; a longer soak is the same script with ``--kills 50``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import ROOT

pytestmark = pytest.mark.e2e


def test_kills_and_resumes_lose_and_double_nothing(tmp_path: Path):
    summary_file = tmp_path / "summary.json"
    # fmt: off
    harness = [
        sys.executable,
        "evals/crash_harness.py",
        "--kills", "3",
        "--seed", "6",  # draws: timed, before-checkpoint-commit, before-accepted-rename
        "--seed-lines", "0,5",  # one seed with metadata, one that is annotated first
        "--samples-per-seed", "1",
        "--targeted-share", "0.5",
        "--resume-with", "resume",
        "--work", str(tmp_path / "work"),
        "--json-out", str(summary_file),
    ]
    # fmt: on
    result = subprocess.run(harness, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["kills"] >= 3 and summary["resumes"] == summary["kills"]
    assert summary["records_checked"] == 2 * summary["rounds"]
    assert (summary["duplicates"], summary["lost"]) == (0, 0)
    assert summary["mismatches"] == 0  # every record equals the uninterrupted run's
    assert summary["issues"] == []
    # the kill at a checkpoint commit caught a thread mid-way: its saved calls were kept
    assert summary["checkpointed_calls_checked"] > 0
    kinds = summary["kills_by_kind"]
    assert kinds.get("timed") and sum(v for k, v in kinds.items() if k != "timed")


def test_kills_across_iterations_lose_and_double_nothing(tmp_path: Path):
    """Two iterations on the real models, kept samples made easy (``--lenient``: one reviewer,
    tau 0, an approving check prompt) so that iteration 2 has seeds; every call is real."""
    summary_file = tmp_path / "summary.json"
    # fmt: off
    harness = [
        sys.executable,
        "evals/crash_harness.py",
        "--kills", "2",
        "--seed", "13",  # draws: after-iterations-append, then a timed kill
        "--iterations", "2",
        "--lenient",
        "--seed-lines", "0,5",
        "--samples-per-seed", "1",
        "--targeted-share", "0.5",
        "--resume-with", "resume",
        "--work", str(tmp_path / "work"),
        "--json-out", str(summary_file),
    ]
    # fmt: on
    result = subprocess.run(harness, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["kills"] >= 2 and summary["resumes"] == summary["kills"]
    assert summary["records_per_iteration"].get("2"), "iteration 2 ran"
    assert (summary["duplicates"], summary["lost"], summary["mismatches"]) == (0, 0, 0)
    assert summary["issues"] == []
    assert summary["kills_by_kind"].get("targeted after-iterations-append")
