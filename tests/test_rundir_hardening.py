"""Issue 14 on the run directory: links and non-regular files are refused, journal repair never
drops a valid record, a seeds file changed mid-run stops the run cleanly, and memory follows
the work, not the --concurrency a user typed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gra_graph.rundirs import RunDir
from gra_graph.runner import RunDirectoryError, Runner
from gra_graph.seeds import SeedFile, SeedFileChangedError
from gra_graph.state import Seed
from tests.support.fakes import coding_seeds, committee_config, fake_members

SEEDS = coding_seeds(3)


async def run(out: Path, seeds=SEEDS, **kwargs) -> Runner:
    config = committee_config()
    runner = Runner(config, seeds, out, members=fake_members(config), **kwargs)
    async with runner:
        async for _ in runner.records():
            pass
    return runner


def victim(tmp_path: Path) -> Path:
    target = tmp_path / "precious.txt"
    target.write_text("do not touch\n")
    return target


@pytest.mark.parametrize(
    "name",
    [
        "run.lock",
        "records.jsonl",
        "checkpoints.sqlite",
        "annotations.jsonl",
        ".run.json.tmp",
        "summary.json",
        "checkpoints.sqlite-wal",
        "records.corrupt.jsonl",
    ],
)
async def test_a_link_in_a_finished_run_is_refused_on_resume(tmp_path: Path, name: str):
    out = tmp_path / "run"
    await run(out)
    target = victim(tmp_path)
    (out / name).unlink(missing_ok=True)
    (out / name).symlink_to(target)
    with pytest.raises(RunDirectoryError, match=f"{name} is a symbolic link"):
        await run(out)
    assert target.read_text() == "do not touch\n"


async def test_a_directory_holding_only_a_linked_lock_is_refused(tmp_path: Path):
    out = tmp_path / "run"
    out.mkdir()
    target = victim(tmp_path)
    (out / "run.lock").symlink_to(target)
    with pytest.raises(RunDirectoryError, match="symbolic link"):
        await run(out)
    assert target.read_text() == "do not touch\n"


async def test_a_journal_that_is_a_directory_is_refused_clearly(tmp_path: Path):
    out = tmp_path / "run"
    await run(out)
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").mkdir()
    with pytest.raises(RunDirectoryError, match=r"records\.jsonl is a directory, not a file"):
        await run(out)


def test_writers_do_not_follow_a_link_planted_after_the_check(tmp_path: Path):
    from gra_graph.output import append_jsonl, write_json_atomic

    target = victim(tmp_path)
    (tmp_path / "j.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        append_jsonl(tmp_path / "j.jsonl", [{"a": 1}])
    (tmp_path / ".s.json.tmp").symlink_to(target)
    write_json_atomic(tmp_path / "s.json", {"ok": 1})  # the planted temp link is replaced
    assert target.read_text() == "do not touch\n"
    assert json.loads((tmp_path / "s.json").read_text()) == {"ok": 1}


async def test_garbage_in_the_middle_of_records_loses_no_valid_record(tmp_path: Path):
    out = tmp_path / "run"
    await run(out, samples_per_seed=2)
    path = out / "records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    kept = {(json.loads(x)["seed_index"], json.loads(x)["sample_index"]): x for x in lines}
    damaged = [lines[0], b"this is not json\n", b"{}\n", b"[1, 2]\n", *lines[1:], lines[2]]
    path.write_bytes(b"".join(damaged))
    runner = await run(out, samples_per_seed=2)
    assert runner.summary.complete and runner.summary.resumed_records == 6
    assert path.read_bytes() == b"".join(lines)  # the valid lines, byte for byte, no repeat
    corrupt = [json.loads(x) for x in (out / "records.corrupt.jsonl").read_text().splitlines()]
    assert [c["line"] for c in corrupt] == [2, 3, 4]
    assert corrupt[0]["text"] == "this is not json\n"
    assert any(
        "3 unreadable line(s) moved to records.corrupt.jsonl (line 2, 3, 4)" in w
        for w in runner.warnings
    )
    assert any("1 duplicate line(s) removed (line 10)" in w for w in runner.warnings)
    assert set(kept) == {(i, j) for i in range(3) for j in range(2)}
    assert RunDir(out).manifest()["status"] == "complete"


async def test_a_damaged_record_is_run_again_not_dropped(tmp_path: Path):
    out = tmp_path / "run"
    await run(out)
    path = out / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + '{"seed_index": 1}\n' + lines[2])  # record of seed 1 broken
    runner = await run(out)
    assert runner.summary.complete and runner.summary.resumed_records == 2
    keys = sorted((json.loads(x)["seed_index"]) for x in path.read_text().splitlines())
    assert keys == [0, 1, 2]


def reply_that_rewrites(path: Path, lines: list[str]):
    """A generator reply that rewrites the seeds file in place the first time it runs."""
    done = []

    def reply(title: str, prompt: str) -> str:
        if not done:
            done.append(1)
            path.write_text("".join(lines))
        return "Write a function."

    return reply


async def test_a_seeds_file_rewritten_mid_run_stops_the_run_cleanly(tmp_path: Path):
    path = tmp_path / "seeds.jsonl"
    # long seeds, so the file is read in several pieces and the rewrite lands between them
    original = [
        s.model_copy(update={"response": s.response + " " + "x" * 20_000}).model_dump_json() + "\n"
        for s in coding_seeds(6)
    ]
    path.write_text("".join(original))
    changed = original[:3] + [
        Seed(
            instruction=f"New {i}",
            response="r",
            domain="coding",
            keywords=["a", "b", "c"],
            summary="s",
        ).model_dump_json()
        + "\n"
        for i in range(3)
    ]
    config = committee_config()
    members = fake_members(config, {"gen": {"text": reply_that_rewrites(path, changed)}})
    out = tmp_path / "run"
    runner = Runner(config, SeedFile.scan(path), out, members=members, concurrency=1)
    with pytest.raises(SeedFileChangedError, match="line 4 differs"):
        async with runner:
            async for _ in runner.records():
                pass
    assert RunDir(out).manifest()["status"] == "interrupted"
    instructions = [
        json.loads(x)["seed"]["instruction"]
        for x in (out / "records.jsonl").read_text().splitlines()
    ]
    assert all(i.startswith("Task") for i in instructions)  # no new seed got in
    path.write_text("".join(original))  # restored: the same run resumes to the end
    runner = Runner(config, SeedFile.scan(path), out, members=fake_members(config))
    async with runner:
        async for _ in runner.records():
            pass
    assert runner.summary.complete and RunDir(out).manifest()["status"] == "complete"


async def test_memory_follows_the_work_not_the_concurrency_typed(tmp_path: Path):
    seeds = [Seed(instruction="annotate me", response="r")]  # needs an annotation call
    runner = await asyncio.wait_for(run(tmp_path / "run", seeds, concurrency=10**9), 30)
    assert runner.summary.complete


async def test_runs_listing_streams_and_survives_a_huge_line(tmp_path: Path):
    out = tmp_path / "run"
    await run(out)
    with (out / "records.jsonl").open("ab") as fh:
        fh.write(b"x" * (2 * 1024 * 1024))  # an unterminated 2 MB line: skipped, not held
    info = RunDir(out).info()
    assert info.done == 3 and info.status == "complete"
