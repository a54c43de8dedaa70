"""Per-sequence token sampling for the batched engine, on llama.cpp's own sampler objects.

Each sequence owns a sampler chain (repeat penalty, top-k, top-p, min-p, temperature, then a
seeded draw, or greedy at temperature 0) and, for structured calls, a grammar sampler.
Grammars are checked the way llama.cpp's ``common_sampler`` does it: sample from the
unconstrained candidates first, ask the grammar about that one token, and only when it is
rejected apply the grammar to the whole vocabulary and sample again. Applying a grammar to
every candidate is what makes constrained decoding slow (Gemma's vocabulary has 262,144
tokens); checking one token is nearly free, and the first choice is usually allowed.

When the first choice is rejected, the grammar is applied to the ``FALLBACK_WINDOW``
highest-scoring candidates, and to the whole vocabulary only when none of those is allowed.
Greedy decoding picks the same token either way: penalties only lower logits, so no token
outside the window can overtake an allowed one inside it (unless a penalty pushed that one
below the window's floor, which falls back to the whole vocabulary too). Under sampling, a
token ranked below the window is left out; min-p (0.05) removes such tokens anyway.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import llama_cpp
import numpy as np

# llama_token_data is {int32 id; float logit; float p} in C.
TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])

#: llama-cpp-python's own defaults for the settings a request does not carry.
MIN_P = 0.05
PENALTY_LAST_N = 64
#: How many top candidates a rejected first choice is re-checked against before the vocabulary.
FALLBACK_WINDOW = 256


@dataclass(frozen=True)
class SamplingParams:
    """What one sequence samples with."""

    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    seed: int


class GrammarSamplers:
    """Parsed grammars by GBNF text; every sequence gets its own clone (they carry state)."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p) -> None:
        self._vocab = vocab
        self._prototypes: dict[str, llama_cpp.llama_sampler_p] = {}
        self._lock = threading.Lock()

    def clone(self, gbnf: str) -> llama_cpp.llama_sampler_p:
        """A fresh grammar sampler for ``gbnf`` (parsed once per distinct grammar)."""
        with self._lock:
            proto = self._prototypes.get(gbnf)
            if proto is None:
                proto = llama_cpp.llama_sampler_init_grammar(
                    self._vocab, gbnf.encode("utf-8"), b"root"
                )
                if not proto:
                    raise ValueError("llama.cpp rejected the grammar")
                self._prototypes[gbnf] = proto
            return llama_cpp.llama_sampler_clone(proto)

    def close(self) -> None:
        with self._lock:
            for proto in self._prototypes.values():
                llama_cpp.llama_sampler_free(proto)
            self._prototypes.clear()


class Candidates:
    """A reusable candidate array over the whole vocabulary (one per engine thread)."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=TOKEN_DATA)
        self._one = np.zeros(1, dtype=TOKEN_DATA)
        self.array = llama_cpp.llama_token_data_array(
            data=self._data.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )
        self.single = llama_cpp.llama_token_data_array(
            data=self._one.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        self._logits: np.ndarray = np.zeros(0, dtype=np.float32)

    def load(self, logits_ptr: ctypes._Pointer) -> None:  # type: ignore[type-arg]
        """Fill the array from one output row of ``llama_get_logits_ith``."""
        self._logits = np.ctypeslib.as_array(logits_ptr, shape=(self.n_vocab,))
        self.reset()

    @property
    def logits(self) -> np.ndarray:
        """The loaded logit row, in token-id order (a view: copy what must outlive a decode)."""
        return self._logits

    def reset(self) -> None:
        """Restore every candidate (samplers reorder and shrink the array in place)."""
        self._data["id"] = self._ids
        self._data["logit"] = self._logits
        self._data["p"] = 0.0
        self.array.size = self.n_vocab
        self.array.selected = -1
        self.array.sorted = False

    def load_window(self, size: int) -> float:
        """Keep only the ``size`` highest logits; returns the lowest logit kept."""
        if size >= self.n_vocab:
            self.reset()
            return float("-inf")
        top = np.argpartition(self._logits, -size)[-size:]
        view = self._data[:size]
        view["id"] = top
        view["logit"] = self._logits[top]
        view["p"] = 0.0
        self.array.size = size
        self.array.selected = -1
        self.array.sorted = False
        return float(view["logit"].min())

    def window_allowed(self, size: int, floor: float) -> bool:
        """Whether, after a grammar pass over a window, an allowed token reaches ``floor``."""
        logits = self._data["logit"][:size]
        return bool(np.any(np.isfinite(logits) & (logits >= floor)))

    def selected_token(self) -> int:
        return int(self._data["id"][self.array.selected])

    def allows(self, grammar: llama_cpp.llama_sampler_p, token: int) -> bool:
        """Whether ``grammar`` accepts ``token`` next (a one-candidate check)."""
        self._one["id"][0] = token
        self._one["logit"][0] = 0.0
        self.single.size = 1
        self.single.selected = -1
        self.single.sorted = False
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self.single))
        return bool(np.isfinite(self._one["logit"][0]))


class SequenceSampler:
    """The sampler state of one sequence; free it when the sequence ends."""

    def __init__(
        self, params: SamplingParams, n_vocab: int, grammar: llama_cpp.llama_sampler_p | None
    ) -> None:
        self.grammar = grammar
        self.grammar_fallbacks = 0
        chain_params = llama_cpp.llama_sampler_chain_default_params()
        self.chain = llama_cpp.llama_sampler_chain_init(chain_params)
        add = llama_cpp.llama_sampler_chain_add
        if params.repeat_penalty != 1.0:
            add(
                self.chain,
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab, PENALTY_LAST_N, params.repeat_penalty, 0.0, 0.0
                ),
            )
        if params.temperature <= 0:
            add(self.chain, llama_cpp.llama_sampler_init_greedy())
        else:
            add(self.chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
            add(self.chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
            add(self.chain, llama_cpp.llama_sampler_init_min_p(MIN_P, 1))
            add(self.chain, llama_cpp.llama_sampler_init_temp(params.temperature))
            add(self.chain, llama_cpp.llama_sampler_init_dist(params.seed & 0xFFFFFFFF))

    def sample(self, candidates: Candidates) -> int:
        """Pick the next token from the loaded candidates and record it as accepted."""
        llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(candidates.array))
        token = candidates.selected_token()
        if self.grammar is not None and not candidates.allows(self.grammar, token):
            self.grammar_fallbacks += 1
            token = self._constrained(candidates)
        llama_cpp.llama_sampler_accept(self.chain, token)
        if self.grammar is not None:
            llama_cpp.llama_sampler_accept(self.grammar, token)
        return token

    def _constrained(self, candidates: Candidates) -> int:
        """Sample among grammar-allowed tokens: the top window first, then everything."""
        size = min(FALLBACK_WINDOW, candidates.n_vocab)
        floor = candidates.load_window(size)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(candidates.array))
        if not candidates.window_allowed(size, floor):
            candidates.reset()
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(candidates.array))
        llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(candidates.array))
        return candidates.selected_token()

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.chain)
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
