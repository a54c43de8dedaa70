"""The verify node in the graph, with scripted members (no llama.cpp) and the real sandbox:
veto and vote, domains without a verifier unchanged, re-verification after a revision, the
graph-file section, provenance and the drawing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END

from gra_graph import drawing
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.nodes.verify import verifier_members
from gra_graph.records import build_record
from gra_graph.stages import Stage
from tests.support.fakes import committee_config, fake_members, is_instruction_prompt, scores
from tests.support.helpers import ROOT, shipped_graph_text

FIB_TESTS_RIGHT = json.dumps(
    {"tests": ["assert fib(0) == 0", "assert fib(1) == 1", "assert fib(10) == 55"]}
)
FIB_TESTS_WRONG = json.dumps(
    {"tests": ["assert fib(0) == 1", "assert fib(1) == 2", "assert fib(10) == 56"]}
)
REVIEWERS = ("r1", "r2", "r3", "adj")


def initial(domain: str) -> dict[str, Any]:
    return {
        "run_id": "t",
        "seed_index": 0,
        "sample_index": 0,
        "seed": {},
        "domain": domain,
        "pool": [{"keywords": ["a", "b", "c"], "summary": "a and b"}],
    }


def everyone(reply: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The same scripted replies for every member but the generator."""
    return {name: dict(reply) for name in REVIEWERS}


async def run(replies: dict[str, dict[str, Any]], domain: str = "coding", **overrides: Any):
    config = committee_config(**overrides)
    members = fake_members(config, replies)
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = GraContext.create(config, members, run_seed=1)
    thread = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke(initial(domain), thread, context=ctx)
    values = (await graph.aget_state(thread)).values
    return build_record(values, "t", members), members


def asked(members: Any, title: str) -> int:
    return sum(t == title for m in members.values() for t, _ in m.chat_model.prompts)


VETO = {"verifiers": {"enabled": True}}
VOTE = {"verifiers": {"enabled": True, "mode": "vote"}}


async def test_veto_rejects_code_that_fails_the_tests_before_review():
    record, _ = await run(everyone({"TestCases": FIB_TESTS_WRONG}), **VETO)
    assert record.status == "rejected"
    assert record.reason.startswith("coding verifier vetoes: 0 of 3 test(s) pass")
    assert record.checks == [] and record.reviews == []  # the committee never saw it
    (verification,) = record.verifications
    assert verification.outcome == "failed" and verification.vetoed
    assert verification.member != record.roles.generator
    assert verification.details["sandbox"]["outcome"] == "failed"
    assert [c.stage for c in record.calls][-1] == Stage.WRITE_TESTS.value
    assert drawing.edges_taken(record.model_dump())[-2:] == [
        ("write_response", "verify"),
        ("verify", END),
    ]


async def test_veto_lets_passing_code_through_to_review():
    record, _ = await run(everyone({"TestCases": FIB_TESTS_RIGHT}), **VETO)
    assert record.status == "accepted"
    (verification,) = record.verifications
    assert (verification.outcome, verification.score, verification.vetoed) == ("passed", 1.0, False)
    assert len(record.checks) == 3 and len(record.reviews) == 3
    assert ("verify", "check_instruction") in drawing.edges_taken(record.model_dump())


async def test_vote_counts_a_failed_verification_as_a_zero():
    record, _ = await run(everyone({"TestCases": FIB_TESTS_WRONG}), **VOTE)
    assert record.status == "rejected"
    assert not record.verifications[0].vetoed
    verdict = record.verdicts[-1]
    assert verdict.valid_reviews == 4 and verdict.mu == pytest.approx((9 * 3 + 0) / 4)


async def test_vote_counts_a_passed_verification_as_a_ten():
    record, _ = await run(everyone({"TestCases": FIB_TESTS_RIGHT}), **VOTE)
    assert record.status == "accepted"
    assert record.verdicts[-1].mu == pytest.approx((9 * 3 + 10) / 4)


async def test_a_test_writer_that_fails_leaves_the_sample_to_the_committee():
    record, _ = await run(everyone({"TestCases": "not json at all"}), **VETO)
    assert record.status == "accepted"
    (verification,) = record.verifications
    assert verification.outcome == "inconclusive" and verification.score is None
    assert record.verdicts[-1].valid_reviews == 3


@pytest.mark.parametrize("overrides", [{}, VETO], ids=["disabled", "qa-not-listed"])
async def test_domains_without_a_verifier_are_unchanged(overrides: dict[str, Any]):
    record, members = await run(everyone({"TestCases": FIB_TESTS_WRONG}), "qa", **overrides)
    assert record.status == "accepted"
    assert record.verifications == []
    assert asked(members, "TestCases") == asked(members, "Solution") == 0
    assert ("write_response", "check_instruction") in drawing.edges_taken(record.model_dump())


def _math_generator(title: str, prompt: str) -> str:
    if is_instruction_prompt(prompt):
        return "What is 17 x 23?"
    return "17 x 20 = 340 and 17 x 3 = 51, so 17 x 23 = 381."


