"""Calibrating the instruction check: per-criterion P(pass) thresholds from labelled pairs.

Under ``check_rule: mean_probability`` a criterion fails when the reviewers' mean P(pass) is
below a threshold. One threshold for every criterion assumes the models' probabilities mean
the same thing on every criterion, and small models break that: a reviewer may give "clarity"
a P(pass) near 0.4 on plain, sound tasks while its "rationality" sits near 0.9. Calibration
reads where each criterion's P(pass) actually lies on instructions known to be sound.

:func:`calibrate_checks` asks every reviewer-eligible member to check the instruction of every
pair given (through :class:`~gra_graph.bench.judge.Judge`, so the calls are the graph's own and
are cached), then :func:`choose_thresholds` picks, per criterion, the highest threshold that
still passes ``target`` of the sound instructions on all criteria together. Thresholds are
measured on one set of pairs and should be judged on another: the CLI takes ``--skip`` so the
pairs a bench reports on can be kept out.

A pair's instruction is sound unless its defect lies in the instruction
(:data:`~gra_graph.bench.pairs.INSTRUCTION_DEFECTS`); the fail rate on defective instructions
at the chosen thresholds is reported beside, so a calibration that would pass everything shows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gra_graph.bench.bench import BenchObserver, open_judge
from gra_graph.bench.metrics import auroc, auroc_interval
from gra_graph.bench.pairs import BenchPair
from gra_graph.config import GraphConfig, GraphConfigError, Judging, Role
from gra_graph.decision import pass_probability
from gra_graph.llm.members import MemberHandle
from gra_graph.roles import eligible
from gra_graph.state import InstructionCheck
from gra_graph.vocabulary import CHECK_CRITERIA

LOWEST, HIGHEST = 0.01, 0.99
"""Thresholds stay strictly inside (0, 1), as the graph file requires."""


@dataclass(frozen=True)
class CheckCalibration:
    """Per-criterion thresholds and how they split the calibration pairs."""

    graph: str
    target: float
    thresholds: dict[str, float]
    sound: int
    """Pairs with a sound instruction and at least one usable check."""
    defective: int
    """Pairs whose defect lies in the instruction, with at least one usable check."""
    sound_pass_rate: float
    defective_fail_rate: float | None
    by_criterion: dict[str, dict[str, float | None]]
    """Per criterion: the threshold, the sound instructions' median P(pass), the share of
    sound instructions passing it and the share of defective ones failing it."""
    unchanged_sound_pass_rate: float
    """The sound pass rate at the graph's current thresholds, for comparison."""
    unchanged_defective_fail_rate: float | None
    unchanged_auroc: float | None = None
    """How well the check ranks sound instructions above defective ones at the graph's current
    thresholds, with no cut-off chosen: the AUROC of each instruction's smallest margin over the
    criteria (mean P(pass) minus that criterion's threshold). ``None`` without both kinds."""
    unchanged_auroc_ci: tuple[float, float] | None = None
    """The 95% bootstrap interval of :attr:`unchanged_auroc`
    (:func:`~gra_graph.bench.metrics.auroc_interval`)."""
    new_calls: int = 0
    cached_calls: int = 0

    def as_json(self) -> dict[str, Any]:
        """The calibration as written to ``--json``."""
        return dataclasses.asdict(self)

    def yaml_snippet(self) -> str:
        """The ``judging`` lines to paste into a graph file."""
        pairs = ", ".join(f"{c}: {t:g}" for c, t in self.thresholds.items())
        return f"judging:\n  check_rule: mean_probability\n  check_thresholds: {{{pairs}}}\n"


def mean_pass(checks: Sequence[InstructionCheck], criterion: str) -> float | None:
    """The usable checks' mean P(pass) of ``criterion`` (None when every reviewer abstained)."""
    votes = [c for c in checks if not c.abstained and criterion in c.criteria]
    return statistics.fmean(pass_probability(c, criterion) for c in votes) if votes else None


