"""Faults end to end on the real bundled GGUF models: a run with injected faults completes with
every seed-sample recorded and every failed attempt counted, and a timed-out llama.cpp call
leaves the model fit for the next one. Nothing is faked or skipped."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gra_graph.llm.bundled import BUNDLED, bundled_path
from gra_graph.llm.engine import CompletionRequest, LoadSettings
from gra_graph.llm.loader import load_engine
from tests.support.helpers import ROOT

pytestmark = pytest.mark.e2e


def test_a_run_with_injected_faults_completes_and_counts_them(tmp_path: Path):
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gra_graph.cli",
            "run",
            "graphs/gra_faults.yaml",
            "--seeds",
            "examples/seeds.jsonl",
            "--out",
            str(out),
            "--limit",
            "3",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    text = (out / "records.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]
    assert sorted((r["seed_index"], r["sample_index"]) for r in rows) == [(0, 0), (1, 0), (2, 0)]

    # every failed attempt is named in its call and counted per member and kind in the summary
    counted: dict[str, Counter[str]] = {}
    for row in rows:
        for call in row["calls"]:
            assert len(call["faults"]) == call["attempts"] - call["ok"]
            counted.setdefault(call["member"], Counter()).update(call["faults"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["faults"] == {m: dict(sorted(c.items())) for m, c in counted.items() if c}
    assert "failed call attempts" in result.stderr

    # smol-critic fails every attempt: it never serves a call, and wherever it was drawn it
    # abstained (reviewer) or its sample was rejected naming it (generator: its first stage,
    # the keywords, is structured, so it never reaches the free-text stages where a drawn
    # invalid_json or out_of_range would pass through)
    critic_calls = [c for r in rows for c in r["calls"] if c["member"] == "smol-critic"]
    assert critic_calls, "the seed draws smol-critic into some committee"
    assert all(not c["ok"] and c["attempts"] == 2 for c in critic_calls)
    assert sum(summary["faults"]["smol-critic"].values()) == 2 * len(critic_calls)
    for row in rows:
        roles = row["roles"]
        if roles["generator"] == "smol-critic":
            assert row["status"] == "rejected"
            assert row["reason"].startswith("generator smol-critic failed")
        for check in row["checks"]:
            if check["reviewer"] == "smol-critic":
                assert check["abstained"] and check["error"]


@pytest.mark.parametrize("engine", ["simple", "batched"])
def test_a_timed_out_llama_call_leaves_the_model_usable(engine: str):
    settings = LoadSettings(
        bundled_path("smollm2-135m"), BUNDLED["smollm2-135m"].chat_format, 1024, 2, 0, engine
    )
    model = load_engine(settings)

    def request(text: str, max_tokens: int) -> CompletionRequest:
        return CompletionRequest(
            messages=(("user", text),), max_tokens=max_tokens, temperature=0.0, seed=7
        )

    question = request("Name the capital of France in one word.", 12)

    async def scenario() -> tuple[str, str]:
        await model.complete(request("Count from one to five.", 12))
        reference = (await model.complete(question)).text
        # a long call, abandoned after 50 ms: the simple engine finishes it on its worker thread,
        # unseen; the batched one drops it from the batch
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await model.complete(request("Write a long story about the sea.", 64))
        again = (await model.complete(question)).text
        return reference, again

    try:
        reference, again = asyncio.run(scenario())
    finally:
        model.close()
    assert reference.strip()
    assert again == reference
