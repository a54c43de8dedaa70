"""``gra bench-review`` end to end on the real bundled models: two pairs, small budgets.

Loads SmolLM2-135M and Gemma-3-270M; nothing is faked. Checks that the command runs, writes
the JSON with the keys the issue asks for, and that running it again is answered wholly from
the cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, shipped_graph_text

pytestmark = pytest.mark.e2e

PAIRS = ROOT / "evals" / "data" / "review_pairs.jsonl"


def small_budget_graph(tmp_path: Path) -> Path:
    text = shipped_graph_text()
    for stage, budget in (("check_instruction", 64), ("score_response", 112), ("adjudicate", 112)):
        text = text.replace(f"  {stage}: ", f"  {stage}: {budget}  # was ", 1)
    path = tmp_path / "gra_small.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def bench(graph: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gra_graph.cli",
            "bench-review",
            str(graph),
            "--pairs",
            str(PAIRS),
            "--limit",
            "2",
            "--json",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_bench_review_runs_on_the_bundled_models_and_resumes_from_its_cache(tmp_path: Path):
    graph = small_budget_graph(tmp_path)
    assert "check_instruction: 64  # was 80" in graph.read_text()
    out = tmp_path / "bench.json"
    _, first = bench(graph, out)
    kinds = [s["kind"] for s in first["settings"]]
    assert kinds == ["single"] * 6 + ["committee", "committee+adjudicator"]
    for setting in first["settings"]:
        assert {"name", "kind", "auroc", "accuracy", "abstention", "by_defect", "by_domain"} <= set(
            setting
        )
        assert setting["pairs"] == 2 and 0.0 <= setting["accuracy"] <= 1.0
    assert first["pairs"] == 2 and first["calls"]["new"] >= 6 * 2 * 2
    assert (tmp_path / "bench.cache.sqlite").is_file()

    result, second = bench(graph, out)
    assert second["calls"]["new"] == 0
    assert second["calls"]["cached"] == first["calls"]["total"]
    assert second["settings"] == first["settings"]
    assert "0 new" in result.stderr
