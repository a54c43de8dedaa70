"""The red-team script runs and reports: a quick subset, as JSON, on this branch's fixes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.helpers import ROOT


def test_redteam_subset_reports_every_probe_as_json():
    result = subprocess.run(
        [sys.executable, "evals/redteam.py", "--only", "prompts", "9", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    rows = report["probes"]
    assert {row["cls"] for row in rows} == {2, 9}
    assert len(rows) == 6
    for row in rows:
        assert row["expected"] and row["observed"]
        assert row["verdict"] == "ok", row
    assert result.returncode == 0, result.stderr
