"""The review settings the bench compares, as pure functions of judge results.

Each setting turns the checks and reviews of its reviewers into the decision a run would take,
with the rules of :mod:`gra_graph.decision` and the graph's thresholds:

- ``single``: one member alone checks and scores; it decides by the committee's rule with
  ``min_valid_reviews`` lowered to 1 (docs/method.md, section 10: a single reviewer needs it).
- ``committee``: the graph's ``committee_size`` reviewers, drawn per pair as a run draws them;
  any reviewer failing any criterion rejects; mu and sigma against tau and delta with the
  graph's ``min_valid_reviews``; a conflict is rejected (no adjudicator).
- ``committee+adjudicator``: the same, but a conflict goes to the drawn adjudicator, who keeps
  the pair iff its own composite reaches tau.
- ``committee+verifiers`` and ``committee+adjudicator+verifiers``, for a graph with executable
  verifiers (docs/verifiers.md): the committee setting the graph runs, with the verifier's
  verdict on pairs of a verified domain as the graph file says: under ``veto`` a failed
  verification rejects the pair before review and ranks it below every reviewed one (score 0);
  under ``vote`` a conclusive one is one more review in mu and sigma.

Revise cycles are left out: the bench judges the pair as it is written. Every setting also
gives each pair a score for ranking: the reviewers' mean composite mu, or the adjudicator's
composite where an adjudicator decided (as a run ranks accepted samples).

The instruction check fails by the graph's ``judging.check_rule``. A graph that scores
``expected`` keeps the integers its judges wrote too, so :func:`as_sampled` gives the same
calls read the paper's way, for a comparison without a second call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gra_graph.config import CheckRule, GraphConfig, Revise, Thresholds
from gra_graph.decision import (
    adjudication_decision,
    check_failures,
    committee_verdict,
    instruction_check_outcome,
    next_step,
)
from gra_graph.state import Adjudication, InstructionCheck, Review, Verification
from gra_graph.verify.checks import verifier_vote, veto_reason, vetoes

SettingKind = Literal[
    "single",
    "committee",
    "committee+adjudicator",
    "committee+verifiers",
    "committee+adjudicator+verifiers",
]


@dataclass(frozen=True)
class Outcome:
    """What one setting made of one pair.

    ``score`` is ``None`` when every reviewer abstained from scoring. ``check_failed`` means
    some usable check failed a criterion (an undecidable check is not a failure).
    ``undecided`` means the setting rejected for want of usable output, not on its merits.
    """

    accepted: bool
    score: float | None
    check_failed: bool
    undecided: bool
    adjudicated: bool
    reason: str

    @property
    def score_check_zero(self) -> float | None:
        """The score, with a failed instruction check counting as 0."""
        return 0.0 if self.check_failed else self.score


def single_thresholds(thresholds: Thresholds) -> Thresholds:
    """The graph's tau and delta with one usable review enough to decide."""
    return thresholds.model_copy(update={"min_valid_reviews": 1})


def needs_adjudication(
    checks: Sequence[InstructionCheck], reviews: Sequence[Review], config: GraphConfig
) -> bool:
    """Whether the committee's decision on a pair goes to the adjudicator: the checks pass and
    the reviews conflict (mu >= tau, sigma > delta)."""
    if instruction_check_outcome(checks, config.thresholds, config.judging) is not None:
        return False
    return committee_verdict(reviews, config.thresholds, 0).outcome == "conflict"


