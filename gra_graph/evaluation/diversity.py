"""Diversity of a set of samples: distinct-n and lengths of their words, and, with the MiniLM
embedder, how far apart their embeddings lie and how many are near-duplicates.

A sample is embedded as the run's dedup pass embeds it (instruction, newline, response), so the
near-duplicate figures answer "what would the dedup pass at this threshold drop".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

from gra_graph.dedup import near_duplicate_filter
from gra_graph.evaluation.metrics import (
    Spread,
    distinct_n,
    mean_pairwise_cosine_distance,
    rate,
    similar_pairs,
    spread,
    words,
)

Embed = Callable[[Sequence[str]], np.ndarray]

EMBED_BATCH = 32
"""Texts per MiniLM batch: its attention holds batch x 12 x 256 x 256 floats (about 100 MB)."""


class Sample(BaseModel):
    """The texts of one sample and its dedup rank (committee mean or adjudicator composite)."""

    instruction: str
    response: str
    rank: float = 0.0


class Lexical(BaseModel):
    """Distinct-n over words, and lengths in words (see :func:`metrics.words`)."""

    distinct_1_instruction: float | None
    distinct_2_instruction: float | None
    distinct_1_response: float | None
    distinct_2_response: float | None
    instruction_words: Spread | None
    response_words: Spread | None


class Semantic(BaseModel):
    """Embedding figures, or why there are none (``unavailable``)."""

    embedder: str = "all-MiniLM-L6-v2"
    mean_pairwise_cosine_distance: float | None = None
    threshold: float | None = None
    near_duplicate_pairs: int | None = None
    near_duplicate_pair_rate: float | None = None
    """near-duplicate pairs over all pairs of samples"""
    near_duplicate_rate: float | None = None
    """the share of samples the dedup pass would drop at ``threshold`` (a sample is dropped
    when one ranked above it is at least that similar)"""
    unavailable: str = ""


def lexical(samples: Sequence[Sample]) -> Lexical:
    """Distinct-1/2 and word-length spreads of the instructions and of the responses."""
    instructions = [s.instruction for s in samples]
    responses = [s.response for s in samples]
    return Lexical(
        distinct_1_instruction=_round(distinct_n(instructions, 1)),
        distinct_2_instruction=_round(distinct_n(instructions, 2)),
        distinct_1_response=_round(distinct_n(responses, 1)),
        distinct_2_response=_round(distinct_n(responses, 2)),
        instruction_words=spread([len(words(t)) for t in instructions]),
        response_words=spread([len(words(t)) for t in responses]),
    )


def batched(embed: Embed, texts: Sequence[str], batch: int = EMBED_BATCH) -> np.ndarray:
    """``embed`` over ``texts`` a batch at a time, rows in order."""
    parts = [embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def semantic(samples: Sequence[Sample], vectors: np.ndarray, threshold: float) -> Semantic:
    """Mean pairwise cosine distance and near-duplicates of ``samples`` embedded as
    ``vectors`` (unit-length rows, one per sample)."""
    n = len(samples)
    pairs = n * (n - 1) // 2
    near = similar_pairs(vectors, threshold) if n >= 2 else 0
    decisions = near_duplicate_filter(
        [f"{s.instruction}\n{s.response}" for s in samples],
        [s.rank for s in samples],
        threshold,
        embed=lambda _texts: vectors,  # embedded once, above
    )
    dropped = sum(not d.kept for d in decisions)
    return Semantic(
        mean_pairwise_cosine_distance=_round(mean_pairwise_cosine_distance(vectors)),
        threshold=threshold,
        near_duplicate_pairs=near if n >= 2 else None,
        near_duplicate_pair_rate=_round(rate(near, pairs)),
        near_duplicate_rate=_round(rate(dropped, n)),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
