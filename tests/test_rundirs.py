"""``gra runs`` (the status of every run under a directory) and ``gra resume``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph import runlock
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.config import GraphConfig
from gra_graph.crashpoints import ENV_VAR
from gra_graph.rundirs import (
    ResumeRequest,
    RunDir,
    RunInfoError,
    list_runs,
    run_info,
    run_status,
)
from gra_graph.runner import Runner
from tests.support.fake_run import SEEDS
from tests.support.fakes import committee_config, fake_members
from tests.support.helpers import ROOT


async def fake_run(out: Path, stop_after: int | None = None, **kwargs) -> Runner:
    config = committee_config(dedup={"embedder": "ngram"})
    runner = Runner(config, SEEDS, out, members=fake_members(config), **kwargs)
    async with runner:
        seen = 0
        async for _ in runner.records():
            seen += 1
            if stop_after is not None and seen >= stop_after:
                break
    return runner


def killed_run(out: Path) -> None:
    """A run that SIGKILLed itself after its second record."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), ENV_VAR: "after-records-append:2"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.fake_run", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL


async def test_runs_lists_each_status(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps a table to an 80-column pipe otherwise
    await fake_run(tmp_path / "a-complete")
    await fake_run(tmp_path / "b-interrupted", stop_after=1)
    killed_run(tmp_path / "c-crashed")
    await fake_run(tmp_path / "d-running")
    (tmp_path / "not-a-run").mkdir()
    lock = runlock.acquire(tmp_path / "d-running")
    try:
        infos = {Path(i.path).name: i for i in list_runs(tmp_path)}
        assert main(["runs", str(tmp_path), "--json"]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert main(["runs", str(tmp_path)]) == 0
        table = capsys.readouterr().out
    finally:
        lock.release()
    assert {n: i.status for n, i in infos.items()} == {
        "a-complete": "complete",
        "b-interrupted": "interrupted",
        "c-crashed": "crashed",
        "d-running": "running",
    }
    assert [Path(row["path"]).name for row in listed] == sorted(infos)
    complete = infos["a-complete"]
    assert (complete.done, complete.total, complete.accepted, complete.graph) == (4, 4, 4, "gra")
    assert complete.started and complete.checkpoint_bytes > 0
    assert infos["c-crashed"].done == 2 and infos["c-crashed"].total == 8
    assert infos["d-running"].holder == f"pid {os.getpid()} on {os.uname().nodename}"
    for name in ("a-complete", "crashed", "interrupted", "running"):
        assert name in table


def test_incomplete_comes_from_run_json_and_a_free_lock(tmp_path: Path):
    assert run_status(tmp_path, {"status": "incomplete"}) == "incomplete"
    assert run_status(tmp_path, {"status": "running"}) == "crashed"


def test_runs_on_a_missing_directory_is_an_input_error(tmp_path: Path, capsys):
    assert main(["runs", str(tmp_path / "nowhere")]) == EXIT_INPUT
    assert "is not a directory" in " ".join(capsys.readouterr().err.split())


def test_listing_skips_a_torn_last_record_without_repairing_it(tmp_path: Path):
    out = tmp_path / "run"
    killed = tmp_path / "k"
    env = {**os.environ, "PYTHONPATH": str(ROOT), ENV_VAR: "mid-records-append:3"}
    subprocess.run(
        [sys.executable, "-m", "tests.support.fake_run", str(killed)],
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    shutil.copytree(killed, out)
    before = (out / "records.jsonl").read_bytes()
    assert run_info(out).done == 2
    assert (out / "records.jsonl").read_bytes() == before  # a listing never writes


# ---- gra resume


def write_run_json(run_dir: Path, command: dict | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {"graph": "gra", "seeds": 1, "samples_per_seed": 1, "status": "running"}
    if command is not None:
        data["command"] = command
    (run_dir / "run.json").write_text(json.dumps(data))


def test_resume_rebuilds_the_run_arguments(tmp_path: Path):
    graph, seeds = tmp_path / "g.yaml", tmp_path / "s.jsonl"
    graph.write_text("x")
    seeds.write_text("x")
    command = {
        "graph": str(graph),
        "seeds": str(seeds),
        "limit": None,
        "samples_per_seed": 2,
        "concurrency": 4,
        "seed": 7,
    }
    write_run_json(tmp_path / "run", command)
    # typed, not argv: run.json's command comes back as the request, with the overrides applied
    request = RunDir(tmp_path / "run").resume_request(concurrency=1, graph=None)
    assert request == ResumeRequest(
        graph=str(graph), seeds=str(seeds), limit=None, samples_per_seed=2, concurrency=1, seed=7
    )


def test_resume_names_a_vanished_input_file(tmp_path: Path):
    command = {"graph": str(tmp_path / "gone.yaml"), "seeds": str(tmp_path / "s.jsonl")}
    write_run_json(tmp_path / "run", command)
    with pytest.raises(RunInfoError, match=r"graph file .*gone.yaml.* is gone; pass .*--graph"):
        RunDir(tmp_path / "run").resume_request()


def test_resume_of_a_run_started_from_python_is_explained(tmp_path: Path, capsys):
    write_run_json(tmp_path / "run", None)
    assert main(["resume", str(tmp_path / "run")]) == EXIT_INPUT
    assert "started from the Python API" in " ".join(capsys.readouterr().err.split())
    assert main(["resume", str(tmp_path / "nothing")]) == EXIT_INPUT
    assert "not a gra run directory" in capsys.readouterr().err


@pytest.fixture()
def shipped_copy(tmp_path: Path) -> tuple[Path, Path]:
    """graphs/ and prompts/ copied, and a seeds file, so a test may edit them."""
    shutil.copytree(ROOT / "graphs", tmp_path / "graphs")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(s.model_dump_json() + "\n" for s in SEEDS[:2]))
    return tmp_path / "graphs" / "gra.yaml", seeds


async def recorded_run(graph: Path, seeds: Path, out: Path) -> None:
    """A finished run of ``graph`` (scripted members) whose run.json records its command."""
    from gra_graph.seeds import read_seeds

    config = GraphConfig.from_file(graph)
    command = {
        "graph": str(graph),
        "seeds": str(seeds),
        "limit": None,
        "samples_per_seed": 1,
        "concurrency": 2,
        "seed": 0,
    }
    runner = Runner(config, read_seeds(seeds), out, members=fake_members(config), command=command)
    async with runner:
        async for _ in runner.records():
            pass


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("seeds", "differs in seeds_fingerprint (the seeds changed"),
        ("graph", "differs in graph_fingerprint (the graph file's settings changed)"),
        ("prompt", "differs in prompts_fingerprint (a prompt file changed)"),
    ],
)
def test_resume_refuses_changed_inputs(shipped_copy, tmp_path: Path, capsys, edit, message):
    graph, seeds = shipped_copy
    out = tmp_path / "run"
    asyncio.run(recorded_run(graph, seeds, out))
    if edit == "seeds":
        seeds.write_text(seeds.read_text().replace("Task 0", "Task zero"))
    elif edit == "graph":
        graph.write_text(graph.read_text().replace("tau: 8.0", "tau: 7.0"))
    else:
        prompt = tmp_path / "prompts" / "score_response.txt"
        prompt.write_text(prompt.read_text() + "\nBe strict.")
    assert main(["resume", str(out), "--quiet"]) == EXIT_INPUT
    assert message in " ".join(capsys.readouterr().err.split())


def test_resume_help_explains_itself(capsys):
    with pytest.raises(SystemExit):
        main(["resume", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "without retyping its arguments" in out and "--concurrency" in out
    with pytest.raises(SystemExit):
        main(["runs", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "crashed" in out and "interrupted" in out
