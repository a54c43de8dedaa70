"""Loading GGUF files: each distinct load once, shared by every member that uses it.

This is the one loader the runner, the Python API and graphs built from settings (the LangGraph
dev server) all go through: :func:`load_engine` picks the engine a :class:`LoadSettings` names,
and :class:`ModelLoader` keeps one engine per distinct settings, so personas on one file share
one llama.cpp instance and its memory.
"""

from __future__ import annotations

import threading

from gra_graph.llm.engine import LoadSettings, ModelEngine


def load_engine(settings: LoadSettings) -> ModelEngine:
    """Load ``settings.path`` with the engine ``settings.engine`` names.

    Raises:
        ModelLoadError: llama.cpp rejected the file or the settings.
    """
    if settings.engine == "batched":
        from gra_graph.llm.batched import BatchedEngine

        return BatchedEngine(settings)
    from gra_graph.llm.simple import SimpleEngine

    return SimpleEngine(settings)


class ModelLoader:
    """Loaded engines by their load settings; :meth:`close` frees them all.

    Thread-safe: a lazy resolution from a worker thread and an eager one from the runner may
    ask for the same file at once, and only one of them loads it.
    """

    def __init__(self) -> None:
        self._engines: dict[LoadSettings, ModelEngine] = {}
        self._lock = threading.Lock()

    def engine(self, settings: LoadSettings) -> ModelEngine:
        """The engine for ``settings``, loading it on first use."""
        with self._lock:
            if settings not in self._engines:
                self._engines[settings] = load_engine(settings)
            return self._engines[settings]

    @property
    def loaded(self) -> int:
        """How many llama.cpp instances are loaded."""
        return len(self._engines)

    def close(self) -> None:
        """Free every loaded engine (safe to call twice)."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()
