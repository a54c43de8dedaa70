"""``judging:`` in a graph file (docs/method.md, section 9f), on scripted members.

Expected scores and P(pass) from members that report distributions, the recorded fallback for
members that cannot, the dimension orders (fixed, shuffled, one per call) as the member sees
them in its prompt and its grammar, the check rules, and the settings' effect on fingerprints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from gra_graph.config import GraphConfig, GraphConfigError, Judging, Thresholds
from gra_graph.context import GraContext
from gra_graph.decision import check_failures, instruction_check_outcome
from gra_graph.graph import build_graph
from gra_graph.nodes.common import feedback_lines
from gra_graph.nodes.judging import expected_score
from gra_graph.prompts import PromptError, load_prompts
from gra_graph.records import build_record
from gra_graph.score_order import dimension_orders, order_problems, reorder_prompt, text_keys_first
from gra_graph.stages import Stage
from gra_graph.state import SCORE_DIMENSIONS, InstructionCheck, Review
from tests.support.fakes import committee_config, fake_members, scores, verdicts
from tests.support.helpers import ROOT

INITIAL = {
    "run_id": "t",
    "seed_index": 0,
    "sample_index": 0,
    "seed": {},
    "domain": "coding",
    "pool": [{"keywords": ["a", "b", "c"], "summary": "a and b"}],
}

# every dimension: half the mass on 8, half on 10 (the written score is 9: the default reply)
EIGHT_OR_TEN = {
    d: {**{str(v): 0.0 for v in range(11)}, "8": 0.5, "10": 0.5} for d in SCORE_DIMENSIONS
}
CHECK_PROBABLY_PASS = {
    c: {'"pass"': 0.9, '"fail"': 0.1} for c in ("rationality", "completeness", "clarity")
}


def judging_config(**judging: Any) -> GraphConfig:
    return committee_config(judging=judging)


async def run(config: GraphConfig, members: Any):
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = GraContext.create(config, members, run_seed=1)
    thread = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke(INITIAL, thread, context=ctx)
    return build_record((await graph.aget_state(thread)).values, "t", members)


def reviewers_scripted(dists: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r: dists for r in ("r1", "r2", "r3", "adj")}


async def test_expected_scores_are_means_of_the_members_distributions():
    config = judging_config(scoring="expected")
    dists = {"ScoreOutput": EIGHT_OR_TEN, "InstructionCheckOutput": CHECK_PROBABLY_PASS}
    members = fake_members(config, probing=True, distributions=reviewers_scripted(dists))
    record = await run(config, members)
    for review in record.reviews:
        assert review.scoring == "expected"
        assert review.scores == dict.fromkeys(SCORE_DIMENSIONS, 9.0)
        assert review.sampled_scores == dict.fromkeys(SCORE_DIMENSIONS, 9)
        assert review.distributions["clarity"]["10"] == 0.5
        assert review.note is None
    for check in record.checks:
        assert check.pass_probability == dict.fromkeys(check.criteria, 0.9)
    assert record.status == "accepted"
    # every reviewer call carried the probes
    asked = members["r1"].chat_model.schemas
    assert asked and all("title" in s for s in asked)


async def test_expected_scores_change_the_decision_where_the_written_ones_would_not():
    """Written 9 everywhere (sampled: accept), but the mass says 7 or 8 (expected: reject)."""
    low = {d: {**{str(v): 0.0 for v in range(11)}, "7": 0.5, "8": 0.5} for d in SCORE_DIMENSIONS}
    dists = reviewers_scripted({"ScoreOutput": low})
    sampled = await run(judging_config(), fake_members(judging_config(), probing=True))
    expected_config = judging_config(scoring="expected")
    expected = await run(
        expected_config, fake_members(expected_config, probing=True, distributions=dists)
    )
    assert sampled.status == "accepted"
    assert expected.status == "rejected" and expected.verdicts[-1].mu == 7.5


async def test_members_without_distributions_fall_back_to_sampled_and_say_so():
    config = judging_config(scoring="expected")
    record = await run(config, fake_members(config))  # scripted members that cannot read logits
    for review in record.reviews:
        assert review.scoring == "sampled"
        assert review.scores == dict.fromkeys(SCORE_DIMENSIONS, 9)
        assert "reports no value probabilities" in (review.note or "")
    for check in record.checks:
        assert check.pass_probability == {} and "no value probabilities" in (check.note or "")
    assert record.status == "accepted"  # nothing invented, nothing lost


async def test_paper_settings_ask_for_no_probabilities_and_record_none():
    config = committee_config()
    members = fake_members(config, probing=True)
    record = await run(config, members)
    assert all(r.scoring == "sampled" and not r.distributions for r in record.reviews)
    assert all(not c.pass_probability and c.note is None for c in record.checks)
    assert all(not r.dimension_order for r in record.reviews)


async def test_shuffled_order_reaches_the_prompt_and_the_grammar_and_is_recorded():
    config = judging_config(score_order="shuffled")
    members = fake_members(config)
    record = await run(config, members)
    orders = set()
    for review in record.reviews:
        order = review.dimension_order
        assert sorted(order) == sorted(SCORE_DIMENSIONS)
        orders.add(tuple(order))
        model = members[review.reviewer].chat_model
        (prompt,) = [p for t, p in model.prompts if t == "ScoreOutput"]
        (schema,) = [s for s in model.schemas if s["title"] == "ScoreOutput"]
        assert list(schema["properties"])[:6] == order  # the JSON key order the grammar enforces
        keys = ", ".join(f'"{d}"' for d in order)
        assert f"keys {keys}, " in prompt
        rubric = [line.split(":")[0][2:] for line in prompt.splitlines() if line.startswith("- ")]
        assert rubric == order
        assert list(review.scores) == list(SCORE_DIMENSIONS)  # recorded in the graph's order
    assert len(orders) > 1  # three reviewers, three seeded draws (720 orders to draw from)
    again = await run(config, fake_members(config))
    assert [r.dimension_order for r in again.reviews] == [r.dimension_order for r in record.reviews]


async def test_one_dimension_per_call():
    config = judging_config(score_order="one_per_call", scoring="expected")
    members = fake_members(config, probing=True)
    record = await run(config, members)
    for review in record.reviews:
        calls = [
            c for c in record.calls if c.stage == "score_response" and c.member == review.reviewer
        ]
        assert len(calls) == len(SCORE_DIMENSIONS)
        assert review.scores == dict.fromkeys(SCORE_DIMENSIONS, 9.0)
        assert review.strengths == "clear"
        schemas = [
            s for s in members[review.reviewer].chat_model.schemas if s["title"] == "ScoreOutput"
        ]
        assert sorted(next(iter(s["properties"])) for s in schemas) == sorted(SCORE_DIMENSIONS)
    assert record.status == "accepted"


async def test_a_failed_call_of_one_per_call_makes_the_reviewer_abstain():
    config = judging_config(score_order="one_per_call")

    def broken_clarity(_title: str, prompt: str) -> str:
        return "not json" if '"clarity"' in prompt else scores(9)

    replies = {"r1": {"ScoreOutput": broken_clarity}}
    record = await run(config, fake_members(config, replies))
    (r1,) = [r for r in record.reviews if r.reviewer == "r1"]
    assert r1.abstained and "invalid JSON" in (r1.error or "")


async def test_mean_probability_rule_rejects_a_doubtful_instruction():
    doubt = {c: {'"pass"': 0.3, '"fail"': 0.7} for c in ("rationality", "completeness", "clarity")}
    dists = {r: {"InstructionCheckOutput": doubt} for r in ("r1", "r2", "r3")}
    config = judging_config(check_rule="mean_probability")
    record = await run(config, fake_members(config, probing=True, distributions=dists))
    assert record.status == "rejected"
    assert "mean P(pass) 0.30 < 0.5" in record.reason
    assert record.reviews == []  # rejected at the check, before any score
    lenient = judging_config(check_rule="mean_probability", check_threshold=0.25)
    kept = await run(lenient, fake_members(lenient, probing=True, distributions=dists))
    assert kept.status == "accepted"


# ---- check rules as pure functions ---------------------------------------------------------


def check(name: str, p: dict[str, float] | None = None, **failed: bool) -> InstructionCheck:
    criteria = {"rationality": True, "completeness": True, "clarity": True}
    criteria.update({k: not v for k, v in failed.items()})
    return InstructionCheck(
        reviewer=name, model_file="m", criteria=criteria, pass_probability=p or {}
    )


def test_any_fail_majority_and_mean_probability():
    one_fails = [check("a", clarity=True), check("b"), check("c")]
    two_fail = [check("a", clarity=True), check("b", clarity=True), check("c")]
    split = [check("a", clarity=True), check("b", rationality=True), check("c")]
    assert check_failures(one_fails, "any_fail") == ["a failed clarity"]
    assert check_failures(one_fails, "majority") == []
    assert check_failures(two_fail, "majority") == ["clarity failed by 2 of 3 reviewers"]
    assert check_failures(split, "majority") == []  # no criterion has a majority against it
    # mean_probability: written verdicts count 1/0 where no probability was read
    assert check_failures(one_fails, "mean_probability") == []  # clarity: 2/3 >= 0.5
    assert check_failures(two_fail, "mean_probability") == ["clarity: mean P(pass) 0.33 < 0.5"]
    read = [
        check("a", {"clarity": 0.45}),
        check("b", {"clarity": 0.5}),
        check("c", {"clarity": 0.5}),
    ]
    assert check_failures(read, "mean_probability", 0.5) == ["clarity: mean P(pass) 0.48 < 0.5"]
    assert check_failures(read, "mean_probability", 0.4) == []


def test_abstentions_take_no_part_in_any_rule():
    abstained = InstructionCheck(reviewer="x", model_file="m", abstained=True)
    checks = [check("a", clarity=True), check("b", clarity=True), abstained]
    assert check_failures(checks, "majority") == ["clarity failed by 2 of 2 reviewers"]
    assert instruction_check_outcome([check("a"), abstained], Thresholds()) is not None  # 1 < 2
    rejected = instruction_check_outcome(checks, Thresholds(), Judging(check_rule="majority"))
    assert rejected is not None and "clarity failed by 2 of 2" in rejected.reason


def test_the_paper_rule_is_the_default():
    checks = [check("a", clarity=True), check("b"), check("c")]
    assert instruction_check_outcome(checks, Thresholds()) is not None
    assert instruction_check_outcome(checks, Thresholds(), Judging(check_rule="majority")) is None


# ---- the order of dimensions ---------------------------------------------------------------


def test_orders_are_seeded_by_the_call():
    one = dimension_orders("shuffled", SCORE_DIMENSIONS, 7, "r1", 0, 0, 0)
    assert one == dimension_orders("shuffled", SCORE_DIMENSIONS, 7, "r1", 0, 0, 0)
    draws = {dimension_orders("shuffled", SCORE_DIMENSIONS, 7, "r1", i, 0, 0)[0] for i in range(20)}
    assert len(draws) > 10
    positions = [
        dimension_orders("shuffled", SCORE_DIMENSIONS, 7, "r", i, 0, 0)[0].index("ethicality")
        for i in range(600)
    ]
    assert {positions.count(k) for k in range(6)} <= set(range(70, 131))  # about 100 each


def test_the_shipped_prompts_can_be_reordered_and_a_custom_one_is_checked(tmp_path: Path):
    for name in ("score_response.txt", "adjudicate.txt"):
        assert order_problems((ROOT / "prompts" / name).read_text(), SCORE_DIMENSIONS) == []
    text = "Score correctness and clarity.\nReply in JSON."  # no key list to reorder
    assert order_problems(text, ("correctness", "clarity"))
    scattered = '- a: x\nother\n- b: y\nKeys "a", "b".'
    assert "one block" in order_problems(scattered, ("a", "b"))[0]
    assert reorder_prompt('Keys "a", "b".', ("a", "b"), ("a", "b")) == 'Keys "a", "b".'


def test_a_prompt_that_cannot_be_reordered_is_refused_at_load(tmp_path: Path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for src in (ROOT / "prompts").iterdir():
        (prompts / src.name).write_text(src.read_text())
    score = prompts / "score_response.txt"
    score.write_text(
        score.read_text().replace('"correctness", "clarity"', '"clarity", "correctness"')
    )
    base = tmp_path / "graphs"
    base.mkdir()
    fixed = committee_config(base_dir=base)
    load_prompts(fixed)  # the fixed order never rewrites a prompt
    shuffled = committee_config(base_dir=base, judging={"score_order": "shuffled"})
    with pytest.raises(PromptError, match=r"score_response.*cannot be asked"):
        load_prompts(shuffled)


# ---- the graph file ------------------------------------------------------------------------


def test_default_judging_keeps_old_fingerprints_and_a_changed_one_changes_it():
    paper = committee_config()
    assert paper.fingerprint() == committee_config(judging={}).fingerprint()
    assert paper.fingerprint() == committee_config(judging=Judging().model_dump()).fingerprint()
    assert paper.fingerprint() != committee_config(judging={"scoring": "expected"}).fingerprint()


@pytest.mark.parametrize(
    ("judging", "field"),
    [
        ({"scoring": "logits"}, "judging.scoring"),
        ({"score_order": "random"}, "judging.score_order"),
        ({"check_rule": "all_fail"}, "judging.check_rule"),
        ({"check_threshold": 1.0}, "judging.check_threshold"),
        ({"threshold": 0.5}, "judging.threshold"),
    ],
)
def test_bad_judging_settings_name_their_field(tmp_path: Path, judging: dict, field: str):
    graph = tmp_path / "g.yaml"
    graph.write_text(
        json.dumps(
            {"members": [{"name": f"m{i}", "model": "m"} for i in range(5)], "judging": judging}
        )
    )
    with pytest.raises(GraphConfigError, match=field.replace(".", r"\.")):
        GraphConfig.from_file(graph)


def test_shipped_graphs_judge_as_documented():
    paper = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")
    assert paper.judging == Judging()  # the paper's: sampled, fixed, any_fail
    qwen = GraphConfig.from_file(ROOT / "graphs" / "gra_qwen05_review.yaml")
    assert qwen.judging.scoring == "expected"
    assert len(qwen.members) == 5 and {m.model for m in qwen.members} == {"qwen2.5-coder-0.5b"}
    load_prompts(qwen)


def test_drawings_label_the_check_edges_by_the_rule():
    from langgraph.graph import END

    from gra_graph.drawing import edge_rules

    def fail_label(**judging: Any) -> str:
        return edge_rules(committee_config(judging=judging))["gather_checks", END].clauses[0]

    assert fail_label() == "any reviewer fails a check"
    assert fail_label(check_rule="majority") == "a majority fails a criterion"
    assert fail_label(check_rule="mean_probability", check_threshold=0.4) == (
        "mean P(pass) < 0.4 on a criterion"
    )


async def test_dimensions_without_a_reading_keep_their_written_score_and_are_named():
    config = judging_config(scoring="expected")
    only_correctness = {"ScoreOutput": {"correctness": EIGHT_OR_TEN["correctness"]}}
    members = fake_members(config, probing=True, distributions=reviewers_scripted(only_correctness))
    record = await run(config, members)
    review = record.reviews[0]
    assert review.scoring == "expected"
    assert review.scores["correctness"] == 9.0 and review.scores["clarity"] == 9
    assert list(review.distributions) == ["correctness"]
    assert review.note is not None and "clarity" in review.note and "correctness" not in review.note


@pytest.mark.parametrize(("setting", "expected"), [({}, 1.0), ({"repeat_penalty": None}, None)])
async def test_verdicts_are_sampled_without_the_members_repeat_penalty(setting, expected):
    # a repeat penalty counts a written "pass" (or 9) against the next one: judge calls take
    # judging.repeat_penalty (default 1.0, none); the Generator's stages keep the member's
    config = judging_config(**setting)
    members = fake_members(config)
    record = await run(config, members)
    assert record.status == "accepted"
    calls = [c for name in members for c in members[name].chat_model.penalties]
    judged = {"InstructionCheckOutput", "ScoreOutput"}
    assert {title for title, _ in calls} >= judged | {"KeywordTriple", "text"}
    assert {p for title, p in calls if title in judged} == {expected}
    assert {p for title, p in calls if title not in judged} == {None}


def test_the_llama_cpp_member_takes_the_call_s_repeat_penalty():
    from langchain_core.messages import HumanMessage

    from gra_graph.llm.chat_model import LlamaCppChatModel

    model = LlamaCppChatModel.model_construct(member="m", engine=None, repeat_penalty=1.1)
    default = model._request([HumanMessage("hi")], None, {})
    assert default.repeat_penalty == 1.1
    assert model._request([HumanMessage("hi")], None, {"repeat_penalty": 1.0}).repeat_penalty == 1.0


async def test_a_critique_first_prompt_asks_for_the_critique_before_the_scores():
    prompts = {s.value: f"../prompts/{s.value}.txt" for s in Stage}
    prompts["score_response"] = "../prompts/score_response_critique_first.txt"
    config = committee_config(
        prompts=prompts, judging={"score_order": "shuffled", "scoring": "expected"}
    )
    members = fake_members(
        config, probing=True, distributions=reviewers_scripted({"ScoreOutput": EIGHT_OR_TEN})
    )
    record = await run(config, members)
    assert record.reviews
    for review in record.reviews:
        model = members[review.reviewer].chat_model
        (schema,) = [s for s in model.schemas if s["title"] == "ScoreOutput"]
        keys = list(schema["properties"])
        assert keys[:2] == ["weaknesses", "strengths"]  # in the prompt's order, before scores
        assert keys[2:] == review.dimension_order  # the shuffled order still holds after them
        assert schema["required"] == keys
        assert review.scoring == "expected"
        assert review.scores == dict.fromkeys(SCORE_DIMENSIONS, 9.0)


async def test_the_shipped_score_prompt_asks_for_the_scores_first():
    config = judging_config()
    members = fake_members(config)
    record = await run(config, members)
    for review in record.reviews:
        model = members[review.reviewer].chat_model
        (schema,) = [s for s in model.schemas if s["title"] == "ScoreOutput"]
        assert list(schema["properties"])[-2:] == ["strengths", "weaknesses"]


@pytest.mark.parametrize(
    ("prompt", "first"),
    [("check_instruction_reason_first.txt", "reason"), ("check_instruction.txt", "rationality")],
)
async def test_a_reason_first_check_prompt_asks_for_the_reason_before_the_verdicts(
    prompt: str, first: str
):
    prompts = {s.value: f"../prompts/{s.value}.txt" for s in Stage}
    prompts["check_instruction"] = f"../prompts/{prompt}"
    config = committee_config(prompts=prompts, judging={"check_rule": "mean_probability"})
    members = fake_members(
        config,
        probing=True,
        distributions=reviewers_scripted({"InstructionCheckOutput": CHECK_PROBABLY_PASS}),
    )
    record = await run(config, members)
    assert record.status == "accepted" and record.checks
    for check in record.checks:
        model = members[check.reviewer].chat_model
        (schema,) = [s for s in model.schemas if s["title"] == "InstructionCheckOutput"]
        assert next(iter(schema["properties"])) == first
        # the verdicts are still read as probabilities wherever the reason stands
        assert check.pass_probability == dict.fromkeys(
            ("rationality", "completeness", "clarity"), 0.9
        )
    if first == "reason":
        assert "reason" in schema["required"]


# ---- the pass/fail scale (judging.score_scale) -------------------------------------------------


def verdict_config(**judging: Any) -> GraphConfig:
    prompts = {s.value: f"../prompts/{s.value}.txt" for s in Stage}
    prompts["score_response"] = "../prompts/score_response_verdicts.txt"
    return committee_config(prompts=prompts, judging={"score_scale": "pass_fail", **judging})


def pass_with(p: float) -> dict[str, dict[str, float]]:
    return {d: {'"pass"': p, '"fail"': round(1 - p, 6)} for d in SCORE_DIMENSIONS}


async def test_verdict_reviews_say_what_is_wrong_first_and_score_ten_times_p_pass():
    config = verdict_config(scoring="expected", score_order="shuffled")
    members = fake_members(
        config, probing=True, distributions=reviewers_scripted({"VerdictOutput": pass_with(0.85)})
    )
    record = await run(config, members)
    assert record.reviews and record.status == "accepted"  # mu 8.5 >= tau 8
    for review in record.reviews:
        model = members[review.reviewer].chat_model
        (schema,) = [s for s in model.schemas if s["title"] == "VerdictOutput"]
        keys = list(schema["properties"])
        assert keys[0] == "reason" and "reason" in schema["required"]  # before any verdict
        assert keys[1:] == review.dimension_order  # the shuffled order still holds after it
        assert schema["properties"]["correctness"]["enum"] == ["pass", "fail"]
        assert review.scoring == "expected"
        assert review.scores == dict.fromkeys(SCORE_DIMENSIONS, 8.5)
        assert review.sampled_scores == dict.fromkeys(SCORE_DIMENSIONS, 10)
        assert review.distributions["clarity"] == {'"pass"': 0.85, '"fail"': 0.15}
        assert review.reason == "the answer does what the task asks"
        assert not review.strengths and not review.weaknesses
    assert record.verdicts[-1].mu == 8.5


async def test_a_doubtful_pass_is_a_low_score_and_a_written_fail_is_zero():
    doubtful = verdict_config(scoring="expected")
    members = fake_members(
        doubtful, probing=True, distributions=reviewers_scripted({"VerdictOutput": pass_with(0.6)})
    )
    record = await run(doubtful, members)  # every verdict written "pass", but P(pass) is 0.6
    assert record.status == "rejected" and record.verdicts[-1].mu == 6.0
    sampled = verdict_config()
    failing = {"VerdictOutput": verdicts("fail", "the result is wrong")}
    record = await run(sampled, fake_members(sampled, {r: failing for r in ("r1", "r2", "r3")}))
    assert record.status == "rejected"
    assert all(r.scores == dict.fromkeys(SCORE_DIMENSIONS, 0) for r in record.reviews)
    assert {r.reason for r in record.reviews} == {"the result is wrong"}


async def test_the_adjudicator_keeps_the_0_10_scale_and_reads_the_reasons():
    config = verdict_config()
    two_fails = json.dumps(
        {
            "reason": "the loop never ends",
            **dict.fromkeys(SCORE_DIMENSIONS, "pass"),
            "correctness": "fail",
            "completeness": "fail",
        }
    )
    # composites 10, 10 and 6.7: mu 8.9 >= tau 8 with sigma 1.9 > delta 1.5, a conflict
    members = fake_members(config, {"r3": {"VerdictOutput": two_fails}})
    record = await run(config, members)
    assert record.adjudication is not None and record.status == "accepted"
    assert record.adjudication.scores == dict.fromkeys(SCORE_DIMENSIONS, 9)
    asked = members[record.adjudication.adjudicator].chat_model.prompts
    (prompt,) = [text for title, text in asked if title == "AdjudicationOutput"]
    assert "- r3 (mean 6.7): the loop never ends" in prompt
    assert "VerdictOutput" not in {title for title, _ in asked}


def test_feedback_gives_a_verdict_review_s_reason_and_a_scored_one_s_critique():
    reviews = [
        Review(
            reviewer="r3",
            model_file="m",
            scores=dict.fromkeys(SCORE_DIMENSIONS, 0),
            reason="the loop never ends",
        ),
        Review(
            reviewer="r1",
            model_file="m",
            scores=dict.fromkeys(SCORE_DIMENSIONS, 9),
            strengths="clear",
            weaknesses="long",
        ),
    ]
    assert feedback_lines(reviews).splitlines() == [
        "- r3 (mean 0.0): the loop never ends",
        "- r1 (mean 9.0): strengths: clear; weaknesses: long",
    ]


def test_expected_score_reads_verdicts_and_scores():
    assert expected_score({'"pass"': 0.75, '"fail"': 0.25}) == 7.5
    assert expected_score({"8": 0.5, "10": 0.5}) == 9.0


def test_the_pass_fail_scale_changes_the_fingerprint_and_a_bad_one_names_its_field(
    tmp_path: Path,
):
    paper = committee_config()
    assert paper.fingerprint() == committee_config(judging={"score_scale": "0-10"}).fingerprint()
    assert (
        paper.fingerprint() != committee_config(judging={"score_scale": "pass_fail"}).fingerprint()
    )
    graph = tmp_path / "g.yaml"
    members = [{"name": f"m{i}", "model": "m"} for i in range(5)]
    graph.write_text(json.dumps({"members": members, "judging": {"score_scale": "1-5"}}))
    with pytest.raises(GraphConfigError, match=r"judging\.score_scale"):
        GraphConfig.from_file(graph)


def test_the_shipped_verdict_graph_loads_its_prompts():
    config = GraphConfig.from_file(ROOT / "graphs" / "gra_qwen_verdicts.yaml")
    assert config.judging.score_scale == "pass_fail" and config.judging.scoring == "expected"
    prompts = load_prompts(config)
    assert text_keys_first(prompts[Stage.SCORE_RESPONSE].text, SCORE_DIMENSIONS, ("reason",)) == (
        "reason",
    )


@pytest.mark.parametrize(
    ("scale", "prompt", "says"),
    [
        ("pass_fail", "score_response.txt", 'must ask for "pass" or "fail"'),
        ("0-10", "score_response_verdicts.txt", "set judging.score_scale: pass_fail"),
    ],
)
def test_a_score_prompt_for_another_scale_is_refused_at_load(scale: str, prompt: str, says: str):
    prompts = {s.value: f"../prompts/{s.value}.txt" for s in Stage}
    prompts["score_response"] = f"../prompts/{prompt}"
    config = committee_config(prompts=prompts, judging={"score_scale": scale})
    with pytest.raises(PromptError, match=r"judging\.score_scale") as caught:
        load_prompts(config)
    assert says in str(caught.value)
