"""The only code that calls llama.cpp: one loaded GGUF file, shared by every member that uses it.

A ``Llama`` object is not thread-safe, so each loaded model owns a single worker thread and every
call on it runs there, one at a time, off the event loop. Different model files run in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gra_graph.llm.chat_format import FORMATTERS, FormattedPrompt, Message, format_with_template


class ModelLoadError(RuntimeError):
    """llama.cpp could not load a model file."""


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
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


@dataclass(frozen=True)
class Completion:
    """What a completion produced, with token and time accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    finish_reason: str | None


@dataclass(frozen=True)
class LoadSettings:
    """llama.cpp load-time settings; members whose settings differ load separate instances."""

    path: Path
    chat_format: str
    n_ctx: int
    n_threads: int | None
    n_gpu_layers: int


class LoadedModel:
    """A GGUF file loaded by llama.cpp, with its own worker thread."""

    def __init__(self, settings: LoadSettings) -> None:
        from llama_cpp import Llama

        self.settings = settings
        try:
            with _quiet_native_stderr():
                self._llama = Llama(
                    model_path=str(settings.path),
                    n_ctx=settings.n_ctx,
                    n_threads=settings.n_threads,
                    n_gpu_layers=settings.n_gpu_layers,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp cannot load {settings.path}: {exc}") from None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._grammars: dict[str, Any] = {}
        self._grammar_lock = threading.Lock()
        self._template = self._llama.metadata.get("tokenizer.chat_template")
        if settings.chat_format == "template" and not self._template:
            raise ModelLoadError(
                f"{settings.path.name} has no chat template; set the member's chat_format to "
                "chatml, gemma or plain"
            )

    @property
    def path(self) -> Path:
        return self.settings.path

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        """Render messages in this model's chat format."""
        if self.settings.chat_format == "template":
            vocab = self._llama._model
            bos = vocab.token_get_text(vocab.token_bos()) if vocab.token_bos() >= 0 else ""
            eos = vocab.token_get_text(vocab.token_eos()) if vocab.token_eos() >= 0 else ""
            return format_with_template(messages, self._template, bos, eos)
        return FORMATTERS[self.settings.chat_format](messages)

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one completion on this model's worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self.complete_blocking, request)

    def complete_sync(self, request: CompletionRequest) -> Completion:
        """Run one completion on this model's worker thread and wait for it (no event loop)."""
        return self._worker.submit(self.complete_blocking, request).result()

    def complete_blocking(self, request: CompletionRequest) -> Completion:
        """Run one completion on the calling thread (only from this model's worker)."""
        prompt = self.format(request.messages)
        grammar = self._grammar(request.json_schema) if request.json_schema else None
        started = time.perf_counter()
        result = self._llama.create_completion(
            prompt.text,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            repeat_penalty=request.repeat_penalty,
            seed=request.seed,
            stop=list(prompt.stop + request.stop),
            grammar=grammar,
        )
        seconds = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result.get("usage", {})
        return Completion(
            text=choice["text"],
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.get("finish_reason"),
        )

    def _grammar(self, schema: str) -> Any:
        from llama_cpp import LlamaGrammar

        with self._grammar_lock:
            if schema not in self._grammars:
                # Validate the schema is JSON here so a bad one fails loudly, not as plain JSON.
                json.loads(schema)
                self._grammars[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)
            return self._grammars[schema]

    def close(self) -> None:
        """Stop the worker and free the model."""
        self._worker.shutdown(wait=True)
        self._llama.close()
