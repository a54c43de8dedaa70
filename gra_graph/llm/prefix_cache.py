"""Which KV-cache sequence a new prompt can borrow its prefix from, and which to forget first.

Pure bookkeeping, no llama.cpp: the batched engine asks :func:`best_prefix` for the cached or
live sequence sharing the longest token prefix with a new prompt, and reads only the rest of
the prompt. Finished sequences stay in a :class:`PrefixCache` until their slot is needed,
least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


def common_prefix_length(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


@dataclass(frozen=True)
class PrefixMatch:
    """Reuse the first ``length`` tokens of sequence ``seq_id``."""

    seq_id: int
    length: int


def best_prefix(
    prompt: np.ndarray, sources: Iterable[tuple[int, np.ndarray]], minimum: int
) -> PrefixMatch | None:
    """The source sharing the longest prefix with ``prompt`` (at least ``minimum`` tokens).

    A match never covers the whole prompt: its last token must still be read, because the first
    sampled token needs that position's logits.
    """
    best: PrefixMatch | None = None
    limit = len(prompt) - 1
    for seq_id, tokens in sources:
        length = min(common_prefix_length(prompt, tokens), limit)
        if length >= minimum and (best is None or length > best.length):
            best = PrefixMatch(seq_id, length)
    return best


class PrefixCache:
    """Finished sequences whose KV cells are kept for reuse, in least-recently-used order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, seq_id: int) -> bool:
        return seq_id in self._entries

    def items(self) -> list[tuple[int, np.ndarray]]:
        return list(self._entries.items())

    def put(self, seq_id: int, tokens: np.ndarray) -> list[int]:
        """Keep ``seq_id``; returns the sequences evicted to stay within capacity."""
        self._entries[seq_id] = tokens
        self._entries.move_to_end(seq_id)
        evicted = []
        while len(self._entries) > self.capacity:
            evicted.append(self.pop_oldest())
        return evicted

    def take(self, seq_id: int) -> np.ndarray:
        """Remove ``seq_id`` (a new request takes over its cells) and return its tokens."""
        return self._entries.pop(seq_id)

    def pop_oldest(self) -> int:
        """Forget the least recently used sequence and return its id."""
        seq_id, _ = self._entries.popitem(last=False)
        return seq_id
