"""Every branch of the peer-review graph, forced with scripted members (no llama.cpp)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.records import build_record
from tests.support.fakes import (
    CHECK_FAIL,
    adjudication,
    committee_config,
    fake_members,
    scores,
)

INITIAL = {
    "run_id": "t",
    "seed_index": 0,
    "sample_index": 0,
    "seed": {},
    "domain": "coding",
    "pool": [
        {
            "keywords": ["recursion", "base case", "stack"],
            "summary": "recursion needs a base case {{not a placeholder}} {% raw %}",
        }
    ],
}


async def run_graph(replies: dict[str, dict[str, Any]], **config_overrides: Any):
    config = committee_config(**config_overrides)
    members = fake_members(config, replies)
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = GraContext.create(config, members, run_seed=1)
    thread = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke(INITIAL, thread, context=ctx)
    values = (await graph.aget_state(thread)).values
    return build_record(values, "t", members), members


async def test_accept_when_mean_high_and_spread_low():
    record, _ = await run_graph({})
    assert record.status == "accepted"
    assert record.reason.startswith("committee accepts")
    assert record.verdicts[-1].mu == 9.0 and record.verdicts[-1].sigma == 0.0
    assert record.summary == "a relates to b and c"  # enriched
    assert record.adjudication is None and record.revisions == []
    assert [r.reviewer for r in record.reviews] == record.roles.reviewers  # committee order
    assert sorted(record.roles.reviewers) == ["r1", "r2", "r3"]
    assert record.roles.generator == "gen" and record.roles.adjudicator == "adj"


async def test_instruction_check_failure_rejects_before_scoring():
    record, _ = await run_graph({"r2": {"InstructionCheckOutput": CHECK_FAIL}})
    assert record.status == "rejected"
    assert record.reason == "instruction check: r2 failed completeness"
    assert record.reviews == []  # never scored


async def test_mean_below_tau_rejects():
    low = {"ScoreOutput": scores(6)}
    record, _ = await run_graph({"r1": low, "r2": low, "r3": low})
    assert record.status == "rejected"
    assert record.reason.startswith("committee rejects: mu 6.0 < tau 8.0")
    assert record.adjudication is None


@pytest.mark.parametrize(("adj_score", "status"), [(9, "accepted"), (7, "rejected")])
async def test_conflict_goes_to_adjudicator(adj_score: int, status: str):
    # mu = (10 + 10 + 6) / 3 = 8.67 >= 8, sigma = 1.89 > 1.5: conflict
    replies = {
        "r1": {"ScoreOutput": scores(10)},
        "r2": {"ScoreOutput": scores(10)},
        "r3": {"ScoreOutput": scores(6, weakness="wrong base case")},
        "adj": {"AdjudicationOutput": adjudication(adj_score)},
    }
    record, members = await run_graph(replies)
    assert record.verdicts[-1].outcome == "conflict"
    assert record.adjudication is not None
    assert record.adjudication.composite == adj_score
    assert record.adjudication.keep is (status == "accepted")
    assert record.status == status
    # the adjudicator saw every reviewer's feedback
    adj_prompt = next(p for t, p in members["adj"].chat_model.prompts if t == "AdjudicationOutput")
    assert "wrong base case" in adj_prompt and "r1 (mean 10.0)" in adj_prompt


def _improving(first: int, later: int):
    calls = {"n": 0}

    def reply(title: str, prompt: str) -> str:
        calls["n"] += 1
        return scores(first if calls["n"] == 1 else later)

    return reply


async def test_revise_then_accept():
    replies = {r: {"ScoreOutput": _improving(6, 9)} for r in ("r1", "r2", "r3")}
    record, _ = await run_graph(replies, revise={"max_rounds": 2, "score_floor": 5})
    assert record.status == "accepted"
    assert record.rounds == 1
    assert [v.outcome for v in record.verdicts] == ["reject", "accept"]
    assert len(record.revisions) == 1
    rev = record.revisions[0]
    assert rev.prior_mu == 6.0 and rev.new_response == record.response
    assert rev.prior_response != rev.new_response
    assert rev.diff.startswith("--- round 0\n+++ round 1") and "+def fib(n, memo={})" in rev.diff
    assert {r.round for r in record.reviews} == {0, 1}


async def test_revise_rounds_exhausted():
    low = {"ScoreOutput": scores(6)}
    record, _ = await run_graph(
        {"r1": low, "r2": low, "r3": low}, revise={"max_rounds": 2, "score_floor": 5}
    )
    assert record.status == "rejected"
    assert record.rounds == 2 and len(record.revisions) == 2
    assert len(record.verdicts) == 3
    assert "after 2 revision round(s) (limit 2)" in record.reason


async def test_below_revise_floor_is_not_revised():
    low = {"ScoreOutput": scores(3)}
    record, _ = await run_graph(
        {"r1": low, "r2": low, "r3": low}, revise={"max_rounds": 2, "score_floor": 5}
    )
    assert record.status == "rejected" and record.revisions == []
    assert "below the revise floor" in record.reason


async def test_garbage_reviewer_abstains_and_is_excluded_from_the_mean():
    garbage = {"ScoreOutput": "the answer is good, I give it a ten"}
    replies = {"r1": garbage, "r2": {"ScoreOutput": scores(9)}, "r3": {"ScoreOutput": scores(8)}}
    record, _ = await run_graph(replies)
    r1 = next(r for r in record.reviews if r.reviewer == "r1")
    assert r1.abstained and r1.scores == {} and "invalid JSON" in r1.error
    verdict = record.verdicts[-1]
    assert verdict.abstentions == 1 and verdict.valid_reviews == 2
    assert verdict.mu == 8.5  # (9 + 8) / 2, not (0 + 9 + 8) / 3
    assert record.status == "accepted"
    # the unusable reply was retried once before abstaining
    call = next(c for c in record.calls if c.member == "r1" and c.stage == "score_response")
    assert call.attempts == 2 and not call.ok


async def test_out_of_range_score_abstains_rather_than_counting():
    bad = json.loads(scores(9))
    bad["correctness"] = 1958200132749825
    replies = {"r1": {"ScoreOutput": json.dumps(bad)}, "r2": {"ScoreOutput": "{}"}}
    record, _ = await run_graph(replies)
    assert record.status == "rejected"
    assert record.reason.startswith("undecidable: 1 usable reviews (2 abstained)")


async def test_no_adjudication_rejects_conflicts():
    replies = {
        "r1": {"ScoreOutput": scores(10)},
        "r2": {"ScoreOutput": scores(10)},
        "r3": {"ScoreOutput": scores(6)},
    }
    record, _ = await run_graph(replies, adjudication=False)
    assert record.status == "rejected" and "adjudication is off" in record.reason


async def test_generator_failure_is_a_rejection_with_reason():
    record, _ = await run_graph({"gen": {"KeywordTriple": "not json"}})
    assert record.status == "rejected"
    assert record.reason.startswith("generator gen failed to compose keywords")
    assert record.instruction is None


async def test_seed_text_reaches_the_prompt_literally():
    _, members = await run_graph({})
    compose = next(p for t, p in members["gen"].chat_model.prompts if t == "KeywordTriple")
    assert "{{not a placeholder}} {% raw %}" in compose


async def test_no_reviewer_ablation_keeps_the_draft_unreviewed():
    """committee_size 0 (the paper's no-reviewer ablation): no check, no score, kept."""
    record, _ = await run_graph(
        {}, committee_size=0, adjudication=False, thresholds={"min_valid_reviews": 1}
    )
    assert record.status == "accepted"
    assert record.reason.startswith("kept without review")
    assert record.roles.reviewers == [] and record.checks == [] and record.reviews == []
    assert record.summary == "a relates to b and c"  # still enriched for the next round
    stages = {c.stage for c in record.calls}
    assert not stages & {"check_instruction", "score_response", "adjudicate"}


def test_no_reviewer_graph_must_turn_adjudication_and_revise_off():
    with pytest.raises(ValueError, match="committee_size: 0"):
        committee_config(committee_size=0)  # adjudication on by default
    with pytest.raises(ValueError, match="committee_size: 0"):
        committee_config(committee_size=0, adjudication=False, revise={"max_rounds": 1})
