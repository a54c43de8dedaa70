"""``gra ablate``: graphs run on the same seeds and benched on the same pairs, on scripted
members (the real-model path is the runner's and the bench's, tested on their own)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from gra_graph.ablation.compare import AblationPlan, AblationRow, ablate
from gra_graph.ablation.report import chart_dot, markdown, write_chart, write_csv
from gra_graph.cli import main
from gra_graph.config import GraphConfig, GraphConfigError
from tests.support.fakes import CHECK_PASS, adjudication, fake_members, scores
from tests.support.helpers import scripted_graph_text

# pair tag -> (label, defect, composite each reviewer gives it)
PAIRS = {
    "P1": ("sound", None, 9),
    "P2": ("sound", None, 9),
    "P3": ("defective", "wrong_answer", 3),
    "P4": ("defective", "off_topic", 9),
}


def _tag(prompt: str) -> str | None:
    found = re.search(r"\[(P\d)\]", prompt)
    return found.group(1) if found else None


def _score(_title: str, prompt: str) -> str:
    tag = _tag(prompt)
    return scores(PAIRS[tag][2] if tag else 9)  # a run's drafts (no tag) are accepted


def members_for(config: GraphConfig):
    replies = {
        r: {"ScoreOutput": _score, "InstructionCheckOutput": CHECK_PASS} for r in ("r1", "r2", "r3")
    }
    replies["adj"] = {"AdjudicationOutput": adjudication(9)}
    return fake_members(config, replies)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    (graphs / "base.yaml").write_text(scripted_graph_text("base"), encoding="utf-8")
    (graphs / "none.yaml").write_text(
        "extends: base.yaml\nname: no reviewer\ncommittee_size: 0\nadjudication: false\n",
        encoding="utf-8",
    )
    (graphs / "noadj.yaml").write_text(
        "extends: base.yaml\nname: no-adjudicator\nadjudication: false\n", encoding="utf-8"
    )
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps(
                {
                    "instruction": f"Write function {i}.",
                    "response": f"def f{i}(): return {i}",
                    "domain": "coding",
                    "keywords": [f"k{i}", "b", "c"],
                    "summary": f"summary {i}",
                }
            )
            + "\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "instruction": f"[{tag}] Explain item {tag}.",
                    "response": f"Item {tag} is explained here.",
                    "domain": "qa",
                    "label": label,
                    "defect": defect,
                }
            )
            + "\n"
            for tag, (label, defect, _) in PAIRS.items()
        ),
        encoding="utf-8",
    )
    return {"graphs": graphs, "seeds": seeds, "pairs": pairs, "out": tmp_path / "out"}


def plan(inputs: dict[str, Path], **extra) -> AblationPlan:
    return AblationPlan(seeds=inputs["seeds"], pairs=inputs["pairs"], out=inputs["out"], **extra)


def graph_files(inputs: dict[str, Path]) -> list[Path]:
    return [inputs["graphs"] / n for n in ("base.yaml", "none.yaml", "noadj.yaml")]


async def test_each_graph_runs_and_is_benched_on_the_same_inputs(inputs: dict[str, Path]):
    told: list[tuple[str, str]] = []
    rows = await ablate(
        graph_files(inputs),
        plan(inputs),
        members=members_for,
        on_graph=lambda name, what: told.append((name, what)),
    )
    assert [r.name for r in rows] == ["base", "no reviewer", "no-adjudicator"]
    # the graph without reviewers is run but has nothing to bench
    assert told == [
        ("base", "run"),
        ("base", "bench"),
        ("no reviewer", "run"),
        ("no-adjudicator", "run"),
        ("no-adjudicator", "bench"),
    ]
    base, none, noadj = rows
    assert all(r.seed_samples == 3 for r in rows)
    assert base.accepted == 3 and base.acceptance_rate == 1.0
    assert none.accepted == 3
    # P1, P2 (9) above P3 (3) and level with P4 (9): 3 of 4 comparisons right, 1 tie
    assert base.bench_setting == "committee+adjudicator" and base.auroc == pytest.approx(0.75)
    assert noadj.bench_setting == "committee" and noadj.auroc == pytest.approx(0.75)
    assert base.accuracy == pytest.approx(0.75)  # P4 (defective, 9) is accepted
    assert none.auroc is None and none.bench_setting is None
    assert base.auroc_low <= base.auroc <= base.auroc_high  # the bench's bootstrap interval
    assert none.auroc_low is None and none.auroc_high is None
    assert none.accuracy == 0.5 and "no reviewers" in none.note  # keeps all: right on sound only
    # a graph without reviewers makes no review calls, so it costs less per accepted sample
    assert none.calls_per_accepted < base.calls_per_accepted
    for name in ("base", "no-reviewer", "no-adjudicator"):
        assert (inputs["out"] / name / "run" / "records.jsonl").is_file()
    assert (inputs["out"] / "base" / "bench.json").is_file()
    assert not (inputs["out"] / "no-reviewer" / "bench.json").exists()


async def test_a_second_ablation_redoes_nothing(inputs: dict[str, Path]):
    first = await ablate(graph_files(inputs), plan(inputs), members=members_for)
    bench = json.loads((inputs["out"] / "base" / "bench.json").read_text())
    assert bench["calls"]["new"] > 0
    again = await ablate(graph_files(inputs), plan(inputs), members=members_for)
    assert again == first
    for name in ("base", "no-adjudicator"):
        bench = json.loads((inputs["out"] / name / "bench.json").read_text())
        assert bench["calls"]["new"] == 0
    records = (inputs["out"] / "base" / "run" / "records.jsonl").read_text().splitlines()
    assert len(records) == 3


async def test_a_given_cache_is_used_and_its_calls_reused(inputs: dict[str, Path], tmp_path: Path):
    cache = tmp_path / "elsewhere.sqlite"
    await ablate(graph_files(inputs)[:1], plan(inputs, cache=cache), members=members_for)
    assert cache.is_file() and not (inputs["out"] / "bench.cache.sqlite").exists()
    shutil.rmtree(inputs["out"])
    await ablate(graph_files(inputs)[:1], plan(inputs, cache=cache), members=members_for)
    bench = json.loads((inputs["out"] / "base" / "bench.json").read_text())
    assert bench["calls"]["new"] == 0 and bench["calls"]["cached"] > 0


async def test_graphs_that_judge_alike_share_the_judge_calls(inputs: dict[str, Path]):
    await ablate(graph_files(inputs)[2:], plan(inputs), members=members_for)  # no-adjudicator
    await ablate(graph_files(inputs)[:1], plan(inputs), members=members_for)  # base
    bench = json.loads((inputs["out"] / "base" / "bench.json").read_text())
    # the same members, prompts and judging (and no conflict to adjudicate): no call is new
    assert bench["calls"]["new"] == 0 and bench["calls"]["total"] > 0


async def test_a_bad_graph_stops_everything_before_any_work(inputs: dict[str, Path]):
    bad = inputs["graphs"] / "bad.yaml"
    bad.write_text("extends: base.yaml\ncommittee_size: 0\n", encoding="utf-8")  # adjudication on
    with pytest.raises(GraphConfigError, match="committee_size: 0"):
        await ablate([*graph_files(inputs), bad], plan(inputs), members=members_for)
    assert not inputs["out"].exists()
    with pytest.raises(GraphConfigError, match="named twice"):
        await ablate(graph_files(inputs)[:1] * 2, plan(inputs), members=members_for)


def _row(name: str, rate: float | None, auroc: float | None) -> AblationRow:
    return AblationRow(
        graph_file=f"graphs/{name}.yaml",
        name=name,
        seed_samples=4,
        accepted=2,
        acceptance_rate=rate,
        kept_after_dedup=2,
        bench_setting="committee",
        auroc=auroc,
        auroc_check_zero=auroc,
        accuracy=0.5,
        calls_per_accepted=10.0,
        tokens_per_accepted=1234.5,
        model_seconds_per_accepted=99.0,
        note="a | b",
    )


def test_table_csv_and_chart(tmp_path: Path):
    rows = [_row("paper", 0.5, 0.61), _row("<single>", 0.25, None)]
    rows[0].auroc_low, rows[0].auroc_high = 0.4, 0.8
    text = markdown(rows, "t")
    assert text.count("\n| ") == 3  # header + 2 rows
    assert "| paper | 4 | 2 | 0.5 | 2 | 0.61 | 0.40-0.80 |" in text and "a \\| b" in text
    write_csv(rows, tmp_path / "a.csv")
    read = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert read[1]["name"] == "<single>" and read[1]["auroc"] == ""
    source = chart_dot(rows, 't "quoted"')
    assert "&lt;single&gt;" in source and '\\"quoted\\"' in source
    assert shutil.which("dot"), "Graphviz's dot is missing: README command 2 installs it"
    write_chart(rows, "t", tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_bad_numbers_and_a_missing_pairs_file(inputs: dict[str, Path], capsys):
    base = str(inputs["graphs"] / "base.yaml")
    common = ["--seeds", str(inputs["seeds"]), "--out", str(inputs["out"])]
    assert main(["ablate", base, *common, "--pairs", str(inputs["pairs"]), "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
    missing = inputs["pairs"].with_name("nope.jsonl")
    assert main(["ablate", base, *common, "--pairs", str(missing)]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
    assert not inputs["out"].exists()  # nothing ran
