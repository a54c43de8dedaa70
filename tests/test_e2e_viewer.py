"""``gra view`` and ``gra stats`` on a real run of the bundled models, watched while it runs.

A real ``gra run`` (graphs/gra.yaml, two seeds) writes its records while a real ``gra view``
serves them over HTTP; the test polls ``/api/state`` as the page does and sees the run go from
running to complete, then reads the pages and ``gra stats``' table and HTML file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, stop_process

pytestmark = pytest.mark.e2e

SEEDS = ROOT / "examples" / "seeds.jsonl"


def gra(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "gra_graph.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_the_viewer_follows_a_real_run_and_stats_reports_it(tmp_path: Path):
    out = tmp_path / "run"
    run = gra(
        "run",
        "graphs/gra.yaml",
        "--seeds",
        str(SEEDS),
        "--out",
        str(out),
        "--limit",
        "2",
        "--quiet",
    )
    view = None
    try:
        deadline = time.monotonic() + 120
        while not (out / "run.json").is_file():  # the viewer needs the run directory
            assert run.poll() is None, run.stderr.read() if run.stderr else ""
            assert time.monotonic() < deadline, "the run never wrote run.json"
            time.sleep(0.2)
        view = gra("view", str(out), "--port", "0", "--no-browser")
        line = view.stdout.readline() if view.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line
        url = match.group(0)
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 900
        while True:
            state = json.loads(get(url + "api/state"))
            seen.append((state["status"], state["records"]))
            if run.poll() is not None and state["status"] != "running":
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.5)
        assert run.returncode == 0, run.stderr.read() if run.stderr else ""
        # the page's endpoint saw the run running, then complete with both records
        assert seen[0][0] == "running"
        assert seen[-1] == ("complete", 2), seen
        counts = [n for _, n in seen]
        assert counts == sorted(counts)
        page = get(url)
        assert "[2 samples]" in page and 'class="graph"' in page
        sample = get(url + "sample/0/0")
        for heading in ("Seed", "Instruction checks", "Reviews", "Calls"):
            assert f"<h2>{heading}</h2>" in sample
        exported = get(url + "export.jsonl").splitlines()
        assert {(json.loads(x)["seed_index"], json.loads(x)["sample_index"]) for x in exported} == {
            (0, 0),
            (1, 0),
        }
    finally:
        if view is not None:
            stop_process(view)
        stop_process(run)

    table = subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", "stats", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert table.returncode == 0, table.stderr
    assert "acceptance" in table.stdout and "2 of 2" in table.stdout
    html_file = tmp_path / "stats.html"
    page = subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", "stats", str(out), "--html", str(html_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert page.returncode == 0, page.stderr
    text = html_file.read_text(encoding="utf-8")
    rows = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    scored = {d for r in rows for v in r["reviews"] if not v["abstained"] for d in v["scores"]}
    # a histogram per dimension scored (tiny models often fail the checks: none), tokens/s
    assert "[2 samples]" in text and text.count('<svg class="plot"') == len(scored) + 1
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text)
    assert "<script" not in text
