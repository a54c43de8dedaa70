"""The figures of merit of a review setting: AUROC of its score, rates of its decisions.

Written here rather than imported: the bench needs a few small functions, not a machine
learning library, and AUROC's handling of ties must be the one stated (a tie counts one half).

A few dozen labelled pairs give a rough AUROC: on 14 sound and 14 defective pairs one
setting's AUROC moves by about 0.1 from one draw of pairs to another. So the bench gives each
AUROC a bootstrap interval (:func:`auroc_interval`), and the difference of two settings judged
on the same pairs a paired one (:func:`auroc_difference`). Both resample the sound and the
defective pairs separately (a stratified bootstrap, so every round has both to rank) with a
fixed seed, so a report is reproducible, and read the interval off the percentiles.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BOOTSTRAP_ROUNDS = 2000
"""Resamples per interval: enough for the 2.5th and 97.5th percentiles to settle to about
0.01 on the bench's sizes, in well under a second of pure Python."""


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Area under the ROC curve: the chance that a random positive outscores a random negative,
    a tie counting one half (the Mann-Whitney U statistic over ``len(positives) *
    len(negatives)``). ``None`` when either side is empty: there is nothing to rank.

    Computed from midranks in O(n log n), not from all pairs.

    >>> auroc([9, 8, 7], [1, 2, 3])  # every positive above every negative
    1.0
    >>> auroc([1, 2], [8, 9])
    0.0
    >>> auroc([5, 5], [5, 5])  # all tied: chance
    0.5
    >>> auroc([8, 6], [6, 2])  # pairs: 8>6, 8>2, 6=6 (one half), 6>2 -> 3.5 of 4
    0.875
    >>> auroc([7.0], []) is None
    True
    """
    n_pos, n_neg = len(positives), len(negatives)
    if not n_pos or not n_neg:
        return None
    values = sorted([(float(v), True) for v in positives] + [(float(v), False) for v in negatives])
    rank_sum = 0.0  # of the positives, ranks from 1, ties sharing their mean rank
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j][0] == values[i][0]:
            j += 1
        midrank = (i + 1 + j) / 2
        rank_sum += midrank * sum(1 for _, pos in values[i:j] if pos)
        i = j
    u = rank_sum - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _percentiles(values: list[float], level: float) -> tuple[float, float]:
    values = sorted(values)
    tail = (1 - level) / 2
    low = values[round(tail * (len(values) - 1))]
    high = values[round((1 - tail) * (len(values) - 1))]
    return low, high


def auroc_interval(
    positives: Sequence[float],
    negatives: Sequence[float],
    *,
    level: float = 0.95,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A ``level`` bootstrap interval of :func:`auroc`: positives and negatives are each drawn
    again with replacement, ``rounds`` times. ``None`` when either side is empty.

    >>> auroc_interval([9, 8, 7], [1, 2, 3])  # no draw can rank a negative first
    (1.0, 1.0)
    >>> low, high = auroc_interval([9, 6, 4, 8], [5, 7, 2, 3])
    >>> low < auroc([9, 6, 4, 8], [5, 7, 2, 3]) < high
    True
    """
    if not positives or not negatives:
        return None
    rng = random.Random(seed)
    draws = [
        auroc(rng.choices(positives, k=len(positives)), rng.choices(negatives, k=len(negatives)))
        for _ in range(rounds)
    ]
    return _percentiles([d for d in draws if d is not None], level)


@dataclass(frozen=True)
class AurocDifference:
    """AUROC of one setting minus another's on the same pairs, and its bootstrap interval."""

    difference: float
    low: float
    high: float
    pairs: int


def auroc_difference(
    first: Sequence[float | None],
    second: Sequence[float | None],
    sound: Sequence[bool],
    *,
    level: float = 0.95,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> AurocDifference | None:
    """``first``'s AUROC minus ``second``'s, both scores of the same pairs (``sound`` their
    labels), with a paired bootstrap interval: each round draws pairs again, sound and
    defective separately, and ranks both settings' scores on the very pairs drawn. Pairs either
    setting left unscored are left out. ``None`` when no sound or no defective pair is left.

    >>> d = auroc_difference([9, 8, 2, 1], [2, 8, 9, 1], [True, True, False, False])
    >>> d.difference, d.pairs
    (0.5, 4)
    """
    both = [(a, b, ok) for a, b, ok in zip(first, second, sound, strict=True) if None not in (a, b)]
    good = [(a, b) for a, b, ok in both if ok]
    bad = [(a, b) for a, b, ok in both if not ok]
    if not good or not bad:
        return None

    def difference(good: list[tuple[float, float]], bad: list[tuple[float, float]]) -> float:
        one = auroc([a for a, _ in good], [a for a, _ in bad])
        two = auroc([b for _, b in good], [b for _, b in bad])
        return one - two  # type: ignore[operator]

    rng = random.Random(seed)
    draws = [
        difference(rng.choices(good, k=len(good)), rng.choices(bad, k=len(bad)))
        for _ in range(rounds)
    ]
    low, high = _percentiles(draws, level)
    return AurocDifference(round(difference(good, bad), 4), low, high, len(both))


def share(flags: Iterable[bool]) -> float | None:
    """The fraction of true flags; ``None`` for no flags at all.

    >>> share([True, False, False, True])
    0.5
    >>> share([]) is None
    True
    """
    items = list(flags)
    return sum(items) / len(items) if items else None


def mean(values: Iterable[float]) -> float | None:
    """The plain mean; ``None`` for no values.

    >>> mean([7, 8, 9])
    8.0
    """
    items = list(values)
    return sum(items) / len(items) if items else None
