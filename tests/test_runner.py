"""The runner on scripted members: exactly-once records, resume, annotation, output files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gra_graph.runner import RunDirectoryError, Runner
from gra_graph.state import Seed
from tests.support.fakes import coding_seeds, committee_config, fake_members

SEEDS = coding_seeds(3)


TOPICS = [
    "Explain how photosynthesis turns sunlight into chemical energy in plants.",
    "Write a SQL query that counts orders per customer in the last month.",
    "Describe the causes of the French Revolution in three sentences.",
    "Compose a haiku about the first snow falling on a quiet harbour.",
    "Prove that the square root of two is irrational.",
    "Translate 'good morning, how are you' into Spanish and German.",
    "Give tips for a job interview at a small software start-up.",
    "Summarise the plot of a detective story set on a night train.",
    "Compute the compound interest on 1000 euros at 5 percent for 3 years.",
    "Role-play a museum guide introducing an ancient Egyptian statue.",
    "List the differences between TCP and UDP for a networking class.",
    "Suggest a weekly vegetarian meal plan for a family of four.",
]


def distinct_text():
    """A generator reply that writes about a different topic on every call."""
    calls = iter(range(10**6))

    def reply(title: str, prompt: str) -> str:
        return TOPICS[next(calls) % len(TOPICS)]

    return reply


async def collect(runner: Runner) -> list:
    async with runner:
        return [r async for r in runner.records()]


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


async def test_every_seed_sample_gets_exactly_one_record(tmp_path: Path):
    config = committee_config()
    members = fake_members(config, {"gen": {"text": distinct_text()}})
    runner = Runner(
        config, SEEDS, tmp_path / "run", samples_per_seed=2, concurrency=3, members=members
    )
    records = await collect(runner)
    keys = sorted(r.key for r in records)
    assert keys == [(i, j) for i in range(3) for j in range(2)]
    on_disk = lines(tmp_path / "run" / "records.jsonl")
    assert sorted((r["seed_index"], r["sample_index"]) for r in on_disk) == keys
    accepted = lines(tmp_path / "run" / "accepted.jsonl")
    assert len(accepted) == 6
    assert set(accepted[0]) == {"instruction", "response", "domain", "keywords", "summary"}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete"
    assert runner.summary.accepted == 6 and runner.summary.complete
    # provenance: every role's member and model file, every review and call
    first = on_disk[0]
    assert set(first["models"]) >= {first["roles"]["generator"], *first["roles"]["reviewers"]}
    assert len(first["reviews"]) == 3 and first["calls"]
    assert first["seed"]["instruction"] == f"Task {first['seed_index']}"


async def test_interrupted_run_resumes_without_duplicates(tmp_path: Path):
    config = committee_config()
    out = tmp_path / "run"
    members = fake_members(config, {"gen": {"text": distinct_text()}})
    runner = Runner(config, SEEDS, out, samples_per_seed=3, concurrency=2, members=members)
    async with runner:
        got = []
        async for record in runner.records():
            got.append(record)
            if len(got) == 2:
                break  # the consumer walks away mid-run: in-flight threads are cancelled
    assert len(lines(out / "records.jsonl")) >= 2
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"

    again = Runner(config, SEEDS, out, samples_per_seed=3, concurrency=2, members=members)
    records = await collect(again)
    assert again.summary.resumed_records >= 2
    on_disk = lines(out / "records.jsonl")
    keys = [(r["seed_index"], r["sample_index"]) for r in on_disk]
    assert len(keys) == len(set(keys)) == 9
    assert sorted(r.key for r in records) == sorted(keys)


async def test_torn_record_line_is_repaired_and_redone(tmp_path: Path):
    config = committee_config()
    out = tmp_path / "run"
    members = fake_members(config, {"gen": {"text": distinct_text()}})
    await collect(Runner(config, SEEDS, out, members=members))
    records_file = out / "records.jsonl"
    full = records_file.read_text().splitlines(keepends=True)
    # simulate a kill in the middle of writing the last record
    records_file.write_text("".join(full[:-1]) + full[-1][: len(full[-1]) // 2])
    await collect(Runner(config, SEEDS, out, members=members))
    keys = [(r["seed_index"], r["sample_index"]) for r in lines(records_file)]
    assert sorted(keys) == [(0, 0), (1, 0), (2, 0)]


async def test_seeds_without_metadata_are_annotated_once(tmp_path: Path):
    config = committee_config()
    seeds = [*SEEDS, Seed(instruction="What is the capital of France?", response="Paris.")]
    members = fake_members(config)
    out = tmp_path / "run"
    records = await collect(Runner(config, seeds, out, members=members))
    annotations = lines(out / "annotations.jsonl")
    assert len(annotations) == 1 and annotations[0]["seed_index"] == 3
    assert annotations[0]["seed"]["domain"] == "qa"  # from the annotating member
    assert next(r for r in records if r.seed_index == 3).domain == "qa"
    await collect(Runner(config, seeds, out, members=members))
    assert len(lines(out / "annotations.jsonl")) == 1  # not annotated again


async def test_unusable_seed_annotation_gives_a_record_with_the_reason(tmp_path: Path):
    config = committee_config()
    seeds = [*SEEDS, Seed(instruction="Q", response="A")]
    members = fake_members(config, {"gen": {"Annotation": "no idea"}})
    records = await collect(Runner(config, seeds, tmp_path / "run", members=members))
    failed = next(r for r in records if r.seed_index == 3)
    assert failed.status == "rejected" and failed.reason.startswith("seed annotation failed")


async def test_near_duplicates_are_dropped_from_accepted(tmp_path: Path):
    config = committee_config()
    members = fake_members(config)  # the scripted generator writes the same text every time
    out = tmp_path / "run"
    runner = Runner(config, SEEDS, out, members=members)
    await collect(runner)
    assert runner.summary.accepted == 3
    assert runner.summary.kept_after_dedup == 1 and runner.summary.near_duplicates == 2
    assert len(lines(out / "accepted.jsonl")) == 1
    dedup = lines(out / "dedup.jsonl")
    assert [d["kept"] for d in dedup].count(False) == 2
    assert all(d["nearest"] is not None for d in dedup if not d["kept"])


async def test_a_different_run_in_the_same_directory_is_refused(tmp_path: Path):
    config = committee_config()
    members = fake_members(config)
    out = tmp_path / "run"
    await collect(Runner(config, SEEDS, out, members=members))
    with pytest.raises(RunDirectoryError, match="differs in samples_per_seed"):
        await collect(Runner(config, SEEDS, out, samples_per_seed=2, members=members))


async def test_a_non_empty_foreign_directory_is_refused(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    config = committee_config()
    with pytest.raises(RunDirectoryError, match="not empty"):
        await collect(Runner(config, SEEDS, tmp_path, members=fake_members(config)))
