"""A setting's figures over the labelled pairs: AUROC, decision rates, abstentions, cost.

Sound pairs are the positives. AUROC ranks the setting's score (mu, or the adjudicator's
composite where one decided); a pair whose instruction check failed keeps its score in
``auroc`` and counts as 0 in ``auroc_check_zero``. ``auroc_ci`` is the 95% bootstrap interval
of ``auroc`` (:func:`~gra_graph.bench.metrics.auroc_interval`), and
:func:`compare_to_best_single` sets each committee against its best member on the same pairs.
Pairs every reviewer declined to score have no score and are left out of the AUROCs
(``scored`` says how many took part). Accuracy compares the accept/reject decision at the
graph's tau and delta with the label, an undecided pair counting as the rejection a run makes
of it. ``abstention`` is the share of the setting's calls whose output stayed unusable after
retries; ``calls`` and ``seconds`` add up those calls (seconds summed per call, so concurrent
calls count in full).

Three comparisons come from the same calls (docs/method.md, section 9f):

- ``scoring``: AUROC and accuracy with the scores as the graph reads them and, for a graph
  that reads them ``expected``, with the integers the judges wrote (``sampled``);
- ``check_rules``: under each check rule, the share of sound pairs whose instruction check
  passes and of defective pairs whose check fails (``mean_probability`` needs P(pass), read
  only when the graph asks for it);
- ``position_bias``: of the reviews, the share whose written scores run strictly up or down
  in the order they were asked, and the mean written score at each position asked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gra_graph.bench.metrics import auroc, auroc_difference, auroc_interval, mean, share
from gra_graph.bench.pairs import BenchPair
from gra_graph.bench.settings import Outcome, ScoreView, SettingKind, check_passes
from gra_graph.config import CheckRule, GraphConfig
from gra_graph.state import CallRecord, InstructionCheck, Review

CHECK_RULES: tuple[CheckRule, ...] = ("any_fail", "majority", "mean_probability")


@dataclass
class SettingResult:
    """One setting's outcome on every pair, and the calls it consumed."""

    name: str
    kind: SettingKind
    members: list[str]
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    views: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    """Outcomes with the scores read another way (``sampled``), by pair id."""
    checks: dict[str, list[InstructionCheck]] = field(default_factory=dict)
    reviews: dict[str, list[Review]] = field(default_factory=dict)

    def outcome(self, view: ScoreView) -> dict[str, Outcome]:
        """The outcomes of one way of reading the scores (``graph``: :attr:`outcomes`)."""
        return self.outcomes if view == "graph" else self.views.setdefault(view, {})

    def record(
        self,
        pair_id: str,
        checks: list[InstructionCheck],
        reviews: list[Review],
        calls: list[CallRecord],
    ) -> None:
        """Keep what the setting's judges said of one pair, and the calls it took."""
        self.checks[pair_id] = checks
        self.reviews[pair_id] = reviews
        self.calls += calls


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ranked(
    pairs: Sequence[BenchPair], outcomes: dict[str, Outcome], score: Callable[[Outcome], Any]
) -> tuple[list[float], list[float]]:
    """The scores of the sound pairs and of the defective ones (unscored pairs left out)."""
    pos = [s for p in pairs if p.pair.sound and (s := score(outcomes[p.id])) is not None]
    neg = [s for p in pairs if not p.pair.sound and (s := score(outcomes[p.id])) is not None]
    return pos, neg


def _auroc(
    pairs: Sequence[BenchPair], outcomes: dict[str, Outcome], score: Callable[[Outcome], Any]
) -> float | None:
    return _r(auroc(*_ranked(pairs, outcomes, score)))


def _interval(pairs: Sequence[BenchPair], outcomes: dict[str, Outcome]) -> list[float] | None:
    found = auroc_interval(*_ranked(pairs, outcomes, lambda o: o.score))
    return None if found is None else [round(v, 4) for v in found]


def compare_to_best_single(
    results: Sequence[SettingResult], pairs: Sequence[BenchPair]
) -> list[dict[str, Any]]:
    """For each committee setting, its AUROC minus the best single reviewer's (the single with
    the highest AUROC on these pairs) on the same pairs, with a paired bootstrap interval.

    Picking the best single after the fact flatters it, so the difference leans against the
    committee; an interval that holds 0 means these pairs cannot tell the two apart.
    """
    singles = [r for r in results if r.kind == "single"]
    best = max(
        singles, key=lambda r: _auroc(pairs, r.outcomes, lambda o: o.score) or -1.0, default=None
    )
    if best is None:
        return []
    sound = [p.pair.sound for p in pairs]
    rows = []
    for r in results:
        if r.kind == "single":
            continue
        found = auroc_difference(
            [r.outcomes[p.id].score for p in pairs],
            [best.outcomes[p.id].score for p in pairs],
            sound,
        )
        if found is not None:
            rows.append(
                {
                    "setting": r.name,
                    "best_single": best.name,
                    "difference": found.difference,
                    "ci": [round(found.low, 4), round(found.high, 4)],
                    "pairs": found.pairs,
                }
            )
    return rows


