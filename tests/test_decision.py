"""The committee decision rule as pure functions, at its exact boundaries."""

from __future__ import annotations

from typing import Any

import pytest

from gra_graph.config import GraphConfig, Thresholds
from gra_graph.decision import (
    adjudication_decision,
    committee_verdict,
    instruction_check_outcome,
    next_step,
)
from gra_graph.state import Adjudication, InstructionCheck, Review, Verdict

DEFAULT = Thresholds()  # tau 8, delta 1.5, min_valid_reviews 2


def review(name: str, *scores: int) -> Review:
    """A review whose composite is the mean of ``scores`` (any number of dimensions)."""
    return Review(
        reviewer=name, model_file="m.gguf", scores={f"d{i}": s for i, s in enumerate(scores)}
    )


def abstain(name: str, **kwargs: Any) -> Review:
    return Review(reviewer=name, model_file="m.gguf", abstained=True, error="bad json", **kwargs)


def check(name: str, abstained: bool = False, **criteria: bool) -> InstructionCheck:
    full = {"rationality": True, "completeness": True, "clarity": True, **criteria}
    return InstructionCheck(
        reviewer=name, model_file="m.gguf", abstained=abstained, criteria={} if abstained else full
    )


def config(**overrides: Any) -> GraphConfig:
    data: dict[str, Any] = {"members": [{"name": f"m{i}", "model": "m"} for i in range(5)]}
    data.update(overrides)
    return GraphConfig.model_validate(data)


def verdict(outcome: str, mu: float | None = 7.0, sigma: float | None = 0.5, **kw: Any) -> Verdict:
    fields: dict[str, Any] = {"valid_reviews": 3, "abstentions": 0, **kw}
    return Verdict(round=0, outcome=outcome, mu=mu, sigma=sigma, **fields)


# --- committee_verdict ----------------------------------------------------------------------


def test_accept_high_mean_low_spread():
    v = committee_verdict([review("a", 9), review("b", 9), review("c", 8)], DEFAULT, 0)
    assert v.outcome == "accept"
    assert v.mu == pytest.approx(8.6667, abs=1e-4)
    assert v.valid_reviews == 3
    assert v.abstentions == 0
    assert v.round == 0


def test_mu_exactly_tau_accepts():
    v = committee_verdict([review("a", 7), review("b", 9)], DEFAULT, 0)
    assert v.mu == 8.0
    assert v.sigma == 1.0
    assert v.outcome == "accept"


def test_mu_just_below_tau_rejects():
    # composites 7.99 and 8.0 -> mu 7.995
    just_under = review("a", *([8] * 99), 7)
    v = committee_verdict([just_under, review("b", 8)], DEFAULT, 3)
    assert v.mu is not None and v.mu < 8.0
    assert v.outcome == "reject"
    assert v.round == 3


def test_sigma_exactly_delta_accepts():
    # composites 7 and 10: mu 8.5, population sigma exactly 1.5
    v = committee_verdict([review("a", 7), review("b", 10)], DEFAULT, 0)
    assert v.mu == 8.5
    assert v.sigma == 1.5
    assert v.outcome == "accept"


def test_sigma_just_above_delta_is_conflict():
    # composites 6.99 and 10: mu 8.495, sigma 1.505
    v = committee_verdict([review("a", *([7] * 99), 6), review("b", 10)], DEFAULT, 0)
    assert v.mu is not None and v.mu >= 8.0
    assert v.sigma == pytest.approx(1.505)
    assert v.outcome == "conflict"


def test_sigma_is_population_standard_deviation():
    # [6, 10, 10]: mu 8.667, pstdev 1.886 (sample stdev would be 2.309)
    v = committee_verdict([review("a", 6), review("b", 10), review("c", 10)], DEFAULT, 0)
    assert v.sigma == pytest.approx(1.8856, abs=1e-4)
    assert v.outcome == "conflict"


def test_low_mean_rejects_even_with_high_spread():
    v = committee_verdict([review("a", 2), review("b", 9), review("c", 3)], DEFAULT, 0)
    assert v.outcome == "reject"


def test_abstentions_excluded_from_mu_and_sigma():
    reviews = [review("a", 9), review("b", 9), abstain("c")]
    v = committee_verdict(reviews, DEFAULT, 0)
    assert v.mu == 9.0  # an abstention scored 0 would give mu 6
    assert v.sigma == 0.0
    assert v.outcome == "accept"
    assert v.valid_reviews == 2
    assert v.abstentions == 1


