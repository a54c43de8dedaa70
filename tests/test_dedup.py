"""Near-duplicate filter: visit by descending score, keep iff similarity < threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from gra_graph.dedup import DedupResult, cosine, near_duplicate_filter, ngram_embed

BASE = (
    "Write a Python function that reverses a singly linked list in place.\n"
    "Walk the list once, pointing each node's next at the previous node."
)
NEAR = (
    "write a python function that reverses a singly  linked list in place!\n"
    "Walk the list once, pointing each node's next at the previous node."
)
OTHER = "Explain why the sky is blue.\nSunlight scatters off air molecules; blue scatters most."


def kept(results: list[DedupResult]) -> dict[int, bool]:
    return {r.index: r.kept for r in results}


def test_identical_texts_dropped():
    results = near_duplicate_filter([BASE, BASE], [9.0, 8.0], 0.9)
    assert kept(results) == {0: True, 1: False}
    dropped = next(r for r in results if not r.kept)
    assert dropped.nearest == 0
    assert dropped.similarity == pytest.approx(1.0)


def test_near_identical_texts_dropped():
    results = near_duplicate_filter([BASE, NEAR], [9.0, 8.0], 0.9)
    assert kept(results) == {0: True, 1: False}
    assert results[1].similarity >= 0.9


def test_distinct_texts_kept():
    results = near_duplicate_filter([BASE, OTHER], [9.0, 8.0], 0.9)
    assert kept(results) == {0: True, 1: True}
    assert results[1].similarity < 0.5


def test_all_distinct_kept_and_duplicates_dropped_in_a_mix():
    texts = [BASE, OTHER, NEAR, OTHER, "Name three primary colours.\nRed, yellow and blue."]
    results = near_duplicate_filter(texts, [9.0, 8.5, 8.0, 7.5, 7.0], 0.9)
    assert kept(results) == {0: True, 1: True, 2: False, 3: False, 4: True}
    by_index = {r.index: r for r in results}
    assert by_index[2].nearest == 0
    assert by_index[3].nearest == 1


def test_results_follow_descending_score():
    results = near_duplicate_filter([OTHER, BASE, "third text here"], [7.0, 9.0, 8.0], 0.9)
    assert [r.index for r in results] == [1, 2, 0]


def test_equal_scores_visited_in_input_order():
    results = near_duplicate_filter([BASE, BASE, BASE], [8.0, 8.0, 8.0], 0.9)
    assert [r.index for r in results] == [0, 1, 2]
    assert kept(results) == {0: True, 1: False, 2: False}


@pytest.mark.parametrize("order", ["high_first", "low_first"])
def test_higher_scored_duplicate_kept_regardless_of_order(order: str):
    if order == "high_first":
        texts, scores, high = [BASE, NEAR], [9.0, 7.0], 0
    else:
        texts, scores, high = [NEAR, BASE], [7.0, 9.0], 1
    results = near_duplicate_filter(texts, scores, 0.9)
    assert kept(results) == {high: True, 1 - high: False}
    assert results[0].index == high
    assert results[1].nearest == high


def fixed_embed(vectors: list[dict[int, float]]):
    """An embedder returning the given sparse rows as a dense matrix."""
    dense = np.zeros((len(vectors), 4))
    for row, vector in enumerate(vectors):
        for col, value in vector.items():
            dense[row, col] = value

    def embed(texts: Sequence[str]) -> np.ndarray:
        assert len(texts) == len(vectors)
        return dense

    return embed


def test_similarity_exactly_at_threshold_is_dropped():
    # cosine of (0.6, 0.8) with (1, 0) is exactly 0.6
    embed = fixed_embed([{0: 1.0}, {0: 0.6, 1: 0.8}])
    results = near_duplicate_filter(["a", "b"], [2.0, 1.0], 0.6, embed=embed)
    assert kept(results) == {0: True, 1: False}
    assert results[1].similarity == 0.6


def test_similarity_just_below_threshold_is_kept():
    embed = fixed_embed([{0: 1.0}, {0: 0.6, 1: 0.8}])
    results = near_duplicate_filter(["a", "b"], [2.0, 1.0], 0.6000001, embed=embed)
    assert kept(results) == {0: True, 1: True}
    assert results[1].nearest == 0


def test_threshold_respected_on_real_texts():
    sim = cosine(*ngram_embed([BASE, NEAR]))
    assert 0.9 < sim < 1.0
    assert not near_duplicate_filter([BASE, NEAR], [2.0, 1.0], sim - 1e-6)[1].kept
    assert near_duplicate_filter([BASE, NEAR], [2.0, 1.0], min(sim + 1e-6, 1.0))[1].kept


def test_nearest_is_the_most_similar_kept_candidate():
    embed = fixed_embed([{0: 1.0}, {1: 1.0}, {0: 0.6, 1: 0.8}])
    results = near_duplicate_filter(["a", "b", "c"], [3.0, 2.0, 1.0], 0.9, embed=embed)
    assert kept(results) == {0: True, 1: True, 2: True}
    assert results[2].nearest == 1
    assert results[2].similarity == 0.8


def test_ngram_vectors_are_unit_length_and_case_and_space_insensitive():
    a, b, c = ngram_embed(["Hello   World", "hello world", "something else"])
    assert cosine(a, a) == pytest.approx(1.0)
    assert np.array_equal(a, b)
    assert cosine(a, c) < 0.2


def test_empty_input():
    assert near_duplicate_filter([], [], 0.9) == []


def test_exact_duplicates_dropped_at_threshold_one():
    t = "Write a Python function that returns the three most common words in a text, ignoring case."
    results = near_duplicate_filter([t, t], [2.0, 1.0], 1.0)
    assert {r.index: r.kept for r in results} == {0: True, 1: False}


def test_texts_kept_before_stay_kept_and_drop_their_near_duplicates():
    # an earlier iteration kept BASE with a low score; a later, higher-scored copy cannot
    # displace it, and is dropped with BASE as its nearest
    results = near_duplicate_filter([BASE, NEAR, OTHER], [0.0, 9.5, 9.0], 0.9, fixed=1)
    assert [(r.index, r.kept, r.nearest) for r in results] == [(1, False, 0), (2, True, 0)]
    assert near_duplicate_filter([BASE], [0.0], 0.9, fixed=1) == []
