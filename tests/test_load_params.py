"""No engine loads a model with llama.cpp's extra buffer types on (they crash AMX CPUs).

This machine may have no AMX, where the crash cannot show; so instead of waiting for a
segfault, the real loads are recorded at the llama.cpp call both engines go through.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as llama_lib
import pytest
from llama_cpp import Llama

from gra_graph.llm import load_params
from gra_graph.llm.bundled import BUNDLED, bundled_path
from gra_graph.llm.engine import CompletionRequest, LoadSettings, ModelLoadError
from gra_graph.llm.loader import load_engine

PACKAGE = Path(load_params.__file__).resolve().parents[1]
RECORDED = ("use_extra_bufts", "n_gpu_layers", "load_mode")


def _settings(engine: str, n_gpu_layers: int = 0) -> LoadSettings:
    model = "smollm2-135m"
    return LoadSettings(
        bundled_path(model), BUNDLED[model].chat_format, 512, 2, n_gpu_layers, engine
    )  # type: ignore[arg-type]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ``llama_model_load_from_file`` call from now on, with the parameters it got."""
    seen: list[dict[str, Any]] = []
    real = llama_lib.llama_model_load_from_file

    def recording(path: bytes, params: llama_lib.llama_model_params) -> Any:
        seen.append({"path": path, **{f: getattr(params, f) for f in RECORDED}})
        return real(path, params)

    monkeypatch.setattr(llama_lib, "llama_model_load_from_file", recording)
    return seen


@pytest.mark.e2e
def test_no_engine_loads_a_model_with_extra_buffer_types(loads: list[dict[str, Any]]):
    question = CompletionRequest(
        messages=(("user", "Name the capital of France in one word."),),
        max_tokens=8,
        temperature=0.0,
    )
    for kind in ("simple", "batched"):
        engine = load_engine(_settings(kind))
        try:
            assert engine.complete_sync(question).completion_tokens > 0
        finally:
            engine.close()
    assert len(loads) == 2, loads
    assert [load["use_extra_bufts"] for load in loads] == [False, False]
    assert loads[0] == loads[1]  # the same file with the same model parameters


@pytest.mark.e2e
def test_the_simple_engines_hook_reaches_the_load_both_ways(loads: list[dict[str, Any]]):
    # llama.cpp's default is True, so a recorded False alone could not tell a working hook
    # from a coincidence; the benchmark's opt-in must reach the load too.
    for extra_bufts in (True, False):
        load_params.load_llama(_settings("simple"), extra_bufts=extra_bufts).close()
    assert [load["use_extra_bufts"] for load in loads] == [True, False]


@pytest.mark.e2e
def test_a_llama_that_bypasses_the_hook_fails_to_load(monkeypatch: pytest.MonkeyPatch):
    # as if a later llama-cpp-python built the struct without going through model_params
    def ignore(self: Any, params: llama_lib.llama_model_params) -> None:
        self._params = params

    monkeypatch.setattr(
        load_params._SafeLlama, "model_params", property(lambda self: self._params, ignore)
    )
    with pytest.raises(ModelLoadError, match="not supported"):
        load_params.load_llama(_settings("simple"))


def test_model_params_turn_extra_buffer_types_off():
    assert llama_cpp.llama_model_default_params().use_extra_bufts  # what we override
    params = load_params.model_params(_settings("batched"))
    assert params.use_extra_bufts is False
    assert params.n_gpu_layers == 0
    assert params.load_mode == llama_cpp.LLAMA_LOAD_MODE_MMAP
    # -1 means every layer; both engines pass it the way Llama spells it
    assert load_params.model_params(_settings("simple", -1)).n_gpu_layers == 0x7FFFFFFF


def test_the_installed_llama_assigns_model_params_before_it_loads():
    """The simple engine's hook needs ``self.model_params = ...`` ahead of the load."""
    source = inspect.getsource(Llama.__init__)
    assigned = source.index("self.model_params = llama_cpp.llama_model_default_params()")
    loaded = source.index("internals.LlamaModel(")
    assert assigned < loaded
    assert "params=self.model_params" in source[loaded:]


def test_the_setter_applies_the_settings_to_the_struct_llama_built():
    llama = load_params._SafeLlama.__new__(load_params._SafeLlama)
    llama._stack = contextlib.ExitStack()  # what Llama.__del__ closes
    llama._load_settings = _settings("simple")
    llama._extra_bufts = False
    built = llama_cpp.llama_model_default_params()
    llama.model_params = built  # as Llama.__init__ does
    assert llama.model_params is built
    assert built.use_extra_bufts is False


def test_only_load_params_builds_llama_cpp_load_parameters():
    pattern = re.compile(
        r"llama_model_default_params|llama_context_default_params|llama_model_load_from_file"
        r"|use_extra_bufts|\bLlama\(|LlamaModel\(|LlamaContext\("
    )
    offenders = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "load_params.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    )
    assert offenders == []