def _passes(means: Mapping[str, float | None], thresholds: Mapping[str, float]) -> bool:
    return all(m is None or m >= thresholds[c] for c, m in means.items())


def margin(means: Mapping[str, float | None], thresholds: Mapping[str, float]) -> float | None:
    """How far an instruction is from failing: its smallest mean P(pass) minus threshold over
    the criteria that have one (negative: it fails)."""
    gaps = [m - thresholds[c] for c, m in means.items() if m is not None]
    return min(gaps) if gaps else None


def limit_sound(pairs: Sequence[BenchPair], count: int | None) -> list[BenchPair]:
    """``pairs`` with at most the first ``count`` whose instruction is sound: every pair with a
    defective instruction stays, since those are the few a calibration has."""
    kept, sound = [], 0
    for pair in pairs:
        if pair.pair.instruction_sound:
            sound += 1
            if count is not None and sound > count:
                continue
        kept.append(pair)
    return kept


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def choose_thresholds(
    sound: Sequence[Mapping[str, float | None]], target: float
) -> dict[str, float]:
    """The highest per-criterion thresholds that pass at least ``target`` of ``sound``.

    Each criterion's threshold is the same quantile of the sound instructions' mean P(pass) of
    that criterion; the quantile starts at ``1 - target`` and steps down until the instructions
    passing every criterion together reach ``target``. Thresholds are rounded down to two
    decimals and kept in [0.01, 0.99], so a P(pass) below 0.01 fails at any threshold.

    >>> sound = [{"clarity": 0.3, "rationality": 0.9}, {"clarity": 0.5, "rationality": 0.95},
    ...          {"clarity": 0.6, "rationality": 0.8}, {"clarity": 0.7, "rationality": 0.99}]
    >>> choose_thresholds(sound, 0.75)
    {'clarity': 0.3, 'rationality': 0.8}
    """
    if not sound:
        raise ValueError("no sound instruction with a usable check to calibrate on")
    criteria = list(dict.fromkeys(c for means in sound for c in means))
    ordered = {c: sorted(m for means in sound if (m := means.get(c)) is not None) for c in criteria}
    needed = math.ceil(target * len(sound) - 1e-9)
    for rank in range(len(sound) - needed, -1, -1):
        thresholds = {c: _floor(values, rank / len(sound)) for c, values in ordered.items()}
        if sum(_passes(m, thresholds) for m in sound) >= needed:
            return thresholds
    return {c: LOWEST for c in criteria}


def _floor(values: Sequence[float], quantile: float) -> float:
    """The value at ``quantile`` of sorted ``values``, rounded down, inside [LOWEST, HIGHEST]."""
    if not values:
        return LOWEST
    value = values[min(len(values) - 1, int(quantile * len(values)))]
    return min(HIGHEST, max(LOWEST, math.floor(value * 100 + 1e-9) / 100))


def reading_checks(config: GraphConfig) -> GraphConfig:
    """``config`` with ``check_rule: mean_probability``, so the checks read P(pass)."""
    if config.judging.check_rule == "mean_probability":
        return config
    judging = Judging.model_validate(
        {**config.judging.model_dump(), "check_rule": "mean_probability"}
    )
    return config.model_copy(update={"judging": judging})


