"""Near-duplicate filter over accepted samples (GRA_METHOD.md, step 6).

Candidates are visited in descending committee mean; one is kept only if its highest cosine
similarity to everything already kept is below the threshold. The paper embeds with
all-MiniLM-L6-v2; that model needs PyTorch, so the built-in embedder is hashed character
3-grams, which catches the near-verbatim repeats small models produce. The ``Embedder`` seam
takes any function from texts to unit vectors.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SparseVector = dict[int, float]
Embedder = Callable[[Sequence[str]], list[SparseVector]]

_DIMS = 1 << 20


def ngram_embed(texts: Sequence[str]) -> list[SparseVector]:
    """Unit-length hashed character 3-gram count vectors of lower-cased, space-folded text."""
    vectors = []
    for text in texts:
        norm = re.sub(r"\s+", " ", text.lower()).strip()
        grams = Counter(zlib.crc32(norm[i : i + 3].encode()) % _DIMS for i in range(len(norm) - 2))
        length = math.sqrt(sum(c * c for c in grams.values())) or 1.0
        vectors.append({k: c / length for k, c in grams.items()})
    return vectors


def cosine(a: SparseVector, b: SparseVector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


@dataclass(frozen=True)
class DedupResult:
    """Whether one candidate was kept, and the kept candidate it was closest to."""

    index: int
    kept: bool
    similarity: float
    nearest: int | None


def near_duplicate_filter(
    texts: Sequence[str], scores: Sequence[float], threshold: float, embed: Embedder = ngram_embed
) -> list[DedupResult]:
    """Decide every candidate; results are in the order candidates were visited.

    >>> [r.kept for r in near_duplicate_filter(["a cat sat", "a cat sat!", "dogs run"],
    ...                                        [9.0, 8.5, 8.0], 0.9)]
    [True, False, True]
    """
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
    vectors = embed(texts)
    kept: list[int] = []
    results = []
    for i in order:
        best, nearest = 0.0, None
        for j in kept:
            sim = cosine(vectors[i], vectors[j])
            if sim > best:
                best, nearest = sim, j
        keep = best < threshold - 1e-9  # a text's similarity to itself can round below 1.0
        if keep:
            kept.append(i)
        results.append(DedupResult(i, keep, round(best, 4), nearest))
    return results
