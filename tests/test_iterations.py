"""The paper's iterations (``--iterations N``) on scripted members: kept samples join the pools
and seed the next iteration; records say their iteration; resume and kills are exactly-once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph.config import GraphConfig
from gra_graph.crashpoints import ENV_VAR
from gra_graph.rundirs import RunDir, run_info
from gra_graph.runner import RunDirectoryError, Runner
from gra_graph.state import SCORE_DIMENSIONS, Record, Seed
from tests.support.fakes import (
    CHECK_FAIL,
    VARIED,
    coding_seeds,
    committee_config,
    fake_members,
)
from tests.support.helpers import ROOT, scripted_graph_text

SEEDS = coding_seeds(3)


def config() -> GraphConfig:
    return committee_config(dedup={"embedder": "ngram"})


async def collect(runner: Runner) -> list[Record]:
    async with runner:
        return [r async for r in runner.records()]


def lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), f"torn line in {path.name}"
    return [json.loads(x) for x in text.splitlines()]


TIMING_FIELDS = {"seconds", "finished_at"}
"""What differs between two runs that made the same calls: durations and wall-clock stamps."""


def without_timing(obj):
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items() if k not in TIMING_FIELDS}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


def outcome(out: Path) -> dict:
    """What a finished run directory holds, timings removed; asserts exactly-once records."""
    records = lines(out / "records.jsonl")
    keys = [(r["seed_index"], r["sample_index"]) for r in records]
    assert len(keys) == len(set(keys)), "a seed-sample has two records"
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    return {
        "records": sorted((without_timing(r) for r in records), key=lambda r: json.dumps(r)),
        "annotations": without_timing(lines(out / "annotations.jsonl")),
        "iterations": lines(out / "iterations.jsonl"),
        "accepted": lines(out / "accepted.jsonl"),
        "dedup": lines(out / "dedup.jsonl"),
    }


async def test_iteration_two_grows_from_the_samples_iteration_one_kept(tmp_path: Path):
    cfg = config()
    members = fake_members(cfg, {"gen": VARIED})
    out = tmp_path / "run"
    runner = Runner(
        cfg, SEEDS, out, samples_per_seed=2, concurrency=2, members=members, iterations=2
    )
    records = await collect(runner)

    first = [r for r in records if r.iteration == 1]
    second = [r for r in records if r.iteration == 2]
    assert len(first) == 6 and {r.seed_index for r in first} == {0, 1, 2}
    ledger = lines(out / "iterations.jsonl")
    assert [line["iteration"] for line in ledger] == [1, 2]
    kept_first = {tuple(k) for k in ledger[0]["kept"]}
    assert kept_first and all(r.status == "accepted" for r in first if r.key in kept_first)
    # iteration 2's seeds are iteration 1's kept samples, numbered run-wide after the seeds file
    assert ledger[1]["seed_base"] == 3 and ledger[1]["seeds"] == len(kept_first)
    assert len(second) == 2 * len(kept_first)
    assert {r.seed_index for r in second} == set(range(3, 3 + len(kept_first)))
    kept_rows = sorted((r for r in first if r.key in kept_first), key=lambda r: r.key)
    by_position = dict(zip(range(3, 3 + len(kept_first)), kept_rows, strict=True))
    for record in second:
        parent = by_position[record.seed_index]
        assert record.seed is not None
        assert record.seed.instruction == parent.instruction
        # the keywords and summary enrichment wrote, not the composed ones
        assert record.seed.keywords == parent.keywords and record.seed.summary == parent.summary
        assert parent.summary and parent.summary.startswith("How ")
    # the Generator of iteration 2 saw the kept instructions and summaries in its pool
    prompts = members["gen"].chat_model.prompts
    instruction_prompts = [p for title, p in prompts if title == "InstructionDraft"]
    keyword_prompts = [p for title, p in prompts if title == "KeywordTriple"]
    for parent in kept_rows:
        assert any(parent.instruction in p and parent.summary in p for p in instruction_prompts)
        assert any(", ".join(parent.keywords or []) in p for p in keyword_prompts)
    # every iteration's kept rows are in accepted.jsonl; the dedup rows say their iteration
    kept_total = sum(len(line["kept"]) for line in ledger)
    assert len(lines(out / "accepted.jsonl")) == kept_total == runner.summary.kept_after_dedup
    assert {d["iteration"] for d in lines(out / "dedup.jsonl")} == {1, 2}
    assert [(i.iteration, i.seed_samples) for i in runner.summary.iterations] == [
        (1, 6),
        (2, 2 * len(kept_first)),
    ]
    assert runner.summary.seed_samples == 6 + 2 * len(kept_first)
    assert runner.summary.complete and runner.summary.stopped_early is None
    # every checkpoint thread id is unique across iterations (one per record)
    assert len({r.key for r in records}) == len(records)
    assert json.loads((out / "run.json").read_text())["iterations"] == 2


async def test_a_later_sample_near_duplicating_an_earlier_kept_one_is_dropped(tmp_path: Path):
    cfg = config()
    out = tmp_path / "run"
    # the default scripted generator writes the same text every time
    runner = Runner(cfg, SEEDS, out, members=fake_members(cfg), iterations=3)
    records = await collect(runner)
    ledger = lines(out / "iterations.jsonl")
    assert [len(line["kept"]) for line in ledger] == [1, 0]  # iteration 2 kept nothing
    kept = tuple(ledger[0]["kept"][0])
    late = [d for d in ledger[1]["dedup"] if d["iteration"] == 2]
    assert late and all(not d["kept"] and tuple(d["nearest"]) == kept for d in late)
    assert len(lines(out / "accepted.jsonl")) == 1
    assert {r.iteration for r in records} == {1, 2}
    assert runner.summary.stopped_early and "iteration 2 kept no sample" in (
        runner.summary.stopped_early
    )
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


async def test_an_iteration_that_keeps_nothing_ends_the_run_cleanly(tmp_path: Path):
    cfg = config()
    fail = {"InstructionCheckOutput": CHECK_FAIL}
    members = fake_members(cfg, {"r1": fail, "r2": fail, "r3": fail})
    out = tmp_path / "run"
    runner = Runner(cfg, SEEDS, out, members=members, iterations=5)
    records = await collect(runner)
    assert len(records) == 3 and {r.iteration for r in records} == {1}
    assert all(r.status == "rejected" for r in records)
    assert runner.summary.complete and runner.summary.status == "complete"
    assert runner.summary.stopped_early == (
        "iteration 1 kept no sample, so iteration 2 has no seeds: the run ends after 1 of 5 "
        "iterations"
    )
    assert runner.warnings == [runner.summary.stopped_early]
    assert [line["kept"] for line in lines(out / "iterations.jsonl")] == [[]]
    assert lines(out / "accepted.jsonl") == []
    info = run_info(out)
    assert (info.status, info.iteration, info.iterations, info.total) == ("complete", 1, 5, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"] == runner.summary.stopped_early
    # a second start of the finished run does nothing new
    again = Runner(cfg, SEEDS, out, members=members, iterations=5)
    assert len(await collect(again)) == 3 and again.summary.resumed_records == 3


async def test_a_stop_mid_iteration_two_resumes_exactly_once(tmp_path: Path):
    cfg = config()

    def runner(out: Path) -> Runner:
        members = fake_members(cfg, {"gen": VARIED})
        return Runner(
            cfg, SEEDS, out, samples_per_seed=2, concurrency=2, members=members, iterations=3
        )

    await collect(runner(tmp_path / "reference"))
    reference = outcome(tmp_path / "reference")

    out = tmp_path / "run"
    first = runner(out)
    async with first:
        got = []
        async for record in first.records():
            got.append(record)
            if len(got) == 6 + 2:
                break  # the caller walks away two records into iteration 2
    assert got[-1].iteration == 2
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert [line["iteration"] for line in lines(out / "iterations.jsonl")] == [1]
    assert run_info(out).iteration == 2

    again = runner(out)
    resumed = await collect(again)
    assert again.summary.resumed_records >= 8
    assert outcome(out) == reference
    assert len(resumed) == len(reference["records"])  # each record yielded once
    assert [i.iteration for i in again.summary.iterations] == [1, 2, 3]


async def test_one_iteration_is_the_first_iteration_of_several(tmp_path: Path):
    cfg = config()
    members = fake_members(cfg, {"gen": VARIED})
    one = await collect(Runner(cfg, SEEDS, tmp_path / "one", samples_per_seed=2, members=members))
    two = await collect(
        Runner(
            cfg,
            SEEDS,
            tmp_path / "two",
            samples_per_seed=2,
            members=fake_members(cfg, {"gen": VARIED}),
            iterations=2,
        )
    )

    def dump(records: list[Record]) -> list[dict]:
        return sorted((without_timing(r.model_dump()) for r in records), key=json.dumps)

    assert dump(one) == dump([r for r in two if r.iteration == 1])
    assert all(r.iteration == 1 for r in one)
    run = json.loads((tmp_path / "one" / "run.json").read_text())
    assert run["iterations"] == 1


# roles drawn for each (seed, sample) before iterations existed (the same config and run seed):
# iteration 1 keeps the identities that fix every random draw, so a one-iteration run is the run
# it always was
ROLES_BEFORE_ITERATIONS = {
    (0, 0): ("m3", ("m4", "m1", "m0"), "m2", "m1"),
    (0, 1): ("m1", ("m4", "m0", "m2"), "m3", "m4"),
    (1, 0): ("m1", ("m3", "m0", "m2"), "m4", "m4"),
    (1, 1): ("m2", ("m0", "m3", "m1"), "m4", "m0"),
    (2, 0): ("m2", ("m3", "m1", "m4"), "m0", "m2"),
    (2, 1): ("m3", ("m2", "m0", "m4"), "m1", "m4"),
}


async def test_one_iteration_draws_the_roles_it_drew_before_iterations(tmp_path: Path):
    everything = ["generator", "reviewer", "adjudicator", "enricher"]
    cfg = GraphConfig.model_validate(
        {
            "members": [{"name": f"m{i}", "model": "fake", "roles": everything} for i in range(5)],
            "base_dir": ROOT / "graphs",
            "dedup": {"embedder": "ngram"},
        }
    )
    records = await collect(
        Runner(
            cfg,
            SEEDS,
            tmp_path / "run",
            samples_per_seed=2,
            concurrency=2,
            members=fake_members(cfg),
        )
    )
    drawn = {
        r.key: (r.roles.generator, tuple(r.roles.reviewers), r.roles.adjudicator, r.roles.enricher)
        for r in records
        if r.roles
    }
    assert drawn == ROLES_BEFORE_ITERATIONS


async def test_a_different_number_of_iterations_is_refused(tmp_path: Path):
    cfg = config()
    out = tmp_path / "run"
    await collect(Runner(cfg, SEEDS, out, members=fake_members(cfg), iterations=2))
    with pytest.raises(RunDirectoryError, match="differs in iterations"):
        await collect(Runner(cfg, SEEDS, out, members=fake_members(cfg), iterations=3))


async def test_a_run_made_before_iterations_resumes_as_one_iteration(tmp_path: Path):
    cfg = config()
    out = tmp_path / "run"
    await collect(Runner(cfg, SEEDS, out, members=fake_members(cfg)))
    manifest = json.loads((out / "run.json").read_text())
    del manifest["iterations"]  # what an earlier version wrote
    (out / "run.json").write_text(json.dumps(manifest))
    (out / "iterations.jsonl").unlink()
    records = lines(out / "records.jsonl")
    (out / "records.jsonl").write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if k != "iteration"}) + "\n" for r in records
        )
    )
    again = Runner(cfg, SEEDS, out, members=fake_members(cfg))
    assert len(await collect(again)) == 3 and again.summary.resumed_records == 3
    assert [line["iteration"] for line in lines(out / "iterations.jsonl")] == [1]


async def test_an_iterations_line_out_of_sequence_is_set_aside_and_redone(tmp_path: Path):
    cfg = config()

    def runner(out: Path) -> Runner:
        return Runner(
            cfg,
            SEEDS,
            out,
            samples_per_seed=2,
            members=fake_members(cfg, {"gen": VARIED}),
            iterations=2,
        )

    await collect(runner(tmp_path / "reference"))
    out = tmp_path / "run"
    await collect(runner(out))
    ledger = (out / "iterations.jsonl").read_text().splitlines(keepends=True)
    (out / "iterations.jsonl").write_text("not json\n" + ledger[1])  # line 1 damaged
    again = runner(out)
    await collect(again)
    assert any("out of sequence" in w for w in again.warnings)
    assert outcome(out) == outcome(tmp_path / "reference")
    side = lines(out / "iterations.corrupt.jsonl")
    assert len(side) == 2  # the damaged line and the orphaned line 2


def fake_run(out: Path, crash_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_at:
        env[ENV_VAR] = crash_at
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.fake_run", str(out), "--iterations", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    return proc.returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert fake_run(out) == 0
    result = outcome(out)
    assert [line["iteration"] for line in result["iterations"]] == [1, 2, 3]
    return result


@pytest.mark.parametrize(
    "crash_at",
    [
        "mid-iterations-append:1",  # iteration 1's commit line torn
        "after-iterations-append:1",  # iteration 1 committed, iteration 2 not started
        "before-accepted-rename:1",  # the kept rows of iteration 1 written, not renamed
        "after-records-append:11",  # a few records into iteration 2
        "mid-records-append:12",
        "before-checkpoint-commit:330",  # mid-thread in iteration 2
        "before-checkpoint-commit:700",  # mid-thread in iteration 3
        "after-iterations-append:2",
        "after-iterations-append:3",  # the last iteration committed, outputs not written
        "before-status-write:1",
    ],
)
def test_kill_in_any_iteration_then_resume(tmp_path: Path, reference: dict, crash_at: str):
    out = tmp_path / "run"
    assert fake_run(out, crash_at) == -signal.SIGKILL, "the crash point was reached"
    assert fake_run(out) == 0
    assert outcome(out) == reference


def test_gra_resume_restores_the_iterations(tmp_path: Path):
    graph = tmp_path / "graph.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(s.model_dump_json() + "\n" for s in SEEDS), encoding="utf-8")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), ENV_VAR: "after-iterations-append:1"}
    cli = [sys.executable, "-m", "tests.support.cli_fake"]
    killed = subprocess.run(
        [
            *cli,
            "run",
            str(graph),
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--iterations",
            "3",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert RunDir(out).resume_request().iterations == 3
    env.pop(ENV_VAR)
    resumed = subprocess.run(
        [*cli, "resume", str(out), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    records = lines(out / "records.jsonl")
    assert {r["iteration"] for r in records} == {1, 2}  # iteration 2 ran after the resume
    said = " ".join((resumed.stdout + resumed.stderr).split())
    assert "iteration 2 kept no sample" in said
    info = run_info(out)
    assert (info.status, info.iteration, info.iterations) == ("complete", 2, 3)


def test_a_kept_sample_becomes_a_seed_with_its_enrichment_or_is_annotated_again():
    from gra_graph.records import kept_seed

    record = Record.model_validate(
        {
            "run_id": "r",
            "seed_index": 0,
            "sample_index": 0,
            "status": "accepted",
            "reason": "ok",
            "domain": "qa",
            "instruction": "Q?",
            "response": "A.",
            "keywords": ["a", "b", "c"],
            "summary": None,
            "roles": None,
            "models": {},
            "checks": [],
            "reviews": [],
            "verdicts": [],
            "adjudication": None,
            "revisions": [],
            "rounds": 0,
            "calls": [],
            "completion_tokens": 0,
            "seconds": 0.0,
        }
    )
    seed = kept_seed(record)  # enrichment failed: no summary, so it is annotated again
    assert seed == Seed(instruction="Q?", response="A.", domain="qa", keywords=["a", "b", "c"])
    assert not seed.annotated
    enriched = kept_seed(record.model_copy(update={"summary": "how a relates to b"}))
    assert enriched.annotated and enriched.summary == "how a relates to b"
    two_keywords = kept_seed(record.model_copy(update={"keywords": ["a", "b"], "summary": "s"}))
    assert (two_keywords.domain, two_keywords.keywords, two_keywords.summary) == ("qa", None, None)


def test_summary_table_shows_each_iteration():
    from rich.console import Console

    from gra_graph.export import IterationCounts, RunSummary
    from gra_graph.progress import summary_table

    summary = RunSummary(
        iterations_planned=3,
        iterations=[
            IterationCounts(
                iteration=1,
                seed_samples=6,
                accepted=4,
                rejected=2,
                kept_after_dedup=3,
                near_duplicates=1,
            ),
            IterationCounts(
                iteration=2,
                seed_samples=6,
                accepted=0,
                rejected=6,
                kept_after_dedup=0,
                near_duplicates=0,
            ),
        ],
        stopped_early="iteration 2 kept no sample",
    )
    console = Console(width=120, record=True)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "2 of 3" in text and "6 / 4 / 2 / 3" in text and "6 / 0 / 6 / 0" in text
    assert "iteration 2 kept no sample" in text
    single = Console(width=120, record=True)
    single.print(summary_table(RunSummary(iterations=[IterationCounts(iteration=1)])))
    assert "iteration" not in single.export_text()  # one iteration: the table as it was


async def test_a_paused_iteration_is_not_finished_and_resumes_into_the_next(tmp_path: Path):
    cfg = config()

    def scores(value: int) -> dict[str, str]:
        row = {**dict.fromkeys(SCORE_DIMENSIONS, value), "strengths": "", "weaknesses": ""}
        return {"ScoreOutput": json.dumps(row)}

    # mu 8.7 >= tau, sigma 1.9 > delta: a conflict, which the adjudicator decides
    replies = {"gen": VARIED, "r1": scores(10), "r2": scores(10), "r3": scores(6)}
    out = tmp_path / "run"
    paused = Runner(
        cfg,
        SEEDS,
        out,
        members=fake_members(cfg, replies),
        iterations=2,
        interrupt_before=["adjudicate"],
    )
    assert await collect(paused) == []
    assert paused.summary.status == "paused" and len(paused.paused) == 3
    assert not (out / "iterations.jsonl").exists() or lines(out / "iterations.jsonl") == []
    again = Runner(cfg, SEEDS, out, members=fake_members(cfg, replies), iterations=2)
    records = await collect(again)
    assert {r.iteration for r in records} == {1, 2}
    assert all(r.adjudication is not None for r in records)
    assert again.summary.complete
