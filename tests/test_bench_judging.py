"""``gra bench-review`` comparing ways of reading the judges (docs/method.md, section 9f), on
scripted members whose written scores and distributions are chosen so the figures are known."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gra_graph.bench.bench import run_bench
from gra_graph.bench.pairs import BenchPair, Pair
from gra_graph.bench.report import markdown
from gra_graph.cli import main
from gra_graph.state import SCORE_DIMENSIONS
from tests.support.fakes import committee_config, fake_members
from tests.support.helpers import ROOT

REVIEWERS = ("r1", "r2", "r3")
LABELS = {"S1": "sound", "S2": "sound", "D1": "defective", "D2": "defective"}


def pairs() -> list[BenchPair]:
    return [
        BenchPair(
            i + 1,
            Pair(
                instruction=f"[{tag}] Explain item {tag}.",
                response=f"Item {tag} is explained.",
                domain="qa",
                label=label,
                defect=None if label == "sound" else "wrong_answer",
            ),
        )
        for i, (tag, label) in enumerate(LABELS.items())
    ]


def tag(prompt: str) -> str:
    found = re.search(r"\[(\w\d)\]", prompt)
    assert found, prompt
    return found.group(1)


def sure_of(*values: int) -> dict[str, float]:
    """A distribution sharing its mass evenly over ``values``."""
    return {str(v): (1 / len(values) if v in values else 0.0) for v in range(11)}


def knowing_members(config: Any) -> Any:
    """Reviewers who always write 9 (no ranking at all) but whose probabilities know better:
    9 or 10 for sound pairs, 3 or 4 for defective ones."""

    def dists(_title: str, prompt: str) -> dict[str, Any]:
        sound = LABELS[tag(prompt)] == "sound"
        return {d: sure_of(9, 10) if sound else sure_of(3, 4) for d in SCORE_DIMENSIONS}

    return fake_members(
        config,
        probing=True,
        distributions={r: {"ScoreOutput": dists} for r in REVIEWERS},
    )


def by_name(report: Any) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report.settings}


async def test_expected_and_written_scores_of_the_same_calls(tmp_path: Path):
    config = committee_config(judging={"scoring": "expected"})
    report = await run_bench(
        config, pairs(), tmp_path / "c.sqlite", members=knowing_members(config)
    )
    s = by_name(report)
    for name in ("single:r1", "committee", "committee+adjudicator"):
        assert s[name]["scoring"]["expected"]["auroc"] == 1.0
        assert s[name]["scoring"]["sampled"]["auroc"] == 0.5  # all 9s: every pair tied
        assert s[name]["scoring"]["sampled"]["accuracy"] == 0.5  # accepts all
    assert s["committee"]["auroc"] == 1.0 and s["committee"]["accuracy"] == 1.0
    assert report.new_calls == 3 * 2 * 4  # no conflict either way: no adjudication
    rules = s["committee"]["check_rules"]
    assert set(rules) == {"any_fail", "majority", "mean_probability"}
    assert rules["mean_probability"] == {"pass_rate_sound": 1.0, "fail_rate_defective": 0.0}
    assert "AUROC expected" in markdown(report) and "AUROC sampled" in markdown(report)
    row = report.per_pair[0]["results"]["committee"]
    assert row["score"] == 9.5 and row["score_sampled"] == 9.0


async def test_a_sampled_graph_reports_no_probability_rule(tmp_path: Path):
    config = committee_config()
    report = await run_bench(config, pairs(), tmp_path / "c.sqlite", members=fake_members(config))
    committee = by_name(report)["committee"]
    assert list(committee["scoring"]) == ["sampled"]
    assert committee["check_rules"]["mean_probability"] is None
    assert committee["check_rules"]["any_fail"]["pass_rate_sound"] == 1.0


async def test_the_cache_never_serves_one_reading_for_another(tmp_path: Path):
    cache = tmp_path / "c.sqlite"
    n = len(LABELS)
    plain = committee_config()
    first = await run_bench(plain, pairs(), cache, members=knowing_members(plain))
    assert first.new_calls == 3 * 2 * n
    expected = committee_config(judging={"scoring": "expected"})
    second = await run_bench(expected, pairs(), cache, members=knowing_members(expected))
    assert second.new_calls == 3 * 2 * n  # checks now read P(pass), scores their distributions
    shuffled = committee_config(judging={"scoring": "expected", "score_order": "shuffled"})
    third = await run_bench(shuffled, pairs(), cache, members=knowing_members(shuffled))
    assert third.new_calls == 3 * n and third.cached_calls == 3 * n  # the checks are the same
    majority = committee_config(
        judging={"scoring": "expected", "score_order": "shuffled", "check_rule": "majority"}
    )
    fourth = await run_bench(majority, pairs(), cache, members=knowing_members(majority))
    assert fourth.new_calls == 0  # a rule decides; it asks nothing


@pytest.mark.parametrize(("order", "monotone"), [("fixed", 1.0), ("shuffled", None)])
async def test_position_bias_of_reviewers_who_score_down_the_list(
    tmp_path: Path, order: str, monotone: float | None
):
    """Each dimension gets its own score (9 for the first of the graph's order, down to 4):
    asked in the graph's order, that is a strictly falling run every time."""
    written = {d: 9 - i for i, d in enumerate(SCORE_DIMENSIONS)}
    reply = json.dumps({**written, "strengths": "s", "weaknesses": "w"})
    config = committee_config(judging={"score_order": order})
    members = fake_members(config, {r: {"ScoreOutput": reply} for r in REVIEWERS})
    report = await run_bench(config, pairs(), tmp_path / "c.sqlite", members=members)
    bias = by_name(report)["committee"]["position_bias"]
    assert bias["reviews"] == 3 * len(LABELS)
    if monotone is not None:
        assert bias["monotone_share"] == monotone
        assert bias["mean_by_position"] == [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]
    else:
        assert bias["monotone_share"] < 0.5  # the same scores, asked in shuffled orders


def test_cli_overrides_reach_the_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from gra_graph.bench import bench as bench_module

    seen: dict[str, Any] = {}

    async def fake_run_bench(config: Any, *args: Any, **kwargs: Any) -> Any:
        seen["judging"] = config.judging
        raise SystemExit(0)

    monkeypatch.setattr(bench_module, "run_bench", fake_run_bench)
    pairs_file = tmp_path / "p.jsonl"
    pairs_file.write_text(
        json.dumps(
            {"instruction": "i", "response": "r", "domain": "qa", "label": "sound", "defect": None}
        )
        + "\n"
    )
    args = ["bench-review", str(ROOT / "graphs" / "gra.yaml"), "--pairs", str(pairs_file)]
    with pytest.raises(SystemExit):
        main(
            [
                *args,
                "--scoring",
                "expected",
                "--score-order",
                "shuffled",
                "--check-rule",
                "majority",
            ]
        )
    assert seen["judging"].scoring == "expected"
    assert seen["judging"].score_order == "shuffled"
    assert seen["judging"].check_rule == "majority"
