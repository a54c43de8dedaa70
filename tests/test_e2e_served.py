"""A mixed committee end to end: in-process GGUF members and a member served by a real
llama-cpp-python server (``python -m llama_cpp.server``) that the test starts on loopback.

Nothing is faked: the server runs the bundled SmolLM2 file, the served member is reached
through the real ``langchain_openai.ChatOpenAI``, and ``gra run`` runs as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, shipped_prompts_yaml
from tests.support.llama_server import llama_server

pytestmark = pytest.mark.e2e

SEEDS = ROOT / "examples" / "seeds.jsonl"
# small budgets keep each sample to seconds; the JSON stages still fit
BUDGETS = (
    "budgets: {annotate: 64, compose_keywords: 40, write_instruction: 48, write_response: 64, "
    "check_instruction: 80, score_response: 144, adjudicate: 128, enrich: 80}\n"
)


def mixed_graph(path: Path, base_url: str) -> Path:
    """Generator, one reviewer and the adjudicator in-process; the other reviewer served, so
    every committee (of two) mixes the two kinds."""
    local = "".join(
        f"  - {{name: {name}, model: smollm2-135m, n_ctx: 2048, roles: [{roles}]}}\n"
        for name, roles in (
            ("gen", "generator, enricher"),
            ("r1", "reviewer"),
            ("adj", "adjudicator"),
        )
    )
    served = (
        f"  - {{name: srv, provider: openai-compatible, base_url: {json.dumps(base_url)}, "
        "model: smollm2-135m, response_format: json_object, timeout: 60, roles: [reviewer], "
        "persona: You are a demanding critic.}\n"
    )
    path.write_text(
        "name: mixed\ncommittee_size: 2\ndedup: {embedder: ngram}\n"
        "generation: {structured_retries: 1, call_timeout_s: 120}\n"
        "engine: {max_sequences: 4, prefix_cache: 4}\n"
        f"{BUDGETS}members:\n{local}{served}{shipped_prompts_yaml()}",
        encoding="utf-8",
    )
    return path


def run_args(graph: Path, out: Path, limit: int) -> list[str]:
    return [
        *(sys.executable, "-m", "gra_graph.cli", "run", str(graph)),
        *("--seeds", str(SEEDS), "--out", str(out), "--limit", str(limit), "--quiet"),
    ]


def records(out: Path) -> list[dict]:
    path = out / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def calls_by_member(row: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for call in row["calls"]:
        found.setdefault(call["member"], []).append(call)
    return found


def test_a_mixed_committee_survives_its_server_being_killed_mid_run(tmp_path: Path):
    """One run of two seeds: the first is reviewed by a committee of an in-process and a served
    member; the server is then killed, so the second seed's served calls fail, are retried and
    recorded, and the reviewer abstains; the run completes, and running it again redoes and
    loses nothing."""
    out = tmp_path / "run"
    with llama_server("smollm2-135m", tmp_path / "server.log") as server:
        graph = mixed_graph(tmp_path / "mixed.yaml", server.base_url)
        args = [*run_args(graph, out, 2), "--concurrency", "1"]
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 240
        while not records(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the run finished before the server could be killed"
        server.kill()  # mid-run: the first seed is recorded, the second is under way
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    first, second = records(out)
    assert [(r["seed_index"], r["sample_index"]) for r in (first, second)] == [(0, 0), (1, 0)]

    # before the kill: calls from both kinds of member, with tokens and seconds
    assert first["models"]["srv"] == f"openai-compatible:smollm2-135m@{server.base_url}"
    assert first["models"]["gen"].startswith("bundled:smollm2-135m/")
    by_member = calls_by_member(first)
    for member in ("gen", "r1", "srv"):
        calls = by_member[member]
        assert all(c["model_file"] == first["models"][member] for c in calls)
        ok = [c for c in calls if c["ok"]]
        assert ok, f"{member} answered at least one call"
        assert all(c["prompt_tokens"] > 0 and c["completion_tokens"] > 0 for c in ok)
        assert all(c["seconds"] > 0 for c in calls)
    assert {c["reviewer"] for c in first["checks"]} == {"r1", "srv"}  # one mixed committee

    # after the kill: each served call failed on the connection, was retried, then given up,
    # and the served reviewer abstained, saying why
    lost = calls_by_member(second)["srv"]
    assert lost and all(not c["ok"] and c["attempts"] == 2 for c in lost)
    assert all(c["faults"] == ["connection", "connection"] for c in lost)
    abstentions = [e for e in [*second["checks"], *second["reviews"]] if e["reviewer"] == "srv"]
    assert abstentions and all(e["abstained"] and e["error"] for e in abstentions)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["faults"]["srv"]["connection"] == 2 * len(lost)

    # the same command again: nothing is redone, lost or doubled
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert records(out) == [first, second]
    assert json.loads((out / "summary.json").read_text())["resumed_records"] == 2
