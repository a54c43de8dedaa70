"""Turning chat messages into a prompt, per model family, with markup kept apart from content.

The Gemma-3 GGUF carries no chat template and llama-cpp-python's own ``gemma`` format drops
system messages, so the Gemma format here folds the system text into the first user turn.
``plain`` is for base models, which answer completion-style text better than chat turns.
``template`` uses the chat template stored in the GGUF (for users' own models).

A prompt is kept as pieces, each either template markup or message content, because only markup
may turn into control tokens: a seed that holds ``<|im_end|>`` or ``<start_of_turn>`` must reach
the model as those characters, not close its turn and open one of its own
(:mod:`gra_graph.llm.tokens` does the tokenizing).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Message = tuple[Literal["system", "user", "assistant"], str]

Piece = tuple[str, bool]
"""A stretch of prompt text and whether it is template markup (``True``) or content."""


@dataclass(frozen=True)
class FormattedPrompt:
    """A prompt ready for completion, with the strings that end the model's turn.

    ``pieces`` alternate between markup and content (adjacent pieces of one kind are merged).
    """

    pieces: tuple[Piece, ...]
    stop: tuple[str, ...]

    @property
    def text(self) -> str:
        """The whole prompt as one string (for display and logs; never tokenize it whole)."""
        return "".join(text for text, _ in self.pieces)

    @property
    def content(self) -> tuple[str, ...]:
        """The content pieces, in order."""
        return tuple(text for text, markup in self.pieces if not markup)


class _Builder:
    """Collects markup and content pieces, merging neighbours of the same kind."""

    def __init__(self) -> None:
        self._pieces: list[Piece] = []

    def add(self, text: str, markup: bool) -> None:
        if not text:
            return
        if self._pieces and self._pieces[-1][1] == markup:
            self._pieces[-1] = (self._pieces[-1][0] + text, markup)
        else:
            self._pieces.append((text, markup))

    def markup(self, text: str) -> None:
        self.add(text, True)

    def content(self, text: str) -> None:
        self.add(text, False)

    def build(self, stop: Sequence[str]) -> FormattedPrompt:
        return FormattedPrompt(tuple(self._pieces), tuple(stop))


def _system_and_turns(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    system = "\n\n".join(text for role, text in messages if role == "system" and text)
    return system, [(role, text) for role, text in messages if role != "system"]


def format_chatml(messages: Sequence[Message]) -> FormattedPrompt:
    out = _Builder()
    for role, text in messages:
        out.markup(f"<|im_start|>{role}\n")
        out.content(text)
        out.markup("<|im_end|>\n")
    out.markup("<|im_start|>assistant\n")
    return out.build(("<|im_end|>",))


def format_gemma(messages: Sequence[Message]) -> FormattedPrompt:
    system, turns = _system_and_turns(messages)
    if system and not turns:
        turns, system = [("user", system)], ""
    out = _Builder()
    for i, (role, text) in enumerate(turns):
        speaker = "model" if role == "assistant" else "user"
        out.markup(f"<start_of_turn>{speaker}\n")
        if i == 0 and system:
            out.content(system)
            out.markup("\n\n")
        out.content(text)
        out.markup("<end_of_turn>\n")
    out.markup("<start_of_turn>model\n")
    return out.build(("<end_of_turn>",))


def format_plain(messages: Sequence[Message]) -> FormattedPrompt:
    system, turns = _system_and_turns(messages)
    out = _Builder()
    first = True
    for role, text in ([("system", system)] if system else []) + turns:
        if not first:
            out.markup("\n\n")
        first = False
        if role == "assistant":
            out.markup("Answer: ")
        out.content(text)
    out.markup("\n\nAnswer:")
    return out.build(("\n\n\n",))


# ---- the GGUF's own template ---------------------------------------------------------------

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: no template or tokenizer uses them


@functools.lru_cache(maxsize=8)
def _formatter(template: str, bos: str, eos: str) -> Any:
    """The compiled template (compiling it again for every call costs more than rendering)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, bos_token=bos, eos_token=eos)


def _render(formatter: Any, messages: Sequence[Message], contents: Sequence[str]) -> str:
    pairs = zip(messages, contents, strict=True)
    result = formatter(messages=[{"role": role, "content": c} for (role, _), c in pairs])
    return str(result.prompt)


def format_with_template(
    messages: Sequence[Message], template: str, bos: str, eos: str
) -> FormattedPrompt:
    """Render the GGUF's own Jinja chat template (sandboxed by llama-cpp-python).

    The template is rendered twice: with the real contents, which is the prompt, and with a
    sentinel in place of each content, which shows where the template's own markup lies. The
    real rendering is then cut along that markup. Templates that ``trim`` a content are followed;
    one that rewrites content in another way (or renders differently for the sentinel) gets the
    content as written inside its markup, so content can never be taken for markup.
    """
    formatter = _formatter(template, bos, eos)
    stop = (eos,) if eos else ()
    texts = [text for _, text in messages]
    rendered = _render(formatter, messages, texts)
    opener = _OPEN
    while any(opener in s for s in (template, bos, eos, *texts)):
        opener += _OPEN  # content that holds the sentinel gets a longer one
    sentinels = [f"{opener}{i}{_CLOSE}" if text else "" for i, text in enumerate(texts)]
    marked = _render(formatter, messages, sentinels)
    parts: list[str | int] = []
    for k, chunk in enumerate(re.split(f"{re.escape(opener)}([0-9]+){_CLOSE}", marked)):
        parts.append(int(chunk) if k % 2 else chunk)
    if any(isinstance(p, str) and opener in p for p in parts):
        raise ValueError("the chat template rewrites message content; use another chat_format")
    pieces = _cut(parts, texts, rendered)
    if pieces is None:  # the template changed content beyond trimming: keep it as written
        pieces = [(p, True) if isinstance(p, str) else (texts[p], False) for p in parts]
    out = _Builder()
    for text, markup in pieces:
        out.add(text, markup)
    return out.build(stop)


def _cut(parts: Sequence[str | int], texts: Sequence[str], rendered: str) -> list[Piece] | None:
    """Cut ``rendered`` into the markup ``parts`` and the content they frame, or ``None``.

    A content slot takes the content as written or trimmed (Jinja's ``trim``), whichever lets
    the next markup follow; content is only ever compared, never searched for, so text that
    imitates markup cannot move a boundary.
    """
    pos, pieces = 0, []
    for k, part in enumerate(parts):
        if isinstance(part, str):
            if not rendered.startswith(part, pos):
                return None
            pieces.append((part, True))
            pos += len(part)
            continue
        following = parts[k + 1] if k + 1 < len(parts) else ""
        text = texts[part]
        for candidate in dict.fromkeys((text, text.strip(), text.lstrip(), text.rstrip())):
            end = pos + len(candidate)
            if rendered.startswith(candidate, pos) and (
                not isinstance(following, str) or rendered.startswith(following, end)
            ):
                pieces.append((candidate, False))
                pos = end
                break
        else:
            return None
    return pieces if pos == len(rendered) else None


FORMATTERS = {"chatml": format_chatml, "gemma": format_gemma, "plain": format_plain}
