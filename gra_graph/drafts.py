"""Rules on the Generator's drafts, as pure functions (project extension, docs/method.md).

A small model asked to answer a task sometimes writes the task out again instead, and one asked
to write a task sometimes copies its own instructions ("Write a new task about the keywords
..."). Reviewers are costly and, at this size, easily fooled by such fluent text, so these
drafts are caught here, before any reviewer sees them. Each rule returns the reason a draft
fails, or None; the node gives a failed draft ``generation.draft_attempts`` tries in all. With
``generation.cut_answers: reject`` an answer that ran out of tokens fails too
(:func:`cut_answer`).
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


_OWN_MAKING = re.compile(
    r"""\b(?:
        (?:tasks?|examples?|keywords)\s+above\b                   # "the real tasks above"
      | (?:real|previous|example|sample)\s+tasks?\b             # "the real tasks"
      | the\s+training\s+examples?\b                           # "the training example describes"
      | (?:given|provided)\s+keywords\b                         # "using the given keywords"
      | (?:new|another)\s+task\s+(?:about|on|related\s+to|involving|based\s+on|around
            |combining|covering|using|with\s+the\s+keywords)\b  # "write a new task about X"
    )""",
    re.IGNORECASE | re.VERBOSE,
)
"""Phrases by which a draft speaks of the prompt that made it (its example tasks, its keywords)
rather than being a task a user would send; the instruction prompt forbids exactly this."""


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


def speaks_of_its_making(instruction: str) -> bool:
    """Whether an instruction is about writing tasks from the Generator's own prompt (a
    meta-task: "Create a new task about X, Y and Z", "... differ from the real tasks above")
    rather than a task itself. Ordinary uses of "task" (a task scheduler, a to-do task) or of
    "keywords" (a language's keywords) do not count.

    >>> speaks_of_its_making("Create a new task about the travel phrase and third person.")
    True
    >>> speaks_of_its_making("Write a Python task scheduler that runs jobs every hour.")
    False
    >>> speaks_of_its_making("What are the reserved keywords of C, and what does each do?")
    False
    """
    return _OWN_MAKING.search(instruction) is not None


def instruction_fault(instruction: str, fixed_text: Sequence[str]) -> str | None:
    """Why a drafted instruction is not a task (a reason to reject or redraft it), or None."""
    if echoes_prompt(instruction, fixed_text):
        return "copied its prompt, not wrote a task"
    if speaks_of_its_making(instruction):
        return "wrote about its prompt's tasks, not a task"
    return None


def response_fault(instruction: str, response: str, fixed_text: Sequence[str]) -> str | None:
    """Why a drafted response is not an answer to ``instruction``, or None."""
    if restates_instruction(instruction, response):
        return "restated the instruction, not answered it"
    if echoes_prompt(response, fixed_text):
        return "copied its prompt, not answered"
    return None


def cut_answer(finish_reason: str | None, budget: int) -> str | None:
    """Why an answer whose generation stopped at its token budget fails (it is cut off
    mid-text: the labelled pairs' ``truncated`` defect), or None.

    >>> cut_answer("length", 256)
    'wrote an answer cut at its 256-token budget (budgets.write_response)'
    >>> cut_answer("stop", 256) is None
    True
    """
    if finish_reason == "length":
        return f"wrote an answer cut at its {budget}-token budget (budgets.write_response)"
    return None
