"""Near-duplicate filter over accepted samples (docs/method.md, section 7a).

Candidates are visited in descending committee mean; one is kept only if its highest cosine
similarity to everything already kept is below the threshold. Embedders map texts to unit-length
rows of a matrix: ``minilm`` is the paper's all-MiniLM-L6-v2 (:mod:`gra_graph.minilm`, bundled,
no PyTorch needed); ``ngram`` is hashed character 3-grams, which catches near-verbatim repeats
but not paraphrases, and needs no model at all.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Embedder = Callable[[Sequence[str]], np.ndarray]

_NGRAM_DIMS = 1 << 14


def ngram_embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length hashed character 3-gram count vectors of lower-cased, space-folded text."""
    vectors = np.zeros((len(texts), _NGRAM_DIMS), dtype=np.float32)
    for row, text in enumerate(texts):
        norm = re.sub(r"\s+", " ", text.lower()).strip()
        for i in range(len(norm) - 2):
            vectors[row, zlib.crc32(norm[i : i + 3].encode()) % _NGRAM_DIMS] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def minilm_embed(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (the paper's choice)."""
    from gra_graph.minilm import load_minilm

    return load_minilm().encode(texts)


EMBEDDERS: dict[str, Embedder] = {"minilm": minilm_embed, "ngram": ngram_embed}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two unit-length vectors."""
    return float(np.dot(a, b))


@dataclass(frozen=True)
class DedupResult:
    """Whether one candidate was kept, and the kept candidate it was closest to."""

    index: int
    kept: bool
    similarity: float
    nearest: int | None


def near_duplicate_filter(
    texts: Sequence[str],
    scores: Sequence[float],
    threshold: float,
    embed: Embedder = ngram_embed,
    fixed: int = 0,
) -> list[DedupResult]:
    """Decide every candidate; results are in the order candidates were visited.

    The first ``fixed`` texts were kept before (by an earlier iteration of the run): they count
    as kept from the start, whatever their score, and get no result of their own, so a new
    candidate too close to one of them is dropped while they stay. ``index`` and ``nearest``
    count from the start of ``texts``, fixed ones included.

    >>> [r.kept for r in near_duplicate_filter(["a cat sat", "a cat sat!", "dogs run"],
    ...                                        [9.0, 8.5, 8.0], 0.9)]
    [True, False, True]
    >>> [(r.index, r.kept) for r in near_duplicate_filter(["a cat sat", "a cat sat!", "dogs"],
    ...                                                   [0.0, 9.0, 8.0], 0.9, fixed=1)]
    [(1, False), (2, True)]
    """
    order = sorted(range(fixed, len(texts)), key=lambda i: (-scores[i], i))
    vectors = np.asarray(embed(texts), dtype=np.float64) if len(texts) else np.zeros((0, 1))
    kept: list[int] = list(range(fixed))
    results = []
    for i in order:
        best, nearest = 0.0, None
        if kept:
            sims = vectors[kept] @ vectors[i]
            top = int(np.argmax(sims))
            if sims[top] > 0.0:
                best, nearest = float(sims[top]), kept[top]
        keep = best < threshold - 1e-9  # a text's similarity to itself can round below 1.0
        if keep:
            kept.append(i)
        results.append(DedupResult(i, keep, round(best, 4), nearest))
    return results
