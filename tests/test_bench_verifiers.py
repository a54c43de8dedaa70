"""``evals/bench_verifiers.py`` without a model: rates from verdicts, and the per-pair cache
that makes a killed bench resumable (the verifier itself is scripted here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals import bench_verifiers as bench
from gra_graph.bench.pairs import BenchPair, Pair
from gra_graph.context import GraContext
from gra_graph.state import Verification
from tests.support.fakes import fake_members


def pair(line: int, domain: str, defect: str | None) -> BenchPair:
    return BenchPair(
        line,
        Pair(
            instruction=f"task {line}",
            response=f"answer {line}",
            domain=domain,
            label="defective" if defect else "sound",
            defect=defect,
        ),
    )


def verdict(outcome: str) -> Verification:
    return Verification(verifier="math", outcome=outcome, reason=outcome)


def test_catch_and_false_alarm_rates():
    results = [
        (pair(1, "math", "wrong_answer"), verdict("failed"), 1.0),
        (pair(2, "coding", "wrong_answer"), verdict("inconclusive"), 1.0),  # not caught
        (pair(3, "math", None), verdict("passed"), 1.0),
        (pair(4, "math", None), verdict("failed"), 1.0),  # a false alarm
        (pair(5, "coding", None), verdict("inconclusive"), 1.0),
        (pair(6, "coding", None), verdict("passed"), 1.0),
    ]
    summary = bench.summarize(results)
    assert summary["wrong_answer_catch_rate"] == 0.5 and summary["wrong_answer_pairs"] == 2
    assert summary["false_alarm_rate"] == 0.25 and summary["sound_pairs"] == 4
    rows = {(r["domain"], r["kind"]): r for r in summary["rows"]}
    assert rows[("all", "sound")]["coverage"] == 0.75
    assert (rows[("math", "sound")]["failed"], rows[("math", "sound")]["passed"]) == (1, 1)
    assert rows[("coding", "wrong_answer")]["inconclusive"] == 1


async def test_a_rerun_verifies_only_the_pairs_not_in_the_cache(tmp_path: Path, monkeypatch):
    config = bench.bench_config("qwen2.5-coder-0.5b", 0.0, None)
    ctx = GraContext.create(config, fake_members(config))
    made: list[str] = []

    async def scripted(ctx, members, domain, instruction, response, call_key):
        made.append(instruction)
        return verdict("failed"), []

    monkeypatch.setattr(bench, "run_verifier", scripted)
    pairs = [pair(1, "math", "wrong_answer"), pair(2, "math", None)]
    cache = tmp_path / "bench.cache.jsonl"
    first = await bench.verify_pairs(ctx, pairs[:1], 2, cache)
    assert made == ["task 1"] and len(cache.read_text().splitlines()) == 1
    with cache.open("a") as handle:
        handle.write('{"key": "torn')  # a line cut by a kill is skipped
    second = await bench.verify_pairs(ctx, pairs, 2, cache)
    assert made == ["task 1", "task 2"]  # only the new pair was verified again
    assert [v.outcome for _, v, _ in second] == ["failed", "failed"]
    assert first[0][1] == second[0][1]
    other = bench.bench_config("qwen2.5-coder-0.5b", 0.7, None)  # other sampling: other key
    assert bench.cache_key(other, pairs[0]) != bench.cache_key(config, pairs[0])


@pytest.mark.parametrize("argv", [["--json", "x/out.json"], ["--markdown", "x/out.md"]])
def test_cache_sits_next_to_the_report(argv: list[str]):
    import argparse

    args = argparse.Namespace(cache=None, json_out=None, markdown=None)
    setattr(args, "json_out" if argv[0] == "--json" else "markdown", argv[1])
    assert bench.cache_path(args) == Path("x/out.cache.jsonl")
    args.cache = "elsewhere.jsonl"
    assert bench.cache_path(args) == Path("elsewhere.jsonl")