def test_abstaining_review_with_scores_is_still_excluded():
    reviews = [review("a", 9), review("b", 9), abstain("c", scores={"correctness": 0})]
    v = committee_verdict(reviews, DEFAULT, 0)
    assert v.mu == 9.0
    assert v.abstentions == 1


def test_review_without_scores_counts_as_abstention():
    reviews = [review("a", 9), review("b", 9), Review(reviewer="c", model_file="m")]
    v = committee_verdict(reviews, DEFAULT, 0)
    assert v.valid_reviews == 2
    assert v.abstentions == 1


def test_too_few_valid_reviews_is_undecided():
    reviews = [review("a", 10), abstain("b"), abstain("c")]
    v = committee_verdict(reviews, DEFAULT, 1)
    assert v.outcome == "undecided"
    assert v.valid_reviews == 1
    assert v.abstentions == 2
    assert v.sigma is None
    assert v.mu == 10.0


def test_all_abstained_is_undecided_without_mu():
    v = committee_verdict([abstain("a"), abstain("b"), abstain("c")], DEFAULT, 0)
    assert v.outcome == "undecided"
    assert v.mu is None
    assert v.valid_reviews == 0
    assert v.abstentions == 3


def test_min_valid_reviews_is_configurable():
    reviews = [review("a", 9), review("b", 9), abstain("c")]
    strict = Thresholds(min_valid_reviews=3)
    assert committee_verdict(reviews, strict, 0).outcome == "undecided"
    lenient = Thresholds(min_valid_reviews=1)
    assert committee_verdict(reviews[:1], lenient, 0).outcome == "accept"


def test_custom_tau_and_delta():
    reviews = [review("a", 6), review("b", 7)]
    assert committee_verdict(reviews, Thresholds(tau=6.5, delta=0.5), 0).outcome == "accept"
    assert committee_verdict(reviews, Thresholds(tau=6.5, delta=0.4), 0).outcome == "conflict"
    assert committee_verdict(reviews, Thresholds(tau=6.6, delta=0.5), 0).outcome == "reject"


# --- instruction_check_outcome --------------------------------------------------------------


def test_all_pass_goes_on():
    assert instruction_check_outcome([check("a"), check("b"), check("c")], DEFAULT) is None


def test_any_fail_rejects_naming_reviewer_and_criteria():
    checks = [check("a"), check("bob", completeness=False, clarity=False), check("c")]
    decision = instruction_check_outcome(checks, DEFAULT)
    assert decision is not None
    assert decision.status == "rejected"
    assert "bob failed completeness, clarity" in decision.reason
    assert "a failed" not in decision.reason


def test_every_failing_reviewer_is_named():
    checks = [check("ann", rationality=False), check("bob", clarity=False), check("cy")]
    decision = instruction_check_outcome(checks, DEFAULT)
    assert decision is not None
    assert "ann failed rationality" in decision.reason
    assert "bob failed clarity" in decision.reason


def test_single_fail_rejects_even_with_other_abstentions():
    checks = [check("a", rationality=False), check("b", abstained=True), check("c", abstained=True)]
    decision = instruction_check_outcome(checks, DEFAULT)
    assert decision is not None
    assert decision.status == "rejected"
    assert "a failed rationality" in decision.reason


def test_abstentions_are_ignored():
    abstained_with_fail = InstructionCheck(
        reviewer="c", model_file="m", abstained=True, criteria={"clarity": False}
    )
    checks = [check("a"), check("b"), abstained_with_fail]
    assert instruction_check_outcome(checks, DEFAULT) is None


def test_too_few_valid_checks_is_undecidable():
    checks = [check("a"), check("b", abstained=True), check("c", abstained=True)]
    decision = instruction_check_outcome(checks, DEFAULT)
    assert decision is not None
    assert decision.status == "rejected"
    assert "undecidable" in decision.reason
    assert "1 usable of 3" in decision.reason


# --- next_step ------------------------------------------------------------------------------


def test_accept_goes_to_enrich():
    step, decision = next_step(verdict("accept", mu=9.0, sigma=0.5), 0, config())
    assert step == "enrich"
    assert decision is not None
    assert decision.status == "accepted"
    assert "committee accepts" in decision.reason


