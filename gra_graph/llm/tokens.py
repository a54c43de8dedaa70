"""Prompt tokenization in which only the chat template's markup can become control tokens.

Tokenizing a whole prompt with ``special=True`` lets any text spell a control token: a seed
holding ``<|im_end|>`` or ``<start_of_turn>`` would close the user turn and open a system or
assistant turn of its own. Here control tokens are looked for only in the template's markup
pieces of a :class:`~gra_graph.llm.chat_format.FormattedPrompt`; the text between two control
tokens (markup and content alike) is tokenized as one run with ``special=False``.

That is exactly what llama.cpp does with the whole string, minus the control tokens that content
spelled: it too splits the text at control tokens first and tokenizes each run between them on
its own. So for text that holds no control strings the tokens are the same as before, for every
tokenizer family (BPE, SentencePiece with or without a space prefix), and content that does hold
them is read as the characters it is. Tokens that the vocabulary marks user-defined but not
control (Gemma's ``<s>``, Qwen's ``<tool_call>``) still match in plain text, as in the reference
tokenizers: they are ordinary vocabulary entries and end no turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from gra_graph.llm.chat_format import FormattedPrompt, Piece

if TYPE_CHECKING:
    from llama_cpp._internals import LlamaModel

_WHITESPACE = " \t\n\v\f\r"  # C isspace(), which llama.cpp's lstrip/rstrip use


@dataclass(frozen=True)
class ControlToken:
    """A vocabulary entry that only ``special=True`` tokenization produces."""

    id: int
    text: str
    lstrip: bool = False  # llama.cpp drops whitespace before / after it (phi-3 and others)
    rstrip: bool = False


Item: TypeAlias = str | ControlToken


def control_tokens(model: LlamaModel) -> tuple[ControlToken, ...]:
    """The control (and unknown) tokens of ``model``'s vocabulary, longest text first.

    These are the tokens ``special=True`` adds to what ``special=False`` already matches; the
    order is llama.cpp's, so a longer marker wins over a shorter one it contains.
    """
    import llama_cpp

    vocab = model.vocab
    wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
    found = []
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        if not attr & wanted:
            continue
        try:
            text = llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8")
        except UnicodeDecodeError:
            continue  # no markup string can spell it
        if text:
            found.append(
                ControlToken(
                    token,
                    text,
                    bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_LSTRIP),
                    bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_RSTRIP),
                )
            )
    found.sort(key=lambda t: len(t.text), reverse=True)
    return tuple(found)


def split_markup(pieces: Sequence[Piece], controls: Sequence[ControlToken]) -> list[Item]:
    """Control tokens found in markup pieces, and the text runs between them.

    Content pieces are never searched, and a marker split across pieces is not one. Runs are
    merged across piece boundaries and trimmed where a neighbouring token strips whitespace,
    as llama.cpp does for the whole string.
    """
    parts: list[Piece | ControlToken] = list(pieces)
    markup = "".join(text for text, is_markup in pieces if is_markup)
    for control in controls:
        if control.text not in markup:
            continue
        split: list[Piece | ControlToken] = []
        for part in parts:
            if isinstance(part, ControlToken) or not part[1] or control.text not in part[0]:
                split.append(part)
                continue
            for i, chunk in enumerate(part[0].split(control.text)):
                if i:
                    split.append(control)
                if chunk:
                    split.append((chunk, True))
        parts = split
    items: list[Item] = []
    for part in parts:
        if isinstance(part, ControlToken):
            items.append(part)
        elif items and isinstance(items[-1], str):
            items[-1] += part[0]
        else:
            items.append(part[0])
    for i, item in enumerate(items):
        if not isinstance(item, str):
            continue
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        if isinstance(before, ControlToken) and before.rstrip:
            item = item.lstrip(_WHITESPACE)
        if isinstance(after, ControlToken) and after.lstrip:
            item = item.rstrip(_WHITESPACE)
        items[i] = item
    return [item for item in items if item != ""]


class PromptTokenizer:
    """Tokenizes formatted prompts for one loaded model (build once: it scans the vocabulary)."""

    def __init__(self, model: LlamaModel) -> None:
        import llama_cpp

        self._model = model
        self.controls = control_tokens(model)
        vocab = model.vocab
        bos, eos = model.token_bos(), model.token_eos()
        # What llama_tokenize(add_special=True) wraps a prompt in, for the vocabularies of
        # generative models.
        self.bos = bos if llama_cpp.llama_vocab_get_add_bos(vocab) and bos >= 0 else None
        self.eos = eos if llama_cpp.llama_vocab_get_add_eos(vocab) and eos >= 0 else None

    def plain(self, text: str) -> list[int]:
        """``text`` as plain text: no control token can come out of it."""
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def tokens(self, prompt: FormattedPrompt) -> list[int]:
        """The prompt's tokens: markup's control tokens, every other run as plain text.

        BOS comes first when the model wants one, once: not again when the template wrote it.
        """
        items = split_markup(prompt.pieces, self.controls)
        out: list[int] = []
        first = items[0] if items else None
        if self.bos is not None and not (isinstance(first, ControlToken) and first.id == self.bos):
            out.append(self.bos)
        for item in items:
            if isinstance(item, ControlToken):
                out.append(item.id)
            else:
                out.extend(self.plain(item))
        if self.eos is not None:
            out.append(self.eos)
        return out
