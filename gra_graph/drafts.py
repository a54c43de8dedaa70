"""Rules on the Generator's drafts, as pure functions (project extension, docs/method.md).

A small model asked to answer a task sometimes writes the task out again instead. Reviewers
are costly and, at this size, easily fooled by a fluent restatement, so such a draft is caught
here, before any reviewer sees it.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

RESTATEMENT_SIMILARITY = 0.85
"""Similarity (difflib ratio of the normalised texts) at or above which a response counts as a
restatement of its instruction. Real answers, even short ones, share far less text with the
task; 0.85 still flags a copy with a changed word or an added "Sure:"."""

_WORDS = re.compile(r"\w+")


def _normalised(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def restates_instruction(instruction: str, response: str) -> bool:
    """Whether ``response`` is the instruction again rather than an answer to it.

    True when the response, normalised (lower case, words only), is the instruction plus at
    most a few words, or is near-identical to it.

    >>> restates_instruction("Solve for x: 3x + 7 = 22.", "Solve for x: 3x + 7 = 22")
    True
    >>> restates_instruction("Solve for x: 3x + 7 = 22.", "3x = 15, so x = 5.")
    False
    """
    task, answer = _normalised(instruction), _normalised(response)
    if not answer:
        return True
    if task and answer.startswith(task) and len(answer) - len(task) < 24:
        return True
    return SequenceMatcher(None, task, answer, autojunk=False).ratio() >= RESTATEMENT_SIMILARITY
