"""What every llama.cpp engine offers the rest of the model layer, and how one is chosen.

Two engines run a loaded GGUF file:

- ``simple`` (:mod:`gra_graph.llm.simple`): llama-cpp-python's high-level ``Llama``, one call
  at a time on a worker thread.
- ``batched`` (:mod:`gra_graph.llm.batched`): continuous batching on the low-level API, many
  sequences decoded together in one context, prompt prefixes reused from the KV cache, and
  grammars checked one sampled token at a time.

Both take a :class:`CompletionRequest` and return a :class:`Completion`, so the chat models,
the nodes and the graph files do not depend on which one runs. Which one loads a file is
decided in :mod:`gra_graph.llm.loader`; this module imports neither engine.

Both load model files through :mod:`gra_graph.llm.load_params`, which holds every llama.cpp
load-time setting (and keeps the extra buffer types that crash AMX CPUs off).
"""

from __future__ import annotations

import contextlib
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gra_graph.llm.chat_format import FORMATTERS, FormattedPrompt, Message, format_with_template
from gra_graph.llm.value_probe import TokenTable, ValueProbe

if TYPE_CHECKING:
    from llama_cpp._internals import LlamaModel

    from gra_graph.llm.tokens import PromptTokenizer

EngineKind = Literal["simple", "batched"]


class ModelLoadError(RuntimeError):
    """llama.cpp could not load a model file."""


class ContextOverflowError(ValueError):
    """A request's prompt does not fit the context a member was given (``n_ctx``)."""


class EngineClosedError(RuntimeError):
    """The engine was closed while the request waited or ran."""


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level notices while a model loads (verbose=False misses some).

    Models load before any sample starts, so no other thread's output is lost; failures still
    surface as Python exceptions.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield  # stderr is not a real file (some test runners): nothing to silence
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass(frozen=True)
class CompletionRequest:
    """One completion: the prompt and the per-call sampling settings."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int = 0
    json_schema: str | None = None
    stop: tuple[str, ...] = ()
    probes: tuple[ValueProbe, ...] = ()
    """Keys whose value distributions to read from the logits (see ``llm/value_probe.py``)."""


@dataclass(frozen=True)
class Completion:
    """What a completion produced, with token and time accounting.

    ``reused_prompt_tokens`` counts prompt tokens whose KV cells were borrowed from another
    sequence instead of being read again (batched engine only). ``distributions`` holds, for
    each probed key that was read, the model's probability of each allowed value;
    ``lookahead_decodes`` counts the extra one-token decodes that reading took.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    finish_reason: str | None
    reused_prompt_tokens: int = 0
    distributions: dict[str, dict[str, float]] | None = None
    lookahead_decodes: int = 0


@dataclass(frozen=True)
class BatchSettings:
    """Sizes of the batched engine (ignored by the simple one)."""

    max_sequences: int = 8
    prefix_cache: int = 8
    n_batch: int = 512
    min_prefix: int = 32


@dataclass(frozen=True)
class LoadSettings:
    """llama.cpp load-time settings; members whose settings differ load separate instances."""

    path: Path
    chat_format: str
    n_ctx: int
    n_threads: int | None
    n_gpu_layers: int
    engine: EngineKind = "simple"
    batch: BatchSettings = BatchSettings()


class ModelEngine(ABC):
    """A GGUF file loaded by llama.cpp, answering :class:`CompletionRequest` s."""

    settings: LoadSettings
    _template: str | None = None
    _prompt_tokenizer: PromptTokenizer | None = None
    _token_table: TokenTable | None = None

    @property
    def path(self) -> Path:
        return self.settings.path

    def _check_template(self) -> None:
        if self.settings.chat_format == "template" and not self._template:
            raise ModelLoadError(
                f"{self.settings.path.name} has no chat template; set the member's chat_format "
                "to chatml, gemma or plain"
            )

    @abstractmethod
    def _special_texts(self) -> tuple[str, str]:
        """The texts of the BOS and EOS tokens (for chat templates that print them)."""

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        """Render messages in this model's chat format."""
        if self.settings.chat_format == "template":
            assert self._template is not None  # checked at load
            bos, eos = self._special_texts()
            return format_with_template(messages, self._template, bos, eos)
        return FORMATTERS[self.settings.chat_format](messages)

    @abstractmethod
    def _llama_model(self) -> LlamaModel:
        """The loaded model, for its vocabulary."""

    def tokenize_prompt(self, prompt: FormattedPrompt) -> list[int]:
        """The tokens the model reads for ``prompt``: only markup can give control tokens.

        See :mod:`gra_graph.llm.tokens`. Call it from the engine's own thread; the vocabulary is
        scanned on the first call.
        """
        if self._prompt_tokenizer is None:
            from gra_graph.llm.tokens import PromptTokenizer

            self._prompt_tokenizer = PromptTokenizer(self._llama_model())
        return self._prompt_tokenizer.tokens(prompt)

    def token_table(self) -> TokenTable:
        """Every token's text, for reading value distributions (built on first use; call it
        from the engine's own thread)."""
        if self._token_table is None:
            self._token_table = TokenTable(token_pieces(self._llama_model()))
        return self._token_table

    @abstractmethod
    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one completion without blocking the event loop; cancelling it frees its slot."""

    @abstractmethod
    def complete_sync(self, request: CompletionRequest) -> Completion:
        """Run one completion and wait for it (no event loop)."""

    @abstractmethod
    def close(self) -> None:
        """Finish or fail what is in flight and free the model."""


def token_pieces(model: LlamaModel) -> list[bytes]:
    """The printed bytes of every token of ``model``'s vocabulary (control tokens: empty)."""
    import ctypes

    import llama_cpp

    vocab = model.vocab
    buf = ctypes.create_string_buffer(64)
    pieces = []
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
        pieces.append(buf.raw[: max(n, 0)])  # a piece longer than 64 bytes is no value's part
    return pieces
