"""Rules on the Generator's drafts, as pure functions (project extension, docs/method.md).

A small model asked to answer a task sometimes writes the task out again instead, and one asked
to write a task sometimes copies its own instructions ("Write a new task about the keywords
..."). Reviewers are costly and, at this size, easily fooled by such fluent text, so these
drafts are caught here, before any reviewer sees them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORDS = re.compile(r"\w+")

ECHO_WORDS = 6
"""A run of this many words copied from a stage's own prompt text marks a draft as an echo of
its instructions; ordinary tasks and answers share no such run with a generic prompt."""

_FILLER_TEXT = """a an the and or of to in on for with by at from as is are be was were it this
that these those here there sure certainly okay ok yes no please thanks thank you your my me i
we our can could would will shall should do does did let s answer task request question
following below above"""
FILLER = frozenset(_FILLER_TEXT.split())
"""Words that carry no answer: an echo of the task padded with them is still an echo."""


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def restates_instruction(instruction: str, response: str) -> bool:
    """Whether ``response`` is the instruction again rather than an answer to it.

    An answer, however short, brings at least one word of content the task does not contain
    ("Paris" to "Name the capital of France"); an echo of the task, with or without filler such
    as "Sure!", brings none. A response that repeats the question and then answers it ("The
    process ... is called photosynthesis") is an answer.

    >>> restates_instruction("Solve for x: 3x + 7 = 22.", "Sure! Solve for x: 3x + 7 = 22")
    True
    >>> restates_instruction("Name the capital of France.", "Paris.")
    False
    """
    given = set(_words(instruction)) | FILLER
    return not any(word not in given for word in _words(response))


def _runs(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def echoes_prompt(draft: str, fixed_text: Sequence[str], n: int = ECHO_WORDS) -> bool:
    """Whether ``draft`` copies a run of ``n`` words from ``fixed_text``: the stage prompt's
    own text between its placeholders (``PromptTemplate.fixed_text``), so the values it was
    given never count.

    >>> t = ("Now write ONE new task about these keywords: ", ". Do not answer it.")
    >>> echoes_prompt("Write ONE new task about these keywords: a, b, c.", t)
    True
    >>> echoes_prompt("Write a Python function that reverses a list.", t)
    False
    """
    fixed = set()
    for segment in fixed_text:
        fixed |= _runs(_words(segment), n)
    return bool(fixed & _runs(_words(draft), n))
