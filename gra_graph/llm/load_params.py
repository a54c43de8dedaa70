"""Every llama.cpp load-time setting of both engines, in one place.

Both engines load model files only through this module: :func:`load_model` and
:func:`batched_context_params` for the batched engine's low-level API, :func:`load_llama` for
the simple engine's high-level ``Llama``. Nothing else in the package builds llama.cpp model
or context parameters (``tests/test_load_params.py`` checks the source), so a load-time fix
made here reaches every engine.

**Extra buffer types are off** (``use_extra_bufts = False``). llama.cpp's default turns them
on: weights are moved into the AMX buffer type on CPUs with AMX (``amx_int8`` in
``/proc/cpuinfo``) and into repacked layouts for batched matrix kernels elsewhere. On an AMX
Xeon, ``llama_decode`` on the bundled SmolLM2 then segfaults on every call. A machine without
AMX never sees that crash, so a test records the parameters of every real load through both
engines and fails if any had them on.

**No opt-in to turn them back on**, by measurement (``evals/bench_repack.py``, on an AVX-512
CPU without AMX, where repacking works). The bundled SmolLM2 (Q4_1) has no tensor llama.cpp
repacks there, so the setting changes nothing for it. Gemma-3-270M (Q4_K_M) gets 12.7 MiB of
its Q4_K weights repacked, and was no faster with them (one thread: 0.92x prompt reading,
0.99x generation; two threads on a busy machine: slower still), and its greedy output is not
token-identical: 5 of 6 prompts part ways within their first 16 tokens. An option that buys no
speed, changes results and crashes AMX machines is not worth a graph-file field. The batched
engine would keep it off in any case: repacked kernels switch with the batch size, so a
request's logits would depend on its batch company.

High-level ``Llama`` has no keyword for ``use_extra_bufts`` (llama-cpp-python 0.3.36). Its
``__init__`` builds the parameters with ``llama_model_default_params()``, stores them as
``self.model_params``, fills in its own keywords and loads the file with exactly that struct.
:class:`_SafeLlama` turns ``model_params`` into a property whose setter sets our values on
the struct the moment ``__init__`` stores it, before the load. That touches no global state
(patching ``llama_model_default_params`` for the length of a load would change every load in
the process, and would need a lock), copies none of ``Llama.__init__`` (which changes between
releases), and relies only on the attribute ``Llama`` itself reads back when it pickles. If a
later release stopped assigning that attribute, :func:`load_llama` would see it in the struct
the file was actually loaded with (``LlamaModel.params``) and fail the load rather than run
with extra buffer types on.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import llama_cpp
from llama_cpp import Llama

from gra_graph.llm.engine import LoadSettings, ModelLoadError

if TYPE_CHECKING:
    from llama_cpp._internals import LlamaModel

#: llama.cpp's default is True; see the module docstring for why it is off.
USE_EXTRA_BUFTS = False

#: Most tokens the simple engine hands to one ``llama_decode`` (``Llama``'s own default).
SIMPLE_N_BATCH = 512

#: "All layers" for ``n_gpu_layers``: ``Llama`` turns -1 into this, so both engines do.
_ALL_LAYERS = 0x7FFFFFFF


def threads(settings: LoadSettings) -> int:
    """CPU threads for generation and for prompt reading alike (default: every core)."""
    return settings.n_threads or os.cpu_count() or 1


def _apply_model_settings(
    params: llama_cpp.llama_model_params, settings: LoadSettings, extra_bufts: bool
) -> None:
    params.n_gpu_layers = _ALL_LAYERS if settings.n_gpu_layers == -1 else settings.n_gpu_layers
    params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP  # members sharing a file share its pages
    params.use_extra_bufts = extra_bufts


def model_params(
    settings: LoadSettings, *, extra_bufts: bool = USE_EXTRA_BUFTS
) -> llama_cpp.llama_model_params:
    """The model parameters every engine loads ``settings.path`` with.

    ``extra_bufts=True`` exists for ``evals/bench_repack.py`` only, which measures what the
    setting would cost; no engine passes it.
    """
    params = llama_cpp.llama_model_default_params()
    _apply_model_settings(params, settings, extra_bufts)
    return params


def load_model(settings: LoadSettings) -> LlamaModel:
    """Load ``settings.path`` for the low-level API (the batched engine).

    Raises:
        ValueError: llama.cpp could not load the file (llama-cpp-python's own error).
    """
    from llama_cpp._internals import LlamaModel

    return LlamaModel(path_model=str(settings.path), params=model_params(settings), verbose=False)


def batched_context_params(settings: LoadSettings, n_slots: int) -> llama_cpp.llama_context_params:
    """The batched engine's context: ``n_slots`` KV streams of ``settings.n_ctx`` cells each.

    Why each setting is what it is is explained in :mod:`gra_graph.llm.batched`.
    """
    n_batch = settings.batch.n_batch
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = n_slots * settings.n_ctx
    cparams.n_batch = cparams.n_ubatch = n_batch
    cparams.n_seq_max = n_slots
    cparams.n_threads = cparams.n_threads_batch = threads(settings)
    cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    cparams.kv_unified = False  # one stream per sequence
    cparams.swa_full = True  # sliding-window layers keep whole prefixes for reuse
    cparams.no_perf = True
    return cparams


def _simple_kwargs(settings: LoadSettings) -> dict[str, Any]:
    """``Llama`` keywords for the simple engine: its model and context settings."""
    n = threads(settings)
    return {
        "model_path": str(settings.path),
        "n_gpu_layers": settings.n_gpu_layers,
        "use_mmap": True,
        "n_ctx": settings.n_ctx,
        "n_batch": SIMPLE_N_BATCH,
        "n_ubatch": SIMPLE_N_BATCH,
        "n_threads": n,
        "n_threads_batch": n,
        "flash_attn": False,
        "verbose": False,
    }


class _SafeLlama(Llama):
    """``Llama`` whose ``model_params`` setter applies this module's model settings."""

    _params: llama_cpp.llama_model_params | None = None

    def __init__(self, settings: LoadSettings, extra_bufts: bool) -> None:
        self._load_settings = settings
        self._extra_bufts = extra_bufts
        super().__init__(**_simple_kwargs(settings))

    @property  # type: ignore[override]
    def model_params(self) -> llama_cpp.llama_model_params | None:
        return self._params

    @model_params.setter
    def model_params(self, params: llama_cpp.llama_model_params) -> None:
        # Llama.__init__ assigns its freshly built defaults here, before it loads the file.
        _apply_model_settings(params, self._load_settings, self._extra_bufts)
        self._params = params


def load_llama(settings: LoadSettings, *, extra_bufts: bool = USE_EXTRA_BUFTS) -> Llama:
    """Load ``settings.path`` as a high-level ``Llama`` (the simple engine).

    ``extra_bufts=True`` exists for ``evals/bench_repack.py`` only.

    Raises:
        ValueError: llama.cpp could not load the file (llama-cpp-python's own error).
        ModelLoadError: ``Llama`` loaded the file with parameters other than this module's.
    """
    llama = _SafeLlama(settings, extra_bufts)
    used = getattr(getattr(llama, "_model", None), "params", None)  # what the load was given
    wanted = model_params(settings, extra_bufts=extra_bufts)
    fields = ("use_extra_bufts", "n_gpu_layers", "load_mode")
    if used is None or any(getattr(used, f) != getattr(wanted, f) for f in fields):
        llama.close()
        raise ModelLoadError(
            f"llama-cpp-python {llama_cpp.__version__} loaded {settings.path.name} without "
            "the model parameters gra_graph.llm.load_params set; this release is not supported"
        )
    return llama
