"""The order a reviewer is asked its score dimensions in, and the prompt text that asks it.

Small models score in prompt order: asked correctness, clarity, ..., ethicality, they often
write a run such as 9, 8, 7, 6, 5, 4 whatever the answer. ``judging.score_order`` breaks that
tie between position and dimension (docs/method.md, section 9f):

- ``fixed``: the graph's order, every call (the paper);
- ``shuffled``: a permutation per reviewer call, seeded by the run seed and the call's
  identity, so a resumed or repeated call asks in the same order;
- ``one_per_call``: each dimension in a call of its own.

The prompt says the order twice, and both are rewritten from the prompt file's own text, so
prompts stay plain files:

- **rubric lines**: a block of lines, one per dimension, each starting with ``- name:`` (or
  ``* name:``). The block is reordered, or cut to the dimensions asked.
- **lists**: every place where all the dimension names appear in the graph's order, quoted
  (``"correctness", "clarity", ...``, the JSON key list) or not (``on correctness, clarity
  and ethicality``), separated by commas and/or "and". The names are put in the call's order
  (or cut to those asked), the separators kept.

The JSON key order the grammar enforces follows from the output schema, which is built in the
call's order. :func:`order_problems` says, when a graph is loaded, whether a prompt can be
reordered at all.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Sequence

from gra_graph.roles import derive_seed

_SEPARATOR = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+)"


def dimension_orders(
    mode: str, dimensions: Sequence[str], run_seed: int, *call_key: object
) -> list[tuple[str, ...]]:
    """The dimension order of each call a reviewer makes for one score: one call in the graph's
    order (``fixed``), one in a seeded permutation (``shuffled``), or one call per dimension
    (``one_per_call``, in a seeded order too).

    >>> dimension_orders("fixed", ("a", "b", "c"), 0, "r1", 0)
    [('a', 'b', 'c')]
    >>> sorted(dimension_orders("one_per_call", ("a", "b"), 0, "r1", 0))
    [('a',), ('b',)]
    """
    dims = tuple(dimensions)
    if mode == "fixed":
        return [dims]
    rng = random.Random(derive_seed(run_seed, "score_order", *call_key))
    order = tuple(rng.sample(dims, len(dims)))
    if mode == "shuffled":
        return [order]
    if mode == "one_per_call":
        return [(d,) for d in order]
    raise ValueError(f"unknown score order {mode!r}")


def _rubric_line(dimension: str) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*[-*][ \t]*{re.escape(dimension)}\b.*$", re.MULTILINE)


def _list_pattern(dimensions: Sequence[str]) -> re.Pattern[str]:
    """All names in order, quoted alike, joined by separators (each captured)."""
    quote = r'(?P<q>"?)'
    parts = [quote + re.escape(dimensions[0]) + "(?P=q)"]
    for i, d in enumerate(dimensions[1:]):
        parts.append(f"(?P<s{i}>{_SEPARATOR})(?P=q){re.escape(d)}(?P=q)")
    return re.compile(r"(?<![\w\"])" + "".join(parts) + r"(?![\w\"])")


def order_problems(text: str, dimensions: Sequence[str]) -> list[str]:
    """Why ``text`` (a scored stage's prompt) cannot be asked in another order; empty if it can.

    It needs the JSON key list (every dimension quoted, in order, in one list), and either no
    rubric lines or exactly one per dimension in one block.
    """
    problems = []
    if len(dimensions) > 1 and not any(
        m.group("q") for m in _list_pattern(dimensions).finditer(text)
    ):
        problems.append(
            "no list of every dimension's JSON key in graph order (such as "
            + ", ".join(f'"{d}"' for d in dimensions)
            + ") to reorder"
        )
    lines = {d: _rubric_line(d).findall(text) for d in dimensions}
    found = [d for d, hits in lines.items() if hits]
    if found and (len(found) < len(dimensions) or any(len(h) > 1 for h in lines.values())):
        problems.append("rubric lines ('- name: ...') must be exactly one per dimension")
    elif found and _rubric_block(text, dimensions) is None:
        problems.append("the rubric lines ('- name: ...') must stand together in one block")
    return problems


def _rubric_block(text: str, dimensions: Sequence[str]) -> tuple[int, int, dict[str, str]] | None:
    """(start, end, dimension -> line) of the rubric block, or None if it is not one block."""
    spans = {}
    for d in dimensions:
        m = _rubric_line(d).search(text)
        if m is None:
            return None
        spans[d] = (m.start(), m.end())
    ordered = sorted(spans.values())
    for (_s, end), (start, _e) in itertools.pairwise(ordered):
        if text[end:start] != "\n":
            return None
    return ordered[0][0], ordered[-1][1], {d: text[a:b] for d, (a, b) in spans.items()}


def reorder_prompt(text: str, dimensions: Sequence[str], order: Sequence[str]) -> str:
    """``text`` asking for the dimensions ``order`` (a permutation or a subset of
    ``dimensions``, the graph's order) instead of ``dimensions``; see the module docstring.

    >>> reorder_prompt('- a: one\\n- b: two\\nKeys "a", "b" and "c".', ("a", "b"), ("b", "a"))
    '- b: two\\n- a: one\\nKeys "b", "a" and "c".'
    >>> reorder_prompt('Score a, b and c. Keys "a", "b", "c".', ("a", "b", "c"), ("c",))
    'Score c. Keys "c".'
    """
    dims, order = tuple(dimensions), tuple(order)
    if order == dims:
        return text
    block = _rubric_block(text, dims)
    if block is not None:
        start, end, line = block
        text = text[:start] + "\n".join(line[d] for d in order) + text[end:]
    if len(dims) < 2:
        return text

    def rewrite(m: re.Match[str]) -> str:
        q = m.group("q")
        seps = [m.group(f"s{i}") for i in range(len(dims) - 1)]
        kept = [*seps[: len(order) - 2], seps[-1]] if len(order) >= 2 else []
        out = f"{q}{order[0]}{q}"
        for sep, d in zip(kept, order[1:], strict=True):
            out += f"{sep}{q}{d}{q}"
        return out

    return _list_pattern(dims).sub(rewrite, text)


@functools.lru_cache(maxsize=64)  # asked on every scored call; prompts are few
def text_keys_first(
    text: str, dimensions: tuple[str, ...], text_keys: tuple[str, ...]
) -> tuple[str, ...] | None:
    """The free-text JSON keys (``text_keys``: "weaknesses", "rationale", ...) a scored stage's
    prompt names, quoted, before every dimension key, in the prompt's order; None when it names
    none first. Such a prompt asks for the critique before the scores, and the output schema is
    built in that order.

    >>> text_keys_first('Keys "weaknesses", "strengths", "a" and "b".', ("a", "b"),
    ...                 ("strengths", "weaknesses"))
    ('weaknesses', 'strengths')
    >>> text_keys_first('Keys "a", "b" and "weaknesses".', ("a", "b"), ("weaknesses",)) is None
    True
    """
    first_dim = min((i for d in dimensions if (i := text.find(f'"{d}"')) >= 0), default=len(text))
    found = sorted((i, k) for k in text_keys if 0 <= (i := text.find(f'"{k}"')) < first_dim)
    return tuple(k for _, k in found) or None