def decide(
    checks: Sequence[InstructionCheck],
    reviews: Sequence[Review],
    config: GraphConfig,
    *,
    kind: SettingKind,
    adjudication: Adjudication | None = None,
) -> Outcome:
    """A setting's decision on one pair, from its reviewers' checks and reviews.

    ``config`` is the graph's; ``kind`` picks the thresholds (``single`` lowers
    ``min_valid_reviews`` to 1) and whether a conflict is adjudicated. ``adjudication`` is the
    adjudicator's result, needed only when :func:`needs_adjudication` says so.
    """
    thresholds = single_thresholds(config.thresholds) if kind == "single" else config.thresholds
    rules = config.model_copy(
        update={
            "thresholds": thresholds,
            "adjudication": kind.startswith("committee+adjudicator"),
            "revise": Revise(max_rounds=0),
        }
    )
    verdict = committee_verdict(reviews, thresholds, 0)
    judging = config.judging
    check_failed = bool(check_failures(checks, judging.check_rule, judging.criterion_thresholds))
    rejected = instruction_check_outcome(checks, thresholds, judging)
    if rejected is not None:
        return Outcome(False, verdict.mu, check_failed, not check_failed, False, rejected.reason)
    step, decision = next_step(verdict, 0, rules)
    if step == "adjudicate":
        if adjudication is None:
            raise ValueError("the committee conflicts: an adjudication is needed to decide")
        decision = adjudication_decision(adjudication, thresholds.tau)
        score = adjudication.composite if adjudication.composite is not None else verdict.mu
        return Outcome(
            decision.status == "accepted",
            score,
            False,
            adjudication.abstained,
            True,
            decision.reason,
        )
    if decision is None:  # pragma: no cover - revise is off, so every other step decides
        raise AssertionError(f"no decision after step {step}")
    return Outcome(
        decision.status == "accepted",
        verdict.mu,
        False,
        verdict.outcome == "undecided",
        False,
        decision.reason,
    )


def verifier_kind(config: GraphConfig) -> SettingKind:
    """The setting that decides as a graph with verifiers does."""
    if config.model_adjudicates:
        return "committee+adjudicator+verifiers"
    return "committee+verifiers"


def with_vote(
    reviews: Sequence[Review], verification: Verification | None, config: GraphConfig
) -> list[Review]:
    """``reviews`` and, under ``verifiers.mode: vote``, the verification's conclusive vote."""
    if verification is None or config.verifiers.mode != "vote":
        return list(reviews)
    vote = verifier_vote(verification, config)
    return [*reviews, vote] if vote is not None else list(reviews)


def decide_verified(
    checks: Sequence[InstructionCheck],
    reviews: Sequence[Review],
    verification: Verification | None,
    config: GraphConfig,
    *,
    adjudication: Adjudication | None = None,
) -> Outcome:
    """The decision of the graph's committee setting with its verifier (``verification`` is
    ``None`` for a pair of a domain the graph does not verify)."""
    if verification is not None and vetoes(verification, config.verifiers):
        return Outcome(False, 0.0, False, False, False, veto_reason(verification))
    return decide(
        checks,
        with_vote(reviews, verification, config),
        config,
        kind=verifier_kind(config),
        adjudication=adjudication,
    )


ScoreView = Literal["graph", "sampled"]
"""How a setting's scores are read: as the graph reads them, or as the integers written."""


def as_sampled(review: Review) -> Review:
    """``review`` with the integers its reviewer wrote as its scores (itself when sampled)."""
    if review.scoring != "expected":
        return review
    return review.model_copy(update={"scores": dict(review.sampled_scores)})


def as_sampled_adjudication(adjudication: Adjudication) -> Adjudication:
    """``adjudication`` scored by the integers it wrote (itself when sampled)."""
    if adjudication.scoring != "expected" or not adjudication.sampled_scores:
        return adjudication
    scores = dict(adjudication.sampled_scores)
    composite = round(sum(scores.values()) / len(scores), 4)
    return adjudication.model_copy(update={"scores": scores, "composite": composite})


def check_passes(
    checks: Sequence[InstructionCheck], config: GraphConfig, rule: CheckRule
) -> bool | None:
    """Whether the checks pass under ``rule`` (the graph's threshold); ``None`` when they are
    undecidable (too few usable) or ``rule`` needs P(pass) that no check has."""
    usable = [c for c in checks if not c.abstained]
    if len(usable) < 1:
        return None
    if rule == "mean_probability" and not any(c.pass_probability for c in usable):
        return None
    return not check_failures(usable, rule, config.judging.criterion_thresholds)
