"""Pure figures over texts and vectors: words, distinct-n, length spreads, pairwise similarity.

No run directory and no model here: every function takes plain values, so each figure can be
checked by hand (see the doctests and ``tests/test_evaluation.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel

_WORD = re.compile(r"\w+")

_BLOCK_ROWS = 512  # rows of the similarity matrix held at once (memory stays O(block x n))


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``: runs of letters, digits and underscores, so
    punctuation neither counts as a word nor glues two words together.

    >>> words("Write a loop: for x in y, don't stop!")
    ['write', 'a', 'loop', 'for', 'x', 'in', 'y', 'don', 't', 'stop']
    """
    return _WORD.findall(text.lower())


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Distinct-n (Li et al., 2016): distinct word n-grams over all word n-grams of the texts.

    N-grams never span two texts. ``None`` when the texts hold no n-gram at all.

    >>> distinct_n(["the cat", "the dog"], 1)  # the, cat, dog of 4 words
    0.75
    >>> distinct_n(["the cat", "the cat"], 2)  # one distinct bigram of 2
    0.5
    >>> distinct_n(["hi"], 2) is None
    True
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = words(text)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


class Spread(BaseModel):
    """Five-number summary of a distribution (percentiles by linear interpolation)."""

    count: int
    min: float
    p25: float
    median: float
    p75: float
    max: float


def spread(values: Sequence[float]) -> Spread | None:
    """Min, quartiles, median and max of ``values``; ``None`` for no values.

    >>> spread([1, 2, 3, 4, 5]).model_dump()
    {'count': 5, 'min': 1.0, 'p25': 2.0, 'median': 3.0, 'p75': 4.0, 'max': 5.0}
    """
    if not values:
        return None
    q = np.percentile(np.asarray(values, dtype=np.float64), [0, 25, 50, 75, 100])
    return Spread(
        count=len(values),
        min=float(q[0]),
        p25=float(q[1]),
        median=float(q[2]),
        p75=float(q[3]),
        max=float(q[4]),
    )


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or ``None`` when there is no whole to take a share of.

    >>> rate(1, 4), rate(0, 0)
    (0.25, None)
    """
    return part / whole if whole else None


def mean_pairwise_cosine_distance(vectors: np.ndarray) -> float | None:
    """Mean of ``1 - cos(a, b)`` over all unordered pairs of distinct rows of unit-length
    ``vectors``; ``None`` for fewer than two rows.

    Computed from the sum of the rows (the sum of all pairwise dot products is
    ``|sum|^2 - sum |row|^2``), so it needs no n x n matrix.

    >>> mean_pairwise_cosine_distance(np.eye(3))  # orthogonal: distance 1
    1.0
    >>> mean_pairwise_cosine_distance(np.ones((2, 1)))  # identical: distance 0
    0.0
    """
    n = len(vectors)
    if n < 2:
        return None
    v = np.asarray(vectors, dtype=np.float64)
    total = v.sum(axis=0)
    pair_dots = (float(total @ total) - float(np.einsum("ij,ij->", v, v))) / 2
    return 1.0 - pair_dots / (n * (n - 1) / 2)


def similar_pairs(vectors: np.ndarray, threshold: float) -> int:
    """How many unordered pairs of distinct rows have cosine similarity ``>= threshold``
    (rows are unit length). Done in row blocks, so memory stays linear in the rows.

    The comparison allows 1e-9 of rounding, as the run's dedup filter does: two copies of a
    text can come out at 0.9999999 and must still count at threshold 1.0.

    >>> similar_pairs(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 0.9)
    1
    """
    v = np.asarray(vectors, dtype=np.float64)
    count = 0
    for start in range(0, len(v), _BLOCK_ROWS):
        block = v[start : start + _BLOCK_ROWS] @ v.T
        rows, cols = np.nonzero(block >= threshold - 1e-9)
        count += int(np.count_nonzero(cols > rows + start))  # each pair once, no self-pairs
    return count