def _both_aurocs(pairs: Sequence[BenchPair], outcomes: dict[str, Outcome]) -> dict[str, Any]:
    return {
        "auroc": _auroc(pairs, outcomes, lambda o: o.score),
        "auroc_check_zero": _auroc(pairs, outcomes, lambda o: o.score_check_zero),
    }


def _scoring(
    result: SettingResult, pairs: Sequence[BenchPair], config: GraphConfig
) -> dict[str, Any]:
    views = {config.judging.scoring: result.outcomes, **result.views}
    return {
        name: {
            **_both_aurocs(pairs, out),
            "accuracy": _r(share(out[p.id].accepted == p.pair.sound for p in pairs)),
        }
        for name, out in views.items()
    }


def _check_rules(
    result: SettingResult, pairs: Sequence[BenchPair], config: GraphConfig
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in CHECK_RULES:
        verdicts = {p.id: check_passes(result.checks.get(p.id, []), config, rule) for p in pairs}
        if all(v is None for v in verdicts.values()):
            out[rule] = None  # the rule needs readings no check has
            continue
        sound = [verdicts[p.id] for p in pairs if p.pair.sound and verdicts[p.id] is not None]
        bad = [verdicts[p.id] for p in pairs if not p.pair.sound and verdicts[p.id] is not None]
        out[rule] = {
            "pass_rate_sound": _r(share(sound)),
            "fail_rate_defective": _r(share(not v for v in bad)),
        }
    return out


def _position_bias(result: SettingResult) -> dict[str, Any]:
    runs = []
    for reviews in result.reviews.values():
        for r in reviews:
            written = r.sampled_scores or r.scores
            if r.abstained or len(written) < 3:
                continue
            order = r.dimension_order or list(written)
            runs.append([float(written[d]) for d in order])
    steps = [[b - a for a, b in itertools.pairwise(run)] for run in runs]
    monotone = [all(d < 0 for d in s) or all(d > 0 for d in s) for s in steps]
    width = max((len(run) for run in runs), default=0)
    by_position = [mean(run[i] for run in runs if len(run) > i) for i in range(width)]
    return {
        "reviews": len(runs),
        "monotone_share": _r(share(monotone)),
        "mean_by_position": [_r(v) for v in by_position],
    }


def summarize(
    result: SettingResult, pairs: Sequence[BenchPair], config: GraphConfig
) -> dict[str, Any]:
    """The setting's figures, overall and per defect kind and per domain (JSON-ready)."""
    out = result.outcomes
    sound = [p for p in pairs if p.pair.sound]
    defective = [p for p in pairs if not p.pair.sound]
    by_defect: dict[str, Any] = {}
    for kind in sorted({p.pair.defect for p in defective if p.pair.defect}):
        these = [p for p in defective if p.pair.defect == kind]
        scores = [s for p in these if (s := out[p.id].score) is not None]
        by_defect[kind] = {
            "pairs": len(these),
            **_both_aurocs([*sound, *these], out),
            "reject_rate": _r(share(not out[p.id].accepted for p in these)),
            "mean_score": _r(mean(scores)),
        }
    by_domain: dict[str, Any] = {}
    for domain in sorted({p.pair.domain for p in pairs}):
        these = [p for p in pairs if p.pair.domain == domain]
        by_domain[domain] = {
            "pairs": len(these),
            **_both_aurocs(these, out),
            "accuracy": _r(share(out[p.id].accepted == p.pair.sound for p in these)),
        }
    sound_scores = [s for p in sound if (s := out[p.id].score) is not None]
    return {
        "name": result.name,
        "kind": result.kind,
        "members": list(result.members),
        "pairs": len(pairs),
        "scored": sum(out[p.id].score is not None for p in pairs),
        **_both_aurocs(pairs, out),
        "auroc_ci": _interval(pairs, out),
        "accuracy": _r(share(out[p.id].accepted == p.pair.sound for p in pairs)),
        "accept_rate_sound": _r(share(out[p.id].accepted for p in sound)),
        "reject_rate_defective": _r(share(not out[p.id].accepted for p in defective)),
        "check_fail_rate": _r(share(out[p.id].check_failed for p in pairs)),
        "abstention": _r(share(not c.ok for c in result.calls)),
        "undecided": _r(share(out[p.id].undecided for p in pairs)),
        "adjudicated": sum(out[p.id].adjudicated for p in pairs),
        "mean_score_sound": _r(mean(sound_scores)),
        "calls": len(result.calls),
        "seconds": round(sum(c.seconds for c in result.calls), 2),
        "completion_tokens": sum(c.completion_tokens for c in result.calls),
        "by_defect": by_defect,
        "by_domain": by_domain,
        "scoring": _scoring(result, pairs, config),
        "check_rules": _check_rules(result, pairs, config),
        "position_bias": _position_bias(result),
    }
