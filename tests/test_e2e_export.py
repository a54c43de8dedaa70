"""``gra export`` on a real run: the bundled models through a revise graph (one seed, two
samples), then every format written and read back, DPO pairs from the real revision, and the
card with the graph file's thresholds and ``gra eval``'s figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.helpers import ROOT, shipped_graph_text

pytestmark = pytest.mark.e2e

SEEDS = ROOT / "examples" / "seeds.jsonl"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
for _name, _value in OFFLINE.items():  # the exports run in this process: nothing goes online
    os.environ.setdefault(_name, _value)


def gra(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **OFFLINE},
    )


def export(*args: str) -> int:
    """``gra export`` in this process (the run is the slow part, not the import)."""
    from gra_graph.cli import main

    return main(["export", *args])


def revising_graph(path: Path) -> Path:
    """graphs/gra_revise.yaml made to revise whatever gets scored: tau 10 (never reached by
    these models), a score floor of 0, one revise round, and instruction checks that pass
    unless the reviewers are nearly sure they fail (so the sample reaches the scoring)."""
    graph = yaml.safe_load(shipped_graph_text("gra_revise.yaml"))
    graph |= {
        "name": "export-e2e",
        "revise": {"max_rounds": 1, "score_floor": 0.0},
        "judging": {"check_rule": "mean_probability", "check_threshold": 0.01},
        "dedup": {"enabled": True, "embedder": "ngram"},
    }
    graph["thresholds"]["tau"] = 10.0
    path.write_text(yaml.safe_dump(graph, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("export")
    out = base / "run"
    graph = revising_graph(base / "revise.yaml")
    args = ["run", str(graph), "--seeds", str(SEEDS), "--out", str(out), "--quiet"]
    result = gra(*args, "--limit", "1", "--samples-per-seed", "2")
    assert result.returncode == 0, result.stderr
    return out


def test_every_format_of_a_real_run_reads_back(real_run: Path, tmp_path: Path, capsys):
    import datasets
    import pyarrow.parquet as pq

    records = [json.loads(line) for line in (real_run / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2
    with_text = [r for r in records if r["instruction"] and r["response"]]
    for fmt in ("jsonl", "parquet", "hf", "sharegpt", "alpaca", "chatml", "openai"):
        out = tmp_path / fmt
        code = export(str(real_run), "--format", fmt, "--status", "all", "--out", str(out))
        assert code == 0, capsys.readouterr().err
        if fmt == "parquet":
            rows = pq.read_table(out / "train.parquet").to_pylist()
        elif fmt == "hf":
            rows = datasets.load_from_disk(str(out)).to_list()
        else:
            rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
        assert len(rows) == (len(records) if fmt in ("jsonl", "parquet", "hf") else len(with_text))
        if fmt in ("jsonl", "parquet", "hf"):
            assert [r["reason"] for r in rows] == [r["reason"] for r in records]
            assert [r["response"] for r in rows] == [r["response"] for r in records]
        card = (out / "README.md").read_text(encoding="utf-8")
        assert "| tau: lowest mean score accepted | 10.0 |" in card
        assert "bundled:" in card  # the members' model refs, from the records


def test_a_real_revision_becomes_a_pair_with_both_rounds_scored(
    real_run: Path, tmp_path: Path, capsys
):
    records = [json.loads(line) for line in (real_run / "records.jsonl").read_text().splitlines()]
    revisions = [(r, v) for r in records for v in r["revisions"]]
    assert revisions, "a scored sample under tau 10 with a floor of 0 is revised"
    report = tmp_path / "eval.json"
    from gra_graph.cli import main

    assert main(["eval", str(real_run), "--json", str(report), "--no-embeddings"]) == 0
    out = tmp_path / "dpo"
    args = ["--format", "dpo", "--out", str(out), "--min-margin", "-10", "--eval", str(report)]
    code = export(str(real_run), *args)
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"{len(revisions)} preference pairs (revision {len(revisions)}," in err
    pairs = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    for pair, (record, revision) in zip(pairs, revisions, strict=True):
        assert pair["prompt"] == record["instruction"]
        assert (pair["chosen"], pair["rejected"]) == (
            revision["new_response"],
            revision["prior_response"],
        )
        mu = {v["round"]: v["mu"] for v in record["verdicts"]}
        assert (pair["chosen_mu"], pair["rejected_mu"]) == (mu[1], mu[0])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Preference pairs" in card and "| acceptance rate | 0 |" in card