def test_conflict_goes_to_adjudicator():
    step, decision = next_step(verdict("conflict", mu=8.5, sigma=2.0), 0, config())
    assert step == "adjudicate"
    assert decision is None


def test_conflict_without_adjudication_rejects():
    step, decision = next_step(
        verdict("conflict", mu=8.5, sigma=2.0), 0, config(adjudication=False)
    )
    assert step == "end"
    assert decision is not None
    assert decision.status == "rejected"
    assert "adjudication is off" in decision.reason


@pytest.mark.parametrize("max_rounds", [0, 2])
def test_undecided_ends_rejected(max_rounds: int):
    v = verdict("undecided", mu=None, sigma=None, valid_reviews=1, abstentions=2)
    step, decision = next_step(v, 0, config(revise={"max_rounds": max_rounds}))
    assert step == "end"
    assert decision is not None
    assert decision.status == "rejected"
    assert "undecidable" in decision.reason
    assert "2 abstained" in decision.reason


def test_reject_with_revise_off_ends():
    step, decision = next_step(verdict("reject", mu=7.0), 0, config())
    assert step == "end"
    assert decision is not None
    assert decision.status == "rejected"
    assert "committee rejects" in decision.reason
    assert "revision" not in decision.reason
    assert "floor" not in decision.reason


def test_reject_above_floor_with_rounds_left_revises():
    cfg = config(revise={"max_rounds": 2, "score_floor": 5.0})
    assert next_step(verdict("reject", mu=7.0), 0, cfg) == ("revise", None)
    assert next_step(verdict("reject", mu=7.0), 1, cfg) == ("revise", None)


def test_reject_exactly_at_floor_revises():
    cfg = config(revise={"max_rounds": 2, "score_floor": 5.0})
    assert next_step(verdict("reject", mu=5.0), 0, cfg) == ("revise", None)


def test_reject_with_rounds_exhausted_ends():
    cfg = config(revise={"max_rounds": 2, "score_floor": 5.0})
    step, decision = next_step(verdict("reject", mu=7.0), 2, cfg)
    assert step == "end"
    assert decision is not None
    assert decision.status == "rejected"
    assert "after 2 revision round(s) (limit 2)" in decision.reason


def test_reject_below_floor_ends():
    cfg = config(revise={"max_rounds": 2, "score_floor": 5.0})
    step, decision = next_step(verdict("reject", mu=4.99), 0, cfg)
    assert step == "end"
    assert decision is not None
    assert decision.status == "rejected"
    assert "below the revise floor 5.0" in decision.reason


def test_accept_and_conflict_ignore_revise_settings():
    cfg = config(revise={"max_rounds": 2})
    assert next_step(verdict("accept", mu=9.0), 0, cfg)[0] == "enrich"
    assert next_step(verdict("conflict", mu=9.0, sigma=3.0), 0, cfg) == ("adjudicate", None)


# --- adjudication_decision ------------------------------------------------------------------


def adjudication(composite: float | None, abstained: bool = False) -> Adjudication:
    return Adjudication(
        adjudicator="judge",
        model_file="m.gguf",
        abstained=abstained,
        composite=composite,
        error="timeout" if abstained else None,
    )


def test_adjudicator_keeps_at_tau():
    decision = adjudication_decision(adjudication(8.0), 8.0)
    assert decision.status == "accepted"
    assert "keeps" in decision.reason


def test_adjudicator_drops_below_tau():
    decision = adjudication_decision(adjudication(7.99), 8.0)
    assert decision.status == "rejected"
    assert "drops" in decision.reason


def test_adjudicator_abstained():
    decision = adjudication_decision(adjudication(None, abstained=True), 8.0)
    assert decision.status == "rejected"
    assert "abstained" in decision.reason
    assert "timeout" in decision.reason


def test_abstained_adjudicator_with_high_composite_still_rejects():
    decision = adjudication_decision(adjudication(10.0, abstained=True), 8.0)
    assert decision.status == "rejected"
    assert "abstained" in decision.reason


def test_adjudication_without_composite_counts_as_abstained():
    decision = adjudication_decision(adjudication(None), 8.0)
    assert decision.status == "rejected"
    assert "abstained" in decision.reason
