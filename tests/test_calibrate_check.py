"""Per-criterion instruction-check thresholds: the graph-file setting, the rule that reads it,
and ``gra calibrate-check``'s choice of thresholds, on scripted reviewers whose verdicts (no
logits: each counts as P(pass) 1 or 0) make the right thresholds computable by hand."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from langgraph.graph import END
from pydantic import ValidationError

from gra_graph.bench.calibrate import calibrate_checks, choose_thresholds, limit_sound, margin
from gra_graph.bench.pairs import BenchPair, Pair
from gra_graph.cli import main
from gra_graph.decision import check_failures
from gra_graph.drawing import edge_rules
from gra_graph.state import InstructionCheck
from tests.support.fakes import CHECK_PASS, committee_config, fake_members
from tests.support.helpers import ROOT

UNCLEAR = json.dumps(
    {"rationality": "pass", "completeness": "pass", "clarity": "fail", "reason": "vague"}
)
NONSENSE = json.dumps(
    {"rationality": "fail", "completeness": "pass", "clarity": "fail", "reason": "garbled"}
)
# tag -> (defect, {reviewer: check reply}); reviewers not named pass every criterion
SCRIPT = {
    "S1": (None, {}),
    "S2": (None, {}),
    "S3": (None, {"r3": UNCLEAR}),  # clarity 2/3
    "S4": (None, {"r2": UNCLEAR, "r3": UNCLEAR}),  # clarity 1/3
    "W1": ("wrong_answer", {}),  # a response defect: the instruction is sound
    "I1": ("incoherent_instruction", {"r1": NONSENSE, "r2": NONSENSE, "r3": UNCLEAR}),
}


def pairs() -> list[BenchPair]:
    return [
        BenchPair(
            i + 1,
            Pair(
                instruction=f"[{tag}] Explain item {tag}.",
                response=f"Item {tag} explained.",
                domain="qa",
                label="defective" if defect else "sound",
                defect=defect,
            ),
        )
        for i, (tag, (defect, _)) in enumerate(SCRIPT.items())
    ]


def scripted(config):
    def reply(name: str):
        def check(_title: str, prompt: str) -> str:
            found = re.search(r"\[(\w\d)\]", prompt)
            assert found, prompt
            return SCRIPT[found.group(1)][1].get(name, CHECK_PASS)

        return {"InstructionCheckOutput": check}

    return fake_members(config, {r: reply(r) for r in ("r1", "r2", "r3")})


async def test_thresholds_pass_the_target_share_of_sound_instructions(tmp_path: Path):
    config = committee_config(judging={"check_rule": "mean_probability"})
    result = await calibrate_checks(
        config, pairs(), tmp_path / "c.sqlite", target=0.8, members=scripted(config)
    )
    # five sound instructions (W1's defect is in its response); 4 of 5 must pass: clarity's
    # threshold drops to S3's 2/3 and S4 (1/3) fails
    assert (result.sound, result.defective) == (5, 1)
    assert result.thresholds == {"rationality": 0.99, "completeness": 0.99, "clarity": 0.66}
    assert result.sound_pass_rate == 0.8
    assert result.defective_fail_rate == 1.0
    assert result.by_criterion["clarity"]["sound_pass_rate"] == 0.8
    assert result.by_criterion["rationality"]["defective_fail_rate"] == 1.0
    assert result.unchanged_sound_pass_rate == 0.8  # at 0.5, S4 fails clarity too
    # smallest margins at 0.5: S4 -1/6, the incoherent I1 -1/2 (clarity 0): ranked below all
    assert result.unchanged_auroc == 1.0
    assert result.unchanged_auroc_ci == (1.0, 1.0)  # every draw ranks them the same
    assert result.new_calls == 18 and result.cached_calls == 0
    assert "check_thresholds: {rationality: 0.99, completeness: 0.99, clarity: 0.66}" in (
        result.yaml_snippet()
    )

    # every sound instruction must pass: the lowest clarity seen, S4's
    again = await calibrate_checks(
        config, pairs(), tmp_path / "c.sqlite", target=1.0, members=scripted(config)
    )
    assert again.thresholds["clarity"] == 0.33 and again.sound_pass_rate == 1.0
    assert again.new_calls == 0 and again.cached_calls == 18  # the calls came from the cache


async def test_a_graph_that_reads_no_probabilities_is_calibrated_under_mean_probability(
    tmp_path: Path,
):
    config = committee_config()  # any_fail: the calibration asks for P(pass) all the same
    result = await calibrate_checks(
        config, pairs(), tmp_path / "c.sqlite", members=scripted(config)
    )
    assert result.thresholds["clarity"] < 0.99


def test_choose_thresholds_reaches_the_target_on_any_data():
    # P(pass) below 0.01 fails at any threshold a graph file allows (0 < threshold < 1)
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 30)
        sound = [
            {c: rng.uniform(0.01, 1) for c in ("rationality", "completeness", "clarity")}
            for _ in range(n)
        ]
        target = rng.choice([0.5, 0.7, 0.9, 1.0])
        found = choose_thresholds(sound, target)
        passing = sum(all(m[c] >= found[c] for c in found) for m in sound)
        assert passing >= target * n - 1e-9
        assert all(0.01 <= t <= 0.99 for t in found.values())
    with pytest.raises(ValueError, match="no sound instruction"):
        choose_thresholds([], 0.9)


def test_per_criterion_thresholds_decide_each_criterion():
    checks = [
        InstructionCheck(
            reviewer="a",
            model_file="m",
            criteria={"rationality": True, "clarity": True},
            pass_probability={"rationality": 0.6, "clarity": 0.42},
        )
    ]
    assert check_failures(checks, "mean_probability", 0.5) == ["clarity: mean P(pass) 0.42 < 0.5"]
    per = {"rationality": 0.7, "clarity": 0.4}
    assert check_failures(checks, "mean_probability", per) == [
        "rationality: mean P(pass) 0.60 < 0.7"
    ]
    config = committee_config(
        judging={"check_rule": "mean_probability", "check_thresholds": {"clarity": 0.4}}
    )
    assert config.judging.criterion_thresholds == {
        "rationality": 0.5,
        "completeness": 0.5,
        "clarity": 0.4,
    }
    label = edge_rules(config)["gather_checks", END].clauses[0]
    assert label == "mean P(pass) below a threshold"


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [({"fluency": 0.5}, "unknown criteria"), ({"clarity": 1.0}, "strictly between 0 and 1")],
)
def test_bad_per_criterion_thresholds_are_refused(thresholds, message):
    with pytest.raises(ValidationError, match=message):
        committee_config(judging={"check_thresholds": thresholds})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skip", "500"], "no pairs left"),
        (["--target", "0"], "--target must be in"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--sound-limit", "0"], "--sound-limit must be at least 1"),
    ],
)
def test_calibrate_check_refuses_bad_options_before_loading_a_model(capsys, args, message):
    code = main(
        [
            "calibrate-check",
            str(ROOT / "graphs" / "gra.yaml"),
            "--pairs",
            str(ROOT / "evals" / "data" / "review_pairs.jsonl"),
            *args,
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_sound_limit_keeps_every_defective_instruction():
    kept = limit_sound(pairs(), 2)
    tags = [re.search(r"\[(\w\d)\]", p.pair.instruction).group(1) for p in kept]  # type: ignore[union-attr]
    assert tags == ["S1", "S2", "I1"]  # W1's instruction is sound, so it is the third sound one
    assert limit_sound(pairs(), None) == pairs()


def test_the_margin_is_the_smallest_distance_above_a_threshold():
    thresholds = {"rationality": 0.9, "clarity": 0.5}
    assert margin({"rationality": 0.95, "clarity": 0.4}, thresholds) == pytest.approx(-0.1)
    assert margin({"rationality": None, "clarity": 0.8}, thresholds) == pytest.approx(0.3)
    assert margin({"rationality": None, "clarity": None}, thresholds) is None
