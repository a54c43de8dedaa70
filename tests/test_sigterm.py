"""SIGTERM stops a run as cleanly as Ctrl-C (issue 14, item 11).

``kill PID`` (what systemd, Docker and schedulers send first) used to kill ``gra run`` outright,
leaving run.json at ``running``. Now it cancels the run: exit code 143 (128 + 15), run.json
``interrupted``, the lock released; and the same command resumes it to completion. The run is
the real command line in a child process, on scripted members that take a moment per call so
the signal lands mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gra_graph.cli import EXIT_TERMINATED
from tests.support.cli_fake import DELAY_ENV
from tests.support.helpers import ROOT, scripted_graph_text


def test_sigterm_interrupts_cleanly_and_the_run_resumes(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    lines = (ROOT / "examples" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "tests.support.cli_fake",
        "run",
        str(graph),
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--samples-per-seed",
        "2",
        "--concurrency",
        "2",
        "--quiet",
    ]
    env = {**os.environ, DELAY_ENV: "0.2", "COLUMNS": "200"}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        records = out / "records.jsonl"
        while not (records.exists() and records.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no record within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_TERMINATED, err
    assert "terminated (SIGTERM); run the same command again to resume" in " ".join(err.split())
    assert "Traceback" not in err
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    done = records.read_text(encoding="utf-8").splitlines()
    assert 1 <= len(done) < 8, "stopped mid-run"

    resumed = subprocess.run(
        argv, cwd=ROOT, env={**env, DELAY_ENV: "0"}, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["status"] == "complete"
    rows = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    keys = [(r["seed_index"], r["sample_index"]) for r in rows]
    assert sorted(keys) == [(i, j) for i in range(4) for j in range(2)], "each exactly once"
    assert [json.loads(line) for line in done] == rows[: len(done)], "earlier records kept"
