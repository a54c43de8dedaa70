"""Turning a graph file's members into chat models: each GGUF file is loaded once.

Every model path is checked (exists, is a GGUF file) before the first one is loaded, and every
model is loaded before any sample starts, so a missing or corrupt file fails the run up front.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from gra_graph.config import Engine, GraphConfig, Member
from gra_graph.llm.bundled import BUNDLED, bundled_path
from gra_graph.llm.chat_model import LlamaCppChatModel
from gra_graph.llm.engine import BatchSettings, LoadSettings, ModelEngine, load_engine
from gra_graph.llm.gguf import check_gguf


@dataclass(frozen=True)
class MemberHandle:
    """A member as nodes see it: a name, a chat model, and the model file it runs on."""

    name: str
    chat_model: BaseChatModel
    model_ref: str


def model_ref(member: Member, path: Path) -> str:
    """How records name a member's model file: ``bundled:NAME/FILE`` or the file's path."""
    return f"bundled:{member.model}/{path.name}" if member.model in BUNDLED else str(path)


def resolve_model_path(member: Member, base_dir: Path) -> Path:
    """The GGUF path of a member: a bundled model's file, or a path from the graph file."""
    if member.model in BUNDLED:
        return bundled_path(member.model)
    path = Path(os.path.expanduser(member.model))
    return path if path.is_absolute() else (base_dir / path).resolve()


def load_settings(member: Member, path: Path, engine: Engine | None = None) -> LoadSettings:
    """The llama.cpp settings a member needs; members with equal settings share one load."""
    chat_format = member.chat_format
    if chat_format == "auto":
        bundled = BUNDLED.get(member.model)
        chat_format = bundled.chat_format if bundled else "template"
    # llama-cpp-python's own default is half the cores, which leaves a 2-core laptop half idle.
    threads = member.n_threads or os.cpu_count() or 1
    engine = engine or Engine()
    batch = BatchSettings(
        max_sequences=engine.max_sequences,
        prefix_cache=engine.prefix_cache,
        n_batch=engine.n_batch,
        min_prefix=engine.min_prefix,
    )
    return LoadSettings(
        path, chat_format, member.n_ctx, threads, member.n_gpu_layers, engine.kind, batch
    )


class Members(Mapping[str, MemberHandle]):
    """The loaded committee: member name -> :class:`MemberHandle`. Close it when done."""

    def __init__(self, handles: dict[str, MemberHandle], engines: list[ModelEngine]) -> None:
        self._handles = handles
        self._engines = engines

    def __getitem__(self, name: str) -> MemberHandle:
        return self._handles[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    @property
    def loaded_files(self) -> int:
        """How many llama.cpp instances are loaded."""
        return len(self._engines)

    def close(self) -> None:
        for engine in self._engines:
            engine.close()
        self._engines.clear()

    @classmethod
    def from_handles(cls, handles: Mapping[str, MemberHandle]) -> Members:
        """Members made of any LangChain chat models (tests, remote servers)."""
        return cls(dict(handles), [])


def check_member_models(config: GraphConfig) -> dict[str, Path]:
    """Resolve and check every member's model file, loading nothing."""
    paths: dict[str, Path] = {}
    for member in config.members:
        path = resolve_model_path(member, config.base_dir)
        check_gguf(path, member.name)
        paths[member.name] = path
    return paths


def load_members(config: GraphConfig) -> Members:
    """Load every distinct model once and wrap each member as a chat model.

    Raises:
        ModelFileError: a model file is missing or not GGUF (nothing is loaded then).
        ModelLoadError: llama.cpp rejected a file (already loaded ones are freed).
    """
    paths = check_member_models(config)
    engines: dict[LoadSettings, ModelEngine] = {}
    handles: dict[str, MemberHandle] = {}
    try:
        for member in config.members:
            settings = load_settings(member, paths[member.name], config.engine)
            if settings not in engines:
                engines[settings] = load_engine(settings)
            chat_model = LlamaCppChatModel(
                member=member.name,
                engine=engines[settings],
                persona=member.persona,
                temperature=member.sampling.temperature,
                top_p=member.sampling.top_p,
                top_k=member.sampling.top_k,
                repeat_penalty=member.sampling.repeat_penalty,
                seed=member.sampling.seed,
            )
            handles[member.name] = MemberHandle(
                member.name, chat_model, model_ref(member, paths[member.name])
            )
    except BaseException:
        for engine in engines.values():
            engine.close()
        raise
    return Members(handles, list(engines.values()))
