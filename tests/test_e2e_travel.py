"""The README's "Streaming events" example and its time-travel commands, as written, on the
real bundled models (llama.cpp, SQLite): one seed each, nothing scripted."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import ROOT
from tests.test_events import run_readme_example
from tests.test_timetravel import readme_commands, readme_workspace

pytestmark = pytest.mark.e2e


def test_readme_events_and_time_travel_on_the_bundled_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    events = tmp_path / "events"
    events.mkdir()
    out = run_readme_example(events, monkeypatch, capsys)
    assert "(0, 0) enters draw_roles" in out and "(0, 0) enters write_instruction" in out
    assert re.search(r"(accepted|rejected) - ", out), out
    assert out.rstrip().endswith("run complete"), out

    where = readme_workspace(tmp_path / "travel")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's gra_graph
    make_graph, *commands = readme_commands()
    subprocess.run(["bash", "-c", make_graph], cwd=where, check=True)
    for line in commands:
        program, *argv = shlex.split(line)
        assert program == ".venv/bin/gra"
        done = subprocess.run(
            [sys.executable, "-m", "gra_graph.cli", *argv],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        if argv[0] == "inspect":
            assert "draw_roles" in done.stdout and "compose_keywords" in done.stdout
    run = where / "runs" / "travel"
    (fork,) = [json.loads(line) for line in (run / "forks.jsonl").read_text().splitlines()]
    assert fork["parent"]["thread_id"] == "0-0" and fork["fork_thread"] == "0-0.fork1"
    assert fork["models"] and all(m.startswith("bundled:") for m in fork["models"].values())
    fresh = [c for c in fork["calls"] if c["stage"] == "compose_keywords"]
    assert len(fresh) == 1  # the fork ran the node again (the parent had not yet, at the fork)
