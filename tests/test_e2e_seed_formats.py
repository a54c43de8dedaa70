"""``gra run`` on a parquet seeds file, end to end on the real bundled GGUF models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.helpers import ROOT

pytestmark = pytest.mark.e2e


def test_gra_run_on_a_mapped_parquet_seed_to_completion(tmp_path: Path):
    first = json.loads((ROOT / "examples" / "seeds.jsonl").read_text().splitlines()[0])
    row = {
        "prompt": first["instruction"],
        "completion": first["response"],
        "category": "programming",  # not one of the seven: renamed below
        "keywords": first["keywords"],
        "summary": first["summary"],
    }
    seeds = tmp_path / "seeds.parquet"
    pq.write_table(pa.Table.from_pylist([row]), seeds)
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gra_graph.cli",
            "run",
            "graphs/gra.yaml",
            "--seeds",
            str(seeds),
            "--map",
            "instruction=prompt,response=completion,domain=category",
            "--domain-map",
            "programming=coding",
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert record["status"] in {"accepted", "rejected"} and record["calls"]
    assert record["seed"]["instruction"] == first["instruction"]
    assert record["seed"]["domain"] == "coding"
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["command"]["seeds"] == str(seeds)
