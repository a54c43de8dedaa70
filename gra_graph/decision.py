"""The committee decision rule (docs/method.md, section 5), as pure functions.

Abstaining reviewers are left out of both the mean and the spread; they are never scored 0.
The spread is the population standard deviation of the reviewers' composite scores (the paper
does not say which; with three reviewers the population form is the conservative choice that
never inflates disagreement).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Literal

from gra_graph.config import CheckRule, GraphConfig, Judging, Thresholds
from gra_graph.state import Adjudication, Decision, InstructionCheck, Review, Verdict


def committee_verdict(reviews: Sequence[Review], thresholds: Thresholds, round_: int) -> Verdict:
    """Decide one round from its reviews.

    - fewer than ``min_valid_reviews`` usable reviews: ``undecided``;
    - mu < tau: ``reject``;
    - mu >= tau and sigma <= delta: ``accept``;
    - mu >= tau and sigma > delta: ``conflict`` (goes to the Adjudicator).

    >>> from gra_graph.state import Review
    >>> r = [Review(reviewer=n, model_file="m", scores={"correctness": s}) for n, s in
    ...      [("a", 9), ("b", 9), ("c", 8)]]
    >>> committee_verdict(r, Thresholds(), 0).outcome
    'accept'
    """
    composites = [c for r in reviews if (c := r.composite) is not None]
    abstentions = len(reviews) - len(composites)
    if len(composites) < thresholds.min_valid_reviews:
        return Verdict(
            round=round_,
            outcome="undecided",
            mu=statistics.fmean(composites) if composites else None,
            sigma=None,
            valid_reviews=len(composites),
            abstentions=abstentions,
        )
    mu = statistics.fmean(composites)
    sigma = statistics.pstdev(composites)
    if mu < thresholds.tau:
        outcome = "reject"
    elif sigma <= thresholds.delta:
        outcome = "accept"
    else:
        outcome = "conflict"
    return Verdict(
        round=round_,
        outcome=outcome,
        mu=round(mu, 4),
        sigma=round(sigma, 4),
        valid_reviews=len(composites),
        abstentions=abstentions,
    )


def instruction_check_outcome(
    checks: Sequence[InstructionCheck], thresholds: Thresholds, judging: Judging | None = None
) -> Decision | None:
    """Step 3a: a rejection if the checks fail by ``judging.check_rule`` (by default the
    paper's: ANY reviewer failing ANY criterion), else ``None`` (go on).

    Abstaining reviewers neither pass nor fail; fewer than ``min_valid_reviews`` usable checks
    rejects the sample as undecidable.
    """
    judging = judging or Judging()
    failures = check_failures(checks, judging.check_rule, judging.criterion_thresholds)
    if failures:
        return Decision(status="rejected", reason="instruction check: " + "; ".join(failures))
    valid = sum(not c.abstained for c in checks)
    if valid < thresholds.min_valid_reviews:
        return Decision(
            status="rejected",
            reason=f"instruction check undecidable: {valid} usable of {len(checks)} "
            f"({len(checks) - valid} abstained), need {thresholds.min_valid_reviews}",
        )
    return None


NextStep = Literal["adjudicate", "human_adjudicate", "revise", "enrich", "end"]


UNREVIEWED = "kept without review: committee_size is 0 (the no-reviewer ablation)"
"""The reason every sample of a graph without reviewers is kept for."""


def next_step(
    verdict: Verdict, round_: int, config: GraphConfig
) -> tuple[NextStep, Decision | None]:
    """Where a sample goes after the committee's verdict, and the decision if that is final.

    Revise (project extension): a rejected sample whose mean is at least ``revise.score_floor``
    goes back to the Generator while ``round_ < revise.max_rounds``.
    """
    tau = config.thresholds.tau
    if config.committee_size == 0:
        return "enrich", Decision(status="accepted", reason=UNREVIEWED)
    if verdict.outcome == "accept":
        return "enrich", Decision(
            status="accepted",
            reason=f"committee accepts: mu {verdict.mu} >= tau {tau}, "
            f"sigma {verdict.sigma} <= delta {config.thresholds.delta}",
        )
    if verdict.outcome == "conflict":
        if config.adjudication == "human":
            return "human_adjudicate", None
        if config.adjudication:
            return "adjudicate", None
        return "end", Decision(
            status="rejected",
            reason=f"conflict (sigma {verdict.sigma} > delta "
            f"{config.thresholds.delta}) and adjudication is off",
        )
    if verdict.outcome == "undecided":
        return "end", Decision(
            status="rejected",
            reason=f"undecidable: {verdict.valid_reviews} usable reviews "
            f"({verdict.abstentions} abstained), need {config.thresholds.min_valid_reviews}",
        )
    mu = verdict.mu if verdict.mu is not None else 0.0
    revisable = mu >= config.revise.score_floor
    if revisable and round_ < config.revise.max_rounds:
        return "revise", None
    why = f"committee rejects: mu {verdict.mu} < tau {tau}"
    if config.revise.max_rounds and revisable:
        why += f" after {round_} revision round(s) (limit {config.revise.max_rounds})"
    elif config.revise.max_rounds:
        why += f"; below the revise floor {config.revise.score_floor}"
    return "end", Decision(status="rejected", reason=why)


def adjudication_decision(adjudication: Adjudication, tau: float) -> Decision:
    """Step 5: keep the sample only if the Adjudicator's composite is >= tau."""
    if adjudication.abstained or adjudication.composite is None:
        return Decision(status="rejected", reason=f"adjudicator abstained: {adjudication.error}")
    if adjudication.composite >= tau:
        return Decision(
            status="accepted",
            reason=f"adjudicator keeps: composite {adjudication.composite} >= tau {tau}",
        )
    return Decision(
        status="rejected",
        reason=f"adjudicator drops: composite {adjudication.composite} < tau {tau}",
    )


def escalate_to_human(adjudication: Adjudication, mu: float | None, tau: float) -> bool:
    """``adjudication: model_then_human``: whether a person decides after the Adjudicator.

    A person is asked when the Adjudicator abstained (no usable verdict), or when its verdict
    disagrees with the committee's mean: it drops a sample whose mean ``mu`` reaches ``tau``,
    or keeps one whose mean does not. A conflict always has ``mu >= tau``, so in practice the
    person sees every sample the model would drop, and the model's keeps are final.

    >>> from gra_graph.state import Adjudication as A
    >>> escalate_to_human(A(adjudicator="a", model_file="m", composite=6.0), 8.5, 8.0)
    True
    >>> escalate_to_human(A(adjudicator="a", model_file="m", composite=9.0), 8.5, 8.0)
    False
    """
    if adjudication.abstained or adjudication.composite is None:
        return True
    committee_keeps = mu is not None and mu >= tau
    return (adjudication.composite >= tau) != committee_keeps


# ---- check rules (docs/method.md, section 9f) ----


def check_failures(
    checks: Sequence[InstructionCheck],
    rule: CheckRule = "any_fail",
    threshold: float | Mapping[str, float] = 0.5,
) -> list[str]:
    """Why the usable ``checks`` fail the instruction under ``rule``; empty when they pass.

    - ``any_fail`` (the paper): any reviewer failing any criterion.
    - ``majority``: more than half of the usable reviewers failing the same criterion.
    - ``mean_probability``: the usable reviewers' mean P(pass) of a criterion below
      ``threshold`` (one for all criteria, or one per criterion: ``judging.check_thresholds``);
      a check without that probability counts its written verdict as 1 or 0.

    >>> from gra_graph.state import InstructionCheck as C
    >>> ok = {"rationality": True, "completeness": True, "clarity": True}
    >>> checks = [C(reviewer="a", model_file="m", criteria={**ok, "clarity": False}),
    ...           C(reviewer="b", model_file="m", criteria=ok)]
    >>> check_failures(checks, "any_fail")
    ['a failed clarity']
    >>> check_failures(checks, "majority")
    []
    """
    usable = [c for c in checks if not c.abstained]
    if rule == "any_fail":
        return [f"{c.reviewer} failed {', '.join(c.failed)}" for c in usable if c.failed]
    criteria = list(dict.fromkeys(k for c in usable for k in c.criteria))
    failures = []
    for criterion in criteria:
        votes = [c for c in usable if criterion in c.criteria]
        if rule == "majority":
            fails = sum(not c.criteria[criterion] for c in votes)
            if 2 * fails > len(votes):
                failures.append(f"{criterion} failed by {fails} of {len(votes)} reviewers")
        elif rule == "mean_probability":
            p = statistics.fmean(pass_probability(c, criterion) for c in votes)
            needed = threshold if isinstance(threshold, float | int) else threshold[criterion]
            if p < needed:
                failures.append(f"{criterion}: mean P(pass) {p:.2f} < {needed:g}")
        else:
            raise ValueError(f"unknown check rule {rule!r}")
    return failures


def pass_probability(check: InstructionCheck, criterion: str) -> float:
    """A check's P(pass) of ``criterion``: read from the logits, else its verdict as 1 or 0."""
    if criterion in check.pass_probability:
        return check.pass_probability[criterion]
    return 1.0 if check.criteria[criterion] else 0.0
