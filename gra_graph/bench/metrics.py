"""The figures of merit of a review setting: AUROC of its score, rates of its decisions.

Written here rather than imported: the bench needs two small functions, not a machine learning
library, and AUROC's handling of ties must be the one stated (a tie counts one half).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


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
