"""Prefix matching and the least-recently-used cache of finished sequences (no model)."""

from __future__ import annotations

import numpy as np

from gra_graph.llm.prefix_cache import PrefixCache, PrefixMatch, best_prefix, common_prefix_length


def _a(*tokens: int) -> np.ndarray:
    return np.asarray(tokens, dtype=np.int32)


def test_common_prefix_length() -> None:
    assert common_prefix_length(_a(1, 2, 3), _a(1, 2, 4)) == 2
    assert common_prefix_length(_a(1, 2), _a(1, 2, 3)) == 2
    assert common_prefix_length(_a(), _a(1)) == 0
    assert common_prefix_length(_a(5), _a(1)) == 0


def test_best_prefix_picks_the_longest_and_respects_the_minimum() -> None:
    prompt = _a(1, 2, 3, 4, 5)
    sources = [(7, _a(1, 2, 9)), (8, _a(1, 2, 3, 4, 0)), (9, _a(2, 2, 3))]
    assert best_prefix(prompt, sources, minimum=2) == PrefixMatch(8, 4)
    assert best_prefix(prompt, sources, minimum=5) is None


def test_best_prefix_always_leaves_the_last_prompt_token_to_read() -> None:
    prompt = _a(1, 2, 3)
    assert best_prefix(prompt, [(0, _a(1, 2, 3, 4))], minimum=1) == PrefixMatch(0, 2)


def test_cache_evicts_least_recently_used_first() -> None:
    cache = PrefixCache(capacity=2)
    assert cache.put(1, _a(1)) == []
    assert cache.put(2, _a(2)) == []
    assert cache.put(3, _a(3)) == [1]
    assert 1 not in cache and 2 in cache and len(cache) == 2
    assert cache.take(2).tolist() == [2]
    assert [seq for seq, _ in cache.items()] == [3]
    assert cache.pop_oldest() == 3
    assert len(cache) == 0