async def calibrate_checks(
    config: GraphConfig,
    pairs: Sequence[BenchPair],
    cache_path: str | Path,
    *,
    target: float = 0.9,
    seed: int = 0,
    concurrency: int = 8,
    observer: BenchObserver | None = None,
    members: Mapping[str, MemberHandle] | None = None,
) -> CheckCalibration:
    """Check every pair's instruction with every reviewer; choose per-criterion thresholds.

    ``members`` are loaded from the graph file when not given (tests pass scripted ones), and
    only once a call is not found in the cache.

    Raises:
        ValueError: ``target`` is not in (0, 1], or no sound instruction got a usable check.
        GraphConfigError: the graph has no reviewer.
        ModelFileError, ModelLoadError: a member's model cannot be loaded.
        BenchCacheError: the cache file cannot be used.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target}")
    config = reading_checks(config)
    reviewers = eligible(config, Role.REVIEWER)
    if not reviewers:
        raise GraphConfigError(f"graph '{config.name}': no member may review")
    observer = observer or BenchObserver()
    jobs = [(p, m) for p in pairs for m in reviewers]
    with open_judge(config, cache_path, members, seed, concurrency, observer) as judge:
        observer.on_planned(len(jobs))
        answers = await asyncio.gather(*(judge.check(m, p) for p, m in jobs))
        new_calls, cached_calls = judge.new_calls, judge.cached_calls
    checks: dict[str, list[InstructionCheck]] = {p.id: [] for p in pairs}
    for (pair, _member), answer in zip(jobs, answers, strict=True):
        checks[pair.id].append(answer.value)
    sound, defective = [], []
    for pair in pairs:
        means = {c: mean_pass(checks[pair.id], c) for c in CHECK_CRITERIA}
        if all(m is None for m in means.values()):
            continue
        (sound if pair.pair.instruction_sound else defective).append(means)
    thresholds = choose_thresholds(sound, target)
    current = config.judging.criterion_thresholds
    return CheckCalibration(
        graph=config.name,
        target=target,
        thresholds=thresholds,
        sound=len(sound),
        defective=len(defective),
        sound_pass_rate=_rate(sum(_passes(m, thresholds) for m in sound), len(sound)) or 0.0,
        defective_fail_rate=_rate(
            sum(not _passes(m, thresholds) for m in defective), len(defective)
        ),
        by_criterion={c: _criterion(c, thresholds[c], sound, defective) for c in thresholds},
        unchanged_sound_pass_rate=_rate(sum(_passes(m, current) for m in sound), len(sound)) or 0.0,
        unchanged_defective_fail_rate=_rate(
            sum(not _passes(m, current) for m in defective), len(defective)
        ),
        unchanged_auroc=_margin_auroc(sound, defective, current),
        unchanged_auroc_ci=_margin_auroc_interval(sound, defective, current),
        new_calls=new_calls,
        cached_calls=cached_calls,
    )


def _margins(
    sound: Sequence[Mapping[str, float | None]],
    defective: Sequence[Mapping[str, float | None]],
    thresholds: Mapping[str, float],
) -> tuple[list[float], list[float]]:
    """The smallest margins of the sound instructions and of the defective ones."""
    ok = [g for m in sound if (g := margin(m, thresholds)) is not None]
    bad = [g for m in defective if (g := margin(m, thresholds)) is not None]
    return ok, bad


def _margin_auroc(
    sound: Sequence[Mapping[str, float | None]],
    defective: Sequence[Mapping[str, float | None]],
    thresholds: Mapping[str, float],
) -> float | None:
    found = auroc(*_margins(sound, defective, thresholds))
    return round(found, 4) if found is not None else None


def _margin_auroc_interval(
    sound: Sequence[Mapping[str, float | None]],
    defective: Sequence[Mapping[str, float | None]],
    thresholds: Mapping[str, float],
) -> tuple[float, float] | None:
    span = auroc_interval(*_margins(sound, defective, thresholds))
    return None if span is None else (round(span[0], 4), round(span[1], 4))


def _criterion(
    criterion: str,
    threshold: float,
    sound: Sequence[Mapping[str, float | None]],
    defective: Sequence[Mapping[str, float | None]],
) -> dict[str, float | None]:
    ok = [m for s in sound if (m := s.get(criterion)) is not None]
    bad = [m for d in defective if (m := d.get(criterion)) is not None]
    return {
        "threshold": threshold,
        "median_sound": round(statistics.median(ok), 4) if ok else None,
        "sound_pass_rate": _rate(sum(m >= threshold for m in ok), len(ok)),
        "defective_fail_rate": _rate(sum(m < threshold for m in bad), len(bad)),
    }
