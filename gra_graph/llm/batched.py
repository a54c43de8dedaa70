"""The batched engine: many sequences decoded together in one llama.cpp context.

One thread per loaded model runs a loop. Each pass it admits waiting requests into free
sequence slots, builds one ``llama_batch`` holding the next token of every generating sequence
plus as much waiting prompt text as fits, decodes it in one ``llama_decode``, and samples the
next token of every sequence whose logits came out. Requests join and leave between passes,
so a short call never waits for a long one to finish.

Every sequence slot is its own KV stream of ``n_ctx`` cells (llama.cpp's non-unified cache).
A finished sequence stays in its slot as a prefix cache entry until the slot is needed, least
recently used first. A new prompt that shares at least ``min_prefix`` tokens with a cached
entry takes that slot over and keeps the shared cells; one that shares them with a live
sequence gets a copy of its stream. Either way only the rest of the prompt is read. KV memory
is fixed at load: ``(max_sequences + prefix_cache) * n_ctx`` cells.

Results do not depend on the company a request keeps, which was measured, not assumed:

- Each sequence attends only to its own stream, whose cells lie in position order, and
  attention runs as flash attention, which visits them in that order. One new token per
  sequence then gets the same logits alone or next to fifteen others.
- Reading a prompt in a different split does change logits in their last bits (flash
  attention over several new tokens, and small matrix kernels, take other paths). So prompts
  are always read in the same pieces, ``PREFILL_CHUNK`` tokens aligned to position 0, each in
  a decode of its own, and a borrowed prefix is cut back to a multiple of that size.
- Weights are not repacked for batched matrix kernels.

Greedy outputs are therefore token-identical to the same request decoded alone, with or without
a borrowed prefix (tested), and seeded samples are reproducible from the run seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaModel
from llama_cpp.llama_grammar import json_schema_to_gbnf

from gra_graph.llm.engine import (
    Completion,
    CompletionRequest,
    ContextOverflowError,
    EngineClosedError,
    LoadSettings,
    ModelEngine,
    ModelLoadError,
    quiet_native_stderr,
)
from gra_graph.llm.load_params import batched_context_params, load_model
from gra_graph.llm.prefix_cache import PrefixCache, best_prefix
from gra_graph.llm.sampling import Candidates, GrammarSamplers, SamplingParams, SequenceSampler
from gra_graph.llm.value_probe import Node, ProbeReader

# ggml's worker threads spin while they wait; two models decoding at once on a small machine
# would fight over the same cores. One decode at a time in the process gives each all of them.
_DECODE_LOCK = threading.Lock()

#: Prompts are read in pieces that start at multiples of this many tokens, and a borrowed
#: prefix is cut back to such a multiple, so every prompt is always read the same way.
PREFILL_CHUNK = 64


@dataclass
class EngineStats:
    """Counters since the engine started (read them for benchmarks and reports)."""

    requests: int = 0
    prompt_tokens_read: int = 0
    prompt_tokens_reused: int = 0
    generated_tokens: int = 0
    decode_calls: int = 0
    decode_seconds: float = 0.0
    grammar_fallbacks: int = 0
    peak_sequences: int = 0
    cache_evictions: int = 0


@dataclass(eq=False)
class _Pending:
    request: CompletionRequest
    future: Future[Completion]
    submitted: float = field(default_factory=time.perf_counter)


@dataclass(eq=False)
class _Sequence:
    """A request occupying a sequence slot of the context."""

    pending: _Pending
    seq_id: int
    prompt: np.ndarray
    max_tokens: int
    stops: tuple[str, ...]
    sampler: SequenceSampler
    reused: int
    kv: list[int] = field(default_factory=list)  # tokens whose cells this sequence holds
    generated: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    next_token: int | None = None  # sampled, not yet decoded
    started: float = field(default_factory=time.perf_counter)
    probe: ProbeReader | None = None  # reads value distributions when the request asks
    lookahead_decodes: int = 0

    @property
    def prefilling(self) -> bool:
        return self.next_token is None and len(self.kv) < len(self.prompt)


class BatchedEngine(ModelEngine):
    """A GGUF file served by a continuous-batching loop on its own thread."""

    def __init__(self, settings: LoadSettings) -> None:
        self.settings = settings
        self.stats = EngineStats()
        batch = settings.batch
        self._max_sequences = batch.max_sequences
        self._n_batch = batch.n_batch
        self._min_prefix = batch.min_prefix
        self._n_slots = batch.max_sequences + batch.prefix_cache
        self._load(settings)
        self._free_ids: list[int] = list(range(self._n_slots - 1, -1, -1))
        self._cache = PrefixCache(batch.prefix_cache)
        self._active: list[_Sequence] = []
        self._waiting: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._gbnf: dict[str, str] = {}
        self._grammars = GrammarSamplers(self._vocab)
        self._candidates = Candidates(self._n_vocab)
        self._lookaheads: list[tuple[_Sequence, Node, int]] = []
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, 1)
        self._thread = threading.Thread(
            target=self._loop, name=f"batched-{settings.path.stem}", daemon=True
        )
        self._thread.start()

    @property
    def kv_cells(self) -> int:
        """KV cells allocated for this model: one ``n_ctx`` stream per sequence slot."""
        return self._n_slots * self.settings.n_ctx

    # ---- loading -------------------------------------------------------------------------

    def _load(self, settings: LoadSettings) -> None:
        from llama_cpp._logger import set_verbose

        set_verbose(False)  # llama.cpp logs every context free and graph reserve otherwise
        try:
            with quiet_native_stderr():
                # Extra buffer types off (load_params): besides the AMX crash, repacked weights
                # switch kernels with the batch size, which changes logits in their last bits.
                self._model = load_model(settings)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp cannot load {settings.path}: {exc}") from None
        cparams = batched_context_params(settings, self._n_slots)
        with quiet_native_stderr():
            self._ctx = llama_cpp.llama_init_from_model(self._model.model, cparams)
        if not self._ctx:
            self._model.close()
            raise ModelLoadError(
                f"llama.cpp cannot create {self._n_slots} sequences of {settings.n_ctx} tokens "
                f"for {settings.path.name} (lower engine.max_sequences, engine.prefix_cache "
                "or the member's n_ctx)"
            )
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = self._model.vocab
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._template = self._model.metadata().get("tokenizer.chat_template")
        try:
            self._check_template()
        except ModelLoadError:
            self._free_native()
            raise

    def _special_texts(self) -> tuple[str, str]:
        bos, eos = self._model.token_bos(), self._model.token_eos()
        return (
            self._model.token_get_text(bos) if bos >= 0 else "",
            self._model.token_get_text(eos) if eos >= 0 else "",
        )

    # ---- the public side -----------------------------------------------------------------

    def submit(self, request: CompletionRequest) -> Future[Completion]:
        """Queue a request; cancel the returned future to withdraw it and free its slot."""
        future: Future[Completion] = Future()
        with self._cond:
            if self._closing:
                raise EngineClosedError(f"the engine for {self.path.name} is closed")
            self._waiting.append(_Pending(request, future))
            self._cond.notify()
        return future

    async def complete(self, request: CompletionRequest) -> Completion:
        return await asyncio.wrap_future(self.submit(request))

    def complete_sync(self, request: CompletionRequest) -> Completion:
        return self.submit(request).result()

    @property
    def active_sequences(self) -> int:
        """Sequences in the batch right now."""
        return len(self._active)

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify()
        self._thread.join()
        self._free_native()

    def _free_native(self) -> None:
        if getattr(self, "_batch", None) is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_grammars", None) is not None:
            self._grammars.close()
        if getattr(self, "_ctx", None):
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        self._model.close()

    # ---- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._active and not self._waiting:
                    self._cond.wait()
                if self._closing:
                    break
            try:
                self._drop_cancelled()
                self._admit()
                if self._active:
                    self._step()
            except Exception as exc:  # never let the loop die with requests waiting on it
                for seq in list(self._active):
                    self._finish(seq, error=exc)
        closed = EngineClosedError(f"the engine for {self.path.name} was closed")
        for seq in list(self._active):
            self._finish(seq, error=closed)
        with self._cond:
            waiting, self._waiting = list(self._waiting), deque()
        for pending in waiting:
            _settle(pending.future, error=closed)

    def _drop_cancelled(self) -> None:
        for seq in list(self._active):
            if seq.pending.future.cancelled():
                self._release(seq, keep=False)

    def _admit(self) -> None:
        while len(self._active) < self._max_sequences:
            with self._cond:
                if not self._waiting:
                    return
                pending = self._waiting.popleft()
            if pending.future.cancelled():
                continue
            try:
                prompt, max_tokens, stops = self._prepare(pending.request)
                sampler = self._sampler(pending.request)
                probe = self._probe(pending.request)
            except Exception as exc:  # a bad request fails alone
                _settle(pending.future, error=exc)
                continue
            self._start(pending, prompt, max_tokens, stops, sampler, probe)

    def _prepare(self, request: CompletionRequest) -> tuple[np.ndarray, int, tuple[str, ...]]:
        prompt = self.format(request.messages)
        tokens = np.asarray(self.tokenize_prompt(prompt), dtype=np.int32)
        limit = self.settings.n_ctx
        if len(tokens) == 0:
            raise ValueError("empty prompt")
        if len(tokens) >= limit:
            raise ContextOverflowError(
                f"the prompt has {len(tokens)} tokens; {self.path.name} was given a context of "
                f"{limit} tokens (raise the member's n_ctx)"
            )
        max_tokens = min(request.max_tokens, limit - len(tokens))
        return tokens, max_tokens, prompt.stop + request.stop

    def _llama_model(self) -> LlamaModel:
        return self._model

    def _sampler(self, request: CompletionRequest) -> SequenceSampler:
        grammar = None
        if request.json_schema:
            grammar = self._grammars.clone(self._grammar_text(request.json_schema))
        params = SamplingParams(
            request.temperature,
            request.top_p,
            request.top_k,
            request.repeat_penalty,
            request.seed,
        )
        return SequenceSampler(params, self._n_vocab, grammar)

    def _probe(self, request: CompletionRequest) -> ProbeReader | None:
        return ProbeReader(request.probes, self.token_table()) if request.probes else None

    def _grammar_text(self, schema: str) -> str:
        if schema not in self._gbnf:
            json.loads(schema)  # a schema that is not JSON fails loudly, not as free text
            self._gbnf[schema] = json_schema_to_gbnf(schema)
        return self._gbnf[schema]

    def _start(
        self,
        pending: _Pending,
        prompt: np.ndarray,
        max_tokens: int,
        stops: tuple[str, ...],
        sampler: SequenceSampler,
        probe: ProbeReader | None = None,
    ) -> None:
        """Give the request a slot, borrowing the longest prefix on offer."""
        reused = 0
        cached = best_prefix(prompt, self._cache.items(), self._min_prefix)
        live = best_prefix(
            prompt,
            [(s.seq_id, np.asarray(s.kv, dtype=np.int32)) for s in self._active],
            self._min_prefix,
        )
        borrowed = True
        if cached is not None and (live is None or cached.length >= live.length):
            seq_id, reused = cached.seq_id, cached.length
            self._cache.take(seq_id)  # take the slot over, keeping its first cells
        else:
            if not self._free_ids:
                self._evict(self._cache.pop_oldest())
            seq_id = self._free_ids.pop()
            if live is not None:
                # A different stream: llama.cpp copies the whole stream before the next decode.
                llama_cpp.llama_memory_seq_cp(self._mem, live.seq_id, seq_id, -1, -1)
                reused = live.length
            else:
                borrowed = False
        reused -= reused % PREFILL_CHUNK
        if borrowed:  # keep the shared prefix, drop the rest of what the slot held
            llama_cpp.llama_memory_seq_rm(self._mem, seq_id, reused, -1)
        seq = _Sequence(
            pending,
            seq_id,
            prompt,
            max_tokens,
            stops,
            sampler,
            reused,
            kv=prompt[:reused].tolist(),
            probe=probe,
        )
        self._active.append(seq)
        self.stats.requests += 1
        self.stats.prompt_tokens_reused += reused
        self.stats.peak_sequences = max(self.stats.peak_sequences, len(self._active))

    def _evict(self, seq_id: int) -> None:
        llama_cpp.llama_memory_seq_rm(self._mem, seq_id, -1, -1)
        self._free_ids.append(seq_id)
        self.stats.cache_evictions += 1

    # ---- one decode step -----------------------------------------------------------------

    def _step(self) -> None:
        """One pass: every generating sequence advances a token, then prompts are read."""
        generating = [seq for seq in self._active if seq.next_token is not None]
        if generating:
            for i, seq in enumerate(generating):
                self._put(i, seq.next_token, len(seq.kv), seq.seq_id, True)  # type: ignore[arg-type]
                seq.kv.append(seq.next_token)  # type: ignore[arg-type]
                seq.next_token = None
            self._decode(len(generating))
            for i, seq in enumerate(generating):
                self._sample(seq, i)
        budget = self._n_batch
        for seq in [s for s in self._active if s.prefilling]:
            if budget <= 0:
                break
            budget -= self._read_chunk(seq)
        self._run_lookaheads()

    def _read_chunk(self, seq: _Sequence) -> int:
        """Read the next ``PREFILL_CHUNK``-aligned piece of a prompt, alone in its decode.

        Reading a prompt in the same pieces every time, and never in company, is what keeps a
        borrowed prefix and a batch from changing the logits (see the module docstring).
        """
        start = len(seq.kv)
        stop = min(len(seq.prompt), (start // PREFILL_CHUNK + 1) * PREFILL_CHUNK)
        last = stop == len(seq.prompt)
        for i, pos in enumerate(range(start, stop)):
            self._put(i, int(seq.prompt[pos]), pos, seq.seq_id, last and pos == stop - 1)
        self._decode(stop - start)
        seq.kv.extend(seq.prompt[start:stop].tolist())
        self.stats.prompt_tokens_read += stop - start
        if last:
            self._sample(seq, stop - start - 1)
        return stop - start

    def _decode(self, n_tokens: int) -> None:
        self._batch.n_tokens = n_tokens
        started = time.perf_counter()
        with _DECODE_LOCK:
            rc = llama_cpp.llama_decode(self._ctx, self._batch)
        self.stats.decode_seconds += time.perf_counter() - started
        self.stats.decode_calls += 1
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc} for {self.path.name}")

    def _sample(self, seq: _Sequence, index: int) -> None:
        self._candidates.load(llama_cpp.llama_get_logits_ith(self._ctx, index))
        probe, node = seq.probe, None
        if probe is not None:
            node = probe.node_at(seq.text.decode("utf-8", errors="ignore"))
            if node is not None:
                probe.observe(node, self._candidates.logits)  # copied: later decodes reuse it
        token = seq.sampler.sample(self._candidates)
        if probe is not None and node is not None:
            self._lookaheads += [(seq, node, t) for t in probe.lookaheads(node, token)]
        self._advance(seq, token)

    def _run_lookaheads(self) -> None:
        """Decode each queued lookahead token alone at its sequence's next position, read the
        logits after it, and take the cell back out (see :mod:`gra_graph.llm.value_probe`).

        The sequence's sampled token has not been decoded yet, so the position is free; removing
        the cell leaves the stream exactly as it was, and the next pass decodes the real token
        there. A sequence that ended meanwhile needs no lookahead any more.
        """
        queued, self._lookaheads = self._lookaheads, []
        for seq, node, token in queued:
            if seq not in self._active or seq.probe is None:
                continue
            pos = len(seq.kv)
            self._put(0, token, pos, seq.seq_id, True)
            self._decode(1)
            row = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(self._ctx, 0), shape=(self._n_vocab,)
            )
            seq.probe.observe_lookahead(node, token, row)
            llama_cpp.llama_memory_seq_rm(self._mem, seq.seq_id, pos, -1)
            seq.lookahead_decodes += 1

    def _put(self, i: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq_id
        batch.logits[i] = logits

    def _advance(self, seq: _Sequence, token: int) -> None:
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(seq, reason="stop")
            return
        seq.generated.append(token)
        seq.text += self._piece(token)
        self.stats.generated_tokens += 1
        if seq.stops:
            text = seq.text.decode("utf-8", errors="ignore")
            cut = min((i for i in (text.find(s) for s in seq.stops) if i >= 0), default=-1)
            if cut >= 0:
                self._finish(seq, reason="stop", text=text[:cut])
                return
        if len(seq.generated) >= seq.max_tokens:
            self._finish(seq, reason="length")
            return
        seq.next_token = token

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def _finish(
        self,
        seq: _Sequence,
        reason: str | None = None,
        text: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        self.stats.grammar_fallbacks += seq.sampler.grammar_fallbacks
        self._release(seq, keep=error is None)
        if error is not None:
            _settle(seq.pending.future, error=error)
            return
        completion = Completion(
            text=text if text is not None else seq.text.decode("utf-8", errors="ignore"),
            prompt_tokens=len(seq.prompt),
            completion_tokens=len(seq.generated),
            seconds=time.perf_counter() - seq.started,
            finish_reason=reason,
            reused_prompt_tokens=seq.reused,
            distributions=seq.probe.distributions() if seq.probe is not None else None,
            lookahead_decodes=seq.lookahead_decodes,
        )
        _settle(seq.pending.future, result=completion)

    def _release(self, seq: _Sequence, keep: bool) -> None:
        """Take ``seq`` out of the batch; keep its cells for reuse unless told otherwise."""
        self._active.remove(seq)
        seq.sampler.close()
        if keep and self._cache.capacity > 0 and len(seq.kv) >= self._min_prefix:
            for evicted in self._cache.put(seq.seq_id, np.asarray(seq.kv, dtype=np.int32)):
                self._evict(evicted)
            return
        llama_cpp.llama_memory_seq_rm(self._mem, seq.seq_id, -1, -1)
        self._free_ids.append(seq.seq_id)


def _settle(
    future: Future[Completion],
    result: Completion | None = None,
    error: BaseException | None = None,
) -> None:
    """Resolve ``future`` unless its caller already cancelled it."""
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
