"""One run per directory: a live holder is refused by name, a killed holder's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph import runlock
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.runner import RunDirectoryError, Runner
from tests.support.fake_run import SEEDS
from tests.support.fakes import committee_config, fake_members
from tests.support.helpers import ROOT

HOLD = """
import sys, time
from pathlib import Path
from gra_graph import runlock
runlock.acquire(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(600)
"""


def hold_in_subprocess(run_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_acquire_is_refused_naming_the_holder(tmp_path: Path):
    lock = runlock.acquire(tmp_path)
    try:
        assert runlock.is_held(tmp_path)
        with pytest.raises(runlock.RunLockedError) as err:
            runlock.acquire(tmp_path, wait_seconds=0.1)
        message = str(err.value)
        assert f"pid {os.getpid()}" in message and socket.gethostname() in message
    finally:
        lock.release()
    assert not runlock.is_held(tmp_path)
    runlock.acquire(tmp_path).release()  # free again


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path):
    proc = hold_in_subprocess(tmp_path)
    assert runlock.is_held(tmp_path)
    assert runlock.holder(tmp_path)["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not runlock.is_held(tmp_path)  # the kernel dropped the flock with the process
    lock = runlock.acquire(tmp_path, wait_seconds=0)
    try:
        assert runlock.holder(tmp_path)["pid"] == os.getpid()
    finally:
        lock.release()


async def test_runner_refuses_a_directory_a_live_process_holds(tmp_path: Path):
    config = committee_config(dedup={"embedder": "ngram"})
    out = tmp_path / "run"
    runner = Runner(config, SEEDS, out, members=fake_members(config))
    async with runner:
        async for _ in runner.records():
            pass
    proc = hold_in_subprocess(out)
    try:
        with pytest.raises(RunDirectoryError, match=f"in use by a live run: pid {proc.pid}"):
            async with Runner(config, SEEDS, out, members=fake_members(config)):
                pass
    finally:
        proc.kill()
        proc.wait(timeout=30)
    # stale now: the same run is accepted again
    async with Runner(config, SEEDS, out, members=fake_members(config)) as again:
        assert [r async for r in again.records()]


def test_cli_refuses_a_held_directory_with_exit_2(tmp_path: Path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"status": "running"}))
    proc = hold_in_subprocess(out)
    try:
        code = main(
            [
                "run",
                str(ROOT / "graphs" / "gra.yaml"),
                "--seeds",
                str(ROOT / "examples" / "seeds.jsonl"),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        err = " ".join(capsys.readouterr().err.split())
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert code == EXIT_INPUT
    assert f"in use by a live run: pid {proc.pid} on host {socket.gethostname()}" in err
