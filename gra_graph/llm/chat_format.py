"""Turning chat messages into one prompt string, per model family.

The Gemma-3 GGUF carries no chat template and llama-cpp-python's own ``gemma`` format drops
system messages, so the Gemma format here folds the system text into the first user turn.
``plain`` is for base models, which answer completion-style text better than chat turns.
``template`` uses the chat template stored in the GGUF (for users' own models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Message = tuple[Literal["system", "user", "assistant"], str]


@dataclass(frozen=True)
class FormattedPrompt:
    """A prompt ready for completion, with the strings that end the model's turn."""

    text: str
    stop: tuple[str, ...]


def _system_and_turns(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    system = "\n\n".join(text for role, text in messages if role == "system" and text)
    return system, [(role, text) for role, text in messages if role != "system"]


def format_chatml(messages: Sequence[Message]) -> FormattedPrompt:
    parts = [f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in messages]
    parts.append("<|im_start|>assistant\n")
    return FormattedPrompt("".join(parts), ("<|im_end|>",))


def format_gemma(messages: Sequence[Message]) -> FormattedPrompt:
    system, turns = _system_and_turns(messages)
    if system and not turns:
        turns, system = [("user", system)], ""
    parts = []
    for i, (role, text) in enumerate(turns):
        if i == 0 and system:
            text = f"{system}\n\n{text}"
        speaker = "model" if role == "assistant" else "user"
        parts.append(f"<start_of_turn>{speaker}\n{text}<end_of_turn>\n")
    parts.append("<start_of_turn>model\n")
    return FormattedPrompt("".join(parts), ("<end_of_turn>",))


def format_plain(messages: Sequence[Message]) -> FormattedPrompt:
    system, turns = _system_and_turns(messages)
    parts = [system] if system else []
    for role, text in turns:
        parts.append(text if role == "user" else f"Answer: {text}")
    return FormattedPrompt("\n\n".join(parts) + "\n\nAnswer:", ("\n\n\n",))


def format_with_template(
    messages: Sequence[Message], template: str, bos: str, eos: str
) -> FormattedPrompt:
    """Render the GGUF's own Jinja chat template (sandboxed by llama-cpp-python)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, bos_token=bos, eos_token=eos)
    result = formatter(messages=[{"role": r, "content": t} for r, t in messages])
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return FormattedPrompt(result.prompt, tuple(stop) or (eos,))


FORMATTERS = {"chatml": format_chatml, "gemma": format_gemma, "plain": format_plain}
