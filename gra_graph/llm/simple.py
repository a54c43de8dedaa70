"""The one-call-at-a-time engine: llama-cpp-python's high-level ``Llama`` on a worker thread.

A ``Llama`` object is not thread-safe, so each loaded model owns a single worker thread and every
call on it runs there, one at a time, off the event loop. Different model files run in parallel.

Every call starts from an empty KV cache. ``Llama`` would otherwise reuse the prompt prefix left
by whatever call ran last, and reading the rest of a prompt in a different split changes the
logits in their last bits on some weight types (measured on Gemma-3-270M Q4_K_M): the same call
would then give a different answer depending on which call happened to run before it, and a
resumed run could not reproduce an uninterrupted one. The batched engine keeps prefix reuse
because it reads every prompt the same way whether or not the prefix is borrowed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from gra_graph.llm.engine import (
    Completion,
    CompletionRequest,
    ContextOverflowError,
    LoadSettings,
    ModelEngine,
    ModelLoadError,
    quiet_native_stderr,
)
from gra_graph.llm.load_params import load_llama
from gra_graph.llm.value_probe import ProbeReader, consistent

if TYPE_CHECKING:
    from llama_cpp._internals import LlamaModel


class SimpleEngine(ModelEngine):
    """A GGUF file loaded by llama-cpp-python's ``Llama``, with its own worker thread."""

    def __init__(self, settings: LoadSettings) -> None:
        self.settings = settings
        try:
            with quiet_native_stderr():
                self._llama = load_llama(settings)  # the same safe model params as batched
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp cannot load {settings.path}: {exc}") from None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._grammars: dict[str, Any] = {}
        self._grammar_lock = threading.Lock()
        self._template = self._llama.metadata.get("tokenizer.chat_template")
        self._check_template()

    def _special_texts(self) -> tuple[str, str]:
        vocab = self._llama._model
        bos = vocab.token_get_text(vocab.token_bos()) if vocab.token_bos() >= 0 else ""
        eos = vocab.token_get_text(vocab.token_eos()) if vocab.token_eos() >= 0 else ""
        return bos, eos

    async def complete(self, request: CompletionRequest) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self.complete_blocking, request)

    def complete_sync(self, request: CompletionRequest) -> Completion:
        return self._worker.submit(self.complete_blocking, request).result()

    def _llama_model(self) -> LlamaModel:
        return self._llama._model

    def _prepare(self, request: CompletionRequest) -> tuple[list[int], tuple[str, ...]]:
        """The prompt's tokens and the stop strings.

        ``Llama`` would tokenize a prompt string with ``special=True``, letting message text
        spell control tokens; given tokens, it reads them as they are (no BOS added).
        """
        prompt = self.format(request.messages)
        return self.tokenize_prompt(prompt), prompt.stop + request.stop

    def complete_blocking(self, request: CompletionRequest) -> Completion:
        """Run one completion on the calling thread (only from this model's worker)."""
        tokens, stop = self._prepare(request)
        grammar = self._grammar(request.json_schema) if request.json_schema else None
        started = time.perf_counter()
        self._llama.reset()  # see the module docstring: no prefix carried over between calls
        try:
            result = self._llama.create_completion(
                tokens,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                top_k=request.top_k,
                repeat_penalty=request.repeat_penalty,
                seed=request.seed,
                stop=list(stop),
                grammar=grammar,
            )
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise ContextOverflowError(str(exc)) from None
            raise
        distributions, lookaheads = None, 0
        if request.probes:
            distributions, lookaheads = self._read_values(request, len(tokens))
        seconds = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result.get("usage", {})
        return Completion(
            text=choice["text"],
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.get("finish_reason"),
            distributions=distributions,
            lookahead_decodes=lookaheads,
        )

    def _read_values(
        self, request: CompletionRequest, n_prompt: int
    ) -> tuple[dict[str, dict[str, float]], int]:
        """Read the probed values' distributions after the completion, from the KV cache it
        left (see :mod:`gra_graph.llm.value_probe`).

        ``Llama`` keeps no logit rows unless every row is kept (``logits_all``, a row of the
        whole vocabulary per context position), so each position where a value was chosen is
        decoded again: its token is put back alone at its position, exactly as generation
        decoded it, and the row read. Positions are visited from the last to the first, because
        each decode drops every cell after the position it writes.
        """
        import llama_cpp
        import numpy as np

        llama = self._llama
        table = self.token_table()
        generated = [int(t) for t in llama.input_ids[n_prompt : llama.n_tokens]]
        reader = ProbeReader(request.probes, table)
        text = b""
        chosen = []  # (position, node): nodes where the next generated token decides something
        for i in range(1, len(generated) + 1):
            text += table.pieces[generated[i - 1]]
            node = reader.node_at(text.decode("utf-8", errors="ignore"))
            if node is None:
                continue
            taken = generated[i] if i < len(generated) else None
            here = consistent(node.so_far, node.values)
            if taken is not None and consistent(node.so_far + table.text(taken), node.values) == (
                here
            ):
                continue  # whitespace before the value: the model chose at a later position
            chosen.append((i, node, taken))
        ctx = llama._ctx.ctx
        n_vocab = llama.n_vocab()

        def row_after(tokens_kept: int, token: int) -> np.ndarray:
            llama.n_tokens = tokens_kept
            llama.eval([token])
            return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))

        lookaheads = 0
        for i, node, taken in reversed(chosen):
            reader.observe(node, row_after(n_prompt + i - 1, generated[i - 1]))
            for token in reader.lookaheads(node, taken):
                reader.observe_lookahead(node, token, row_after(n_prompt + i, token))
                lookaheads += 1
        return reader.distributions(), lookaheads

    def _grammar(self, schema: str) -> Any:
        from llama_cpp import LlamaGrammar

        with self._grammar_lock:
            if schema not in self._grammars:
                # Validate the schema is JSON here so a bad one fails loudly, not as plain JSON.
                json.loads(schema)
                self._grammars[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)
            return self._grammars[schema]

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        self._llama.close()
