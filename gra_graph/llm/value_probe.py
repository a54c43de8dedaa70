"""Reading a model's own probabilities for the allowed values of some JSON keys.

A reviewer's score is usually one sampled token. With a *value probe* the engine also reports,
for each probed key, the model's distribution over the key's allowed values (the G-Eval method:
``0``..``10`` for a score, ``"pass"``/``"fail"`` for a check), read from the logits at the
position where the value is written.

The reading has to work for any tokenizer. A value can take several tokens (Qwen, SmolLM2 and
Gemma all write ``10`` as ``1`` then ``0``), one value can be a token-prefix of another (``1``
of ``10``), and whitespace or a quote can come first (``": "`` then ``7``, ``" "`` then
``pass``). So the distribution is read on strings, not on token ids:

- A *node* is a point of the generated text inside a probed key's value, after its colon, where
  more than one allowed value is still possible: ``so_far`` is the text after the colon (``" "``
  or ``' "'`` or ``" 1"``).
- At a node, every vocabulary token whose text keeps the value possible is sorted by which
  values it leaves: one (``7``, ``pass``, ``0,``), several (``1`` leaves ``1`` and ``10``), or
  all of them (a space: it decides nothing and is left out). Their probabilities come from the
  raw logits at temperature 1, renormalized over the tokens that decide something; that is the
  distribution the JSON grammar would let the model choose from.
- A token that leaves several values (``1``) is resolved one position further: the engine reads
  the logits after that token (a *lookahead* decode when the model did not write it itself), so
  ``P(10) = P(1) * P(0 | 1)`` and ``P(1) = P(1) * P(end | 1)``.
- The distribution of a key is read at the last node on the generated path where every value was
  still possible, i.e. where the model actually chose.

Everything here is pure Python and NumPy on token texts and logit rows; the engines
(:mod:`gra_graph.llm.batched`, :mod:`gra_graph.llm.simple`) feed it and run the lookaheads.

Example:
    >>> sorted(consistent(" 1", SCORE_VALUES))
    ['1', '10']
    >>> sorted(consistent(' "p', PASS_FAIL_VALUES))
    ['"pass"']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SCORE_VALUES: tuple[str, ...] = tuple(str(v) for v in range(11))
"""The JSON literals of a 0-10 score."""

PASS_FAIL_VALUES: tuple[str, ...] = ('"pass"', '"fail"')
"""The JSON literals of a pass/fail verdict."""

_WHITESPACE = " \t\n\r"
_TERMINATORS = frozenset(",}]" + _WHITESPACE)

#: Ambiguous tokens less likely than this (renormalized) get no lookahead; their mass is dropped.
MIN_LOOKAHEAD_P = 1e-3


@dataclass(frozen=True)
class ValueProbe:
    """Ask for the distribution over ``values`` (JSON literals) of each key in ``keys``."""

    keys: tuple[str, ...]
    values: tuple[str, ...]

    def as_json(self) -> dict[str, list[str]]:
        return {"keys": list(self.keys), "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Sequence[str]]) -> ValueProbe:
        return cls(tuple(data["keys"]), tuple(data["values"]))


def probes_to_json(probes: Sequence[ValueProbe]) -> str:
    """Probes as one JSON string (how they travel as a chat model's call argument)."""
    return json.dumps([p.as_json() for p in probes])


def probes_from_json(text: str) -> tuple[ValueProbe, ...]:
    """The inverse of :func:`probes_to_json`."""
    return tuple(ValueProbe.from_json(item) for item in json.loads(text))


def consistent(so_far: str, values: Sequence[str]) -> frozenset[str]:
    """The values that text written after a key's colon can still be (or already is).

    Leading whitespace is ignored; a value counts as written once only characters that may
    follow a JSON value come after it (so ``"1,"`` is ``1`` but ``"10"`` is not ``1``).
    """
    v = so_far.lstrip(_WHITESPACE)
    if not v:
        return frozenset(values)
    return frozenset(
        c
        for c in values
        if c.startswith(v) or (v.startswith(c) and all(ch in _TERMINATORS for ch in v[len(c) :]))
    )


class TokenTable:
    """The text of every token of one vocabulary (build once per loaded model).

    ``pieces[i]`` is token ``i``'s bytes as it prints (control tokens print as nothing).
    """

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)
        self._relevant: dict[tuple[str, ...], tuple[np.ndarray, tuple[str, ...]]] = {}

    def text(self, token: int) -> str:
        """A token's text; a piece that is not whole UTF-8 reads as empty (it decides nothing)."""
        try:
            return self.pieces[token].decode("utf-8")
        except (UnicodeDecodeError, IndexError):
            return ""

    def relevant(self, values: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Ids and texts of the tokens that could take part in writing one of ``values``:
        made only of the values' characters, JSON delimiters and whitespace, and short."""
        if values not in self._relevant:
            alphabet = set("".join(values)) | _TERMINATORS
            longest = max(len(v) for v in values) + 4
            ids, texts = [], []
            for token in range(len(self.pieces)):
                text = self.text(token)
                if text and len(text) <= longest and set(text) <= alphabet:
                    ids.append(token)
                    texts.append(text)
            self._relevant[values] = (np.asarray(ids, dtype=np.int64), tuple(texts))
        return self._relevant[values]


@dataclass(frozen=True)
class Node:
    """A point inside a probed value where the value is not decided yet."""

    key: str
    so_far: str
    values: tuple[str, ...]


@dataclass
class _Reading:
    """The logits of the tokens that decide something at one node."""

    texts: tuple[str, ...]
    ids: np.ndarray
    logits: np.ndarray
    on_path: bool

    def probabilities(self) -> np.ndarray:
        if len(self.logits) == 0:
            return self.logits
        shifted = np.exp(self.logits - self.logits.max())
        return shifted / shifted.sum()


@dataclass
class ProbeReader:
    """Collects the readings of one completion and turns them into distributions.

    The engine calls :meth:`node_at` with the text generated so far before each sampled token;
    at a node it passes that position's logit row to :meth:`observe`, then asks
    :meth:`lookaheads` which tokens it should decode one step ahead (given the token it sampled)
    and hands each resulting row to :meth:`observe_lookahead`. :meth:`distributions` gives the
    result once the completion is done.
    """

    probes: Sequence[ValueProbe]
    table: TokenTable
    _readings: dict[tuple[str, str], _Reading] = field(default_factory=dict)
    _key_start: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._values = {key: p.values for p in self.probes for key in p.keys}
        keys = "|".join(re.escape(k) for k in sorted(self._values, key=len, reverse=True))
        self._pattern = re.compile(rf'"({keys})"[ \t\n\r]*:([^,}}\]]*)\Z') if keys else None

    def node_at(self, text: str) -> Node | None:
        """The node the generated ``text`` ends at, if any (the first time a key appears)."""
        if self._pattern is None:
            return None
        match = self._pattern.search(text)
        if match is None:
            return None
        key, so_far = match.group(1), match.group(2)
        if self._key_start.setdefault(key, match.start()) != match.start():
            return None  # the key again, inside a later string: not the value we read
        values = self._values[key]
        if len(consistent(so_far, values)) < 2:
            return None
        return Node(key, so_far, values)

    def observe(self, node: Node, logits: np.ndarray) -> None:
        """Record the logit row (the whole vocabulary) read at ``node`` on the generated path."""
        self._record(node, logits, on_path=True)

    def observe_lookahead(self, node: Node, token: int, logits: np.ndarray) -> None:
        """Record the row read after ``token`` was put at ``node`` (a lookahead decode)."""
        child = Node(node.key, node.so_far + self.table.text(token), node.values)
        self._record(child, logits, on_path=False)

    def lookaheads(self, node: Node, taken: int | None) -> list[int]:
        """Tokens at ``node`` that leave several values and are likely enough to resolve, other
        than ``taken`` (the token the model wrote, resolved on the path itself). None when
        ``taken`` decided nothing: then a later node is where the model chose."""
        reading = self._readings.get((node.key, node.so_far))
        if reading is None or not reading.on_path:
            return []
        here = consistent(node.so_far, node.values)
        if taken is not None and consistent(node.so_far + self.table.text(taken), node.values) == (
            here
        ):
            return []
        wanted = []
        for token, text, p in zip(reading.ids, reading.texts, reading.probabilities(), strict=True):
            if int(token) == taken or p < MIN_LOOKAHEAD_P:
                continue
            if len(consistent(node.so_far + text, node.values)) > 1:
                wanted.append(int(token))
        return wanted

    def distributions(self) -> dict[str, dict[str, float]]:
        """Key -> {value: probability}, for every probed key that was read."""
        out: dict[str, dict[str, float]] = {}
        for key, values in self._values.items():
            roots = [
                so_far
                for (k, so_far), r in self._readings.items()
                if k == key and r.on_path and consistent(so_far, values) == frozenset(values)
            ]
            if not roots:
                continue
            masses = self._resolve(key, max(roots, key=len), values)
            total = sum(masses.values())
            if total > 0 and math.isfinite(total):
                out[key] = {v: round(masses.get(v, 0.0) / total, 6) for v in values}
        return out

    def _record(self, node: Node, logits: np.ndarray, *, on_path: bool) -> None:
        ids, texts = self.table.relevant(node.values)
        here = consistent(node.so_far, node.values)
        keep = [
            i
            for i, text in enumerate(texts)
            if (left := consistent(node.so_far + text, node.values)) and left < here
        ]
        chosen = ids[keep]
        row = np.asarray(logits, dtype=np.float64)
        self._readings[(node.key, node.so_far)] = _Reading(
            tuple(texts[i] for i in keep), chosen, row[chosen].copy(), on_path
        )

    def _resolve(self, key: str, so_far: str, values: tuple[str, ...]) -> dict[str, float]:
        reading = self._readings.get((key, so_far))
        masses: dict[str, float] = {}
        if reading is None:
            return masses
        for text, p in zip(reading.texts, reading.probabilities(), strict=True):
            left = consistent(so_far + text, values)
            if len(left) == 1:
                (value,) = left
                masses[value] = masses.get(value, 0.0) + float(p)
                continue
            below = self._resolve(key, so_far + text, values)  # read one token further on
            total = sum(below.values())
            for value, q in below.items():
                masses[value] = masses.get(value, 0.0) + float(p) * q / total
        return masses


def expected_value(distribution: dict[str, float]) -> float:
    """The mean of a distribution over numeric literals.

    >>> expected_value({"8": 0.5, "10": 0.5})
    9.0
    """
    return sum(float(v) * p for v, p in distribution.items())