@pytest.mark.parametrize(("answer", "status"), [("391", "rejected"), ("381", "accepted")])
async def test_math_verifier_compares_with_an_independent_answer(answer: str, status: str):
    replies = everyone({"Solution": json.dumps({"answer": answer})})
    replies["gen"] = {"text": _math_generator}
    record, members = await run(replies, "math", **VETO)
    assert record.status == status
    (verification,) = record.verifications
    assert verification.details["solver_answer"] == answer
    assert verification.details["response_answer"] == "381"
    assert asked(members, "Solution") == 3  # three solutions, from r1, r2 and r3
    assert verification.details["agreement"] == "3 of 3"


async def test_math_solutions_that_disagree_are_inconclusive():
    replies = {
        name: {"Solution": json.dumps({"answer": answer})}
        for name, answer in (("r1", "391"), ("r2", "17*23 + 1"), ("r3", "seventeen"))
    }
    replies["gen"] = {"text": _math_generator}
    record, _ = await run(replies, "math", **VETO)
    assert record.status == "accepted"  # the committee decides, as without a verifier
    (verification,) = record.verifications
    assert verification.outcome == "inconclusive"
    assert sorted(verification.details["solver_answers"]) == ["17*23 + 1", "391", "seventeen"]


async def test_a_revised_response_is_verified_again():
    """Round 0 passes the tests; the revision breaks the code, and the veto catches it."""
    low = {"ScoreOutput": scores(6), "TestCases": FIB_TESTS_RIGHT}
    record, _ = await run(everyone(low), revise={"max_rounds": 2, "score_floor": 5}, **VETO)
    assert [v.round for v in record.verifications] == [0, 1]
    assert [v.outcome for v in record.verifications] == ["passed", "failed"]
    assert record.status == "rejected" and record.reason.startswith("coding verifier vetoes")
    taken = drawing.edges_taken(record.model_dump())
    assert ("revise", "verify") in taken and taken[-1] == ("verify", END)


def test_verifiers_are_never_the_generator_and_can_be_fixed():
    config = committee_config(verifiers={"enabled": True})
    state = {"sample_index": 0, "roles": {"generator": "r1"}}
    drawn = [verifier_members(config, 0, {**state, "seed_index": i}, 3) for i in range(20)]
    assert all(sorted(d[:2]) == ["r2", "r3"] and d[2] == d[0] for d in drawn)
    assert len({tuple(d) for d in drawn}) == 2  # both orders occur
    fixed = committee_config(verifiers={"enabled": True, "member": "adj"})
    assert verifier_members(fixed, 0, {"seed_index": 0, "sample_index": 0}, 2) == ["adj", "adj"]


# ---- the graph-file section


def test_paper_graph_has_verifiers_off():
    config = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")
    assert config.verifiers.enabled is False
    assert config.verifiers.mode == "veto" and config.verifiers.domains == ("coding", "math")


def test_unknown_verifier_member_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match=r"verifiers\.member"):
        committee_config(verifiers={"member": "nobody"})
    graph = tmp_path / "g.yaml"
    graph.write_text(
        "members:\n"
        + "".join(f"  - {{name: m{i}, model: smollm2-135m}}\n" for i in range(5))
        + "verifiers: {enabled: true, mode: sometimes}\n"
    )
    with pytest.raises(GraphConfigError, match=r"verifiers\.mode"):
        GraphConfig.from_file(graph)


def test_disabled_verifiers_leave_the_run_fingerprint_alone(tmp_path: Path):
    """A graph file from before the verifiers (no section, no prompts for the new stages)
    loads, gets the shipped prompts, and keeps its fingerprint, so old runs still resume."""
    text = shipped_graph_text("gra.yaml")
    start = text.index("# Executable verifiers")
    old = text[:start] + text[text.index("members:", start) :]
    old = "".join(
        line + "\n"
        for line in old.splitlines()
        if not line.strip().startswith(("write_tests:", "solve:"))
    )
    (tmp_path / "old.yaml").write_text(old)
    (tmp_path / "now.yaml").write_text(text)
    before = GraphConfig.from_file(tmp_path / "old.yaml")
    now = GraphConfig.from_file(tmp_path / "now.yaml")
    assert "verifiers" not in old and "write_tests" not in old
    assert before.prompt_path(Stage.SOLVE) == now.prompt_path(Stage.SOLVE)
    assert before.fingerprint() == now.fingerprint()
    on = now.model_copy(update={"verifiers": now.verifiers.model_copy(update={"enabled": True})})
    assert on.fingerprint() != now.fingerprint()


def test_drawing_shows_the_verify_rules():
    vote = drawing.edge_rules(committee_config(verifiers={"enabled": True, "mode": "vote"}))
    assert vote[("write_response", "verify")].text == "domain in [coding, math]"
    assert vote[("verify", END)].text == "off (verifiers.mode: vote)"
    assert "one more vote" in vote[("verify", "check_instruction")].text
    assert vote[("write_response", "check_instruction")].text.startswith("domain not in")
    veto = drawing.edge_rules(committee_config(verifiers={"enabled": True, "domains": ["math"]}))
    assert veto[("verify", END)].text == "the verification fails (veto)"
    assert veto[("write_response", "verify")].text == "domain in [math]"
    assert veto[("revise", "verify")].off == "revise.max_rounds: 0"
