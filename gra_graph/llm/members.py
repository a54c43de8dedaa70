"""Turning a graph file's members into chat models: each GGUF file is loaded once.

Two ways to get them, both through one :class:`~gra_graph.llm.loader.ModelLoader`:

- :func:`load_members` (the runner, the CLI): every model path is checked (exists, is a GGUF
  file), and every served member (:mod:`gra_graph.llm.served`: its key variable, its class),
  before the first one is loaded, and every model is loaded before any sample starts, so a
  missing or corrupt file, or an unset key, fails the run up front.
- :class:`LazyMembers` (a graph built from settings, such as one the LangGraph dev server
  serves): nothing loads until a node first asks for a member, and then off the event loop.

Both answer :meth:`resolve`, which is all a node needs (see :class:`MemberSource`).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from langchain_core.language_models import BaseChatModel

from gra_graph.config import Engine, GraphConfig, Member
from gra_graph.llm.bundled import BUNDLED, bundled_path
from gra_graph.llm.chat_model import LlamaCppChatModel
from gra_graph.llm.engine import BatchSettings, LoadSettings
from gra_graph.llm.gguf import check_gguf
from gra_graph.llm.loader import ModelLoader
from gra_graph.llm.served import check_served, served_chat_model, served_model_ref


@dataclass(frozen=True)
class MemberHandle:
    """A member as nodes see it: a name, a chat model, and the model file it runs on."""

    name: str
    chat_model: BaseChatModel
    model_ref: str


class MemberSource(Protocol):
    """Where nodes get members from: by name, loading on demand if need be."""

    async def resolve(self, name: str) -> MemberHandle:
        """The member called ``name`` (``KeyError`` if the graph has none)."""
        ...


def member_ref(member: Member, base_dir: Path) -> str:
    """How records name any member's model: :func:`model_ref` for a GGUF member, else the
    served model (:func:`~gra_graph.llm.served.served_model_ref`)."""
    if member.served:
        return served_model_ref(member)
    return model_ref(member, resolve_model_path(member, base_dir))


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

    def __init__(self, handles: dict[str, MemberHandle], loader: ModelLoader | None = None) -> None:
        self._handles = handles
        self._loader = loader

    def __getitem__(self, name: str) -> MemberHandle:
        return self._handles[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    async def resolve(self, name: str) -> MemberHandle:
        """:class:`MemberSource`: the member, already loaded."""
        return self._handles[name]

    @property
    def loaded_files(self) -> int:
        """How many llama.cpp instances are loaded."""
        return self._loader.loaded if self._loader else 0

    def close(self) -> None:
        if self._loader is not None:
            self._loader.close()

    @classmethod
    def from_handles(cls, handles: Mapping[str, MemberHandle]) -> Members:
        """Members made of any LangChain chat models (tests, remote servers)."""
        return cls(dict(handles))


def check_member_models(config: GraphConfig) -> dict[str, Path]:
    """Resolve and check every member's model file, loading nothing; check every served
    member's key variable and class. Returns the GGUF members' paths.

    Raises:
        ModelFileError: a GGUF file is missing or not GGUF.
        ServedMemberError: a served member's key variable is unset, or its class unusable.
    """
    paths: dict[str, Path] = {}
    for member in config.members:
        if member.served:
            check_served(member)
            continue
        path = resolve_model_path(member, config.base_dir)
        check_gguf(path, member.name)
        paths[member.name] = path
    return paths


def member_handle(
    member: Member, path: Path | None, config: GraphConfig, loader: ModelLoader
) -> MemberHandle:
    """One member as a chat model: on its (shared) loaded file, or on its server (``path``
    is ``None`` for a served member)."""
    if member.served or path is None:
        return MemberHandle(member.name, served_chat_model(member), served_model_ref(member))
    engine = loader.engine(load_settings(member, path, config.engine))
    chat_model = LlamaCppChatModel(
        member=member.name,
        engine=engine,
        persona=member.persona,
        temperature=member.sampling.temperature,
        top_p=member.sampling.top_p,
        top_k=member.sampling.top_k,
        repeat_penalty=member.sampling.repeat_penalty,
        seed=member.sampling.seed,
    )
    return MemberHandle(member.name, chat_model, model_ref(member, path))


def load_members(config: GraphConfig, loader: ModelLoader | None = None) -> Members:
    """Load every distinct model once and wrap each member as a chat model.

    Raises:
        ModelFileError: a model file is missing or not GGUF (nothing is loaded then).
        ModelLoadError: llama.cpp rejected a file (already loaded ones are freed).
    """
    paths = check_member_models(config)
    loader = loader or ModelLoader()
    try:
        handles = {
            m.name: member_handle(m, paths.get(m.name), config, loader) for m in config.members
        }
    except BaseException:
        loader.close()
        raise
    return Members(handles, loader)


class LazyMembers:
    """:class:`MemberSource` that loads a member's model the first time a node asks for it.

    Everything that touches the disk or llama.cpp (finding the file, a bundled model's first
    assembly and hash, its GGUF header check, the load itself) runs in a worker thread, so the
    event loop (a dev server's, say) never blocks on it; members on one file share one load
    through the loader. The lock is a thread lock, not an asyncio one, so one instance may serve
    runs on several event loops.
    """

    def __init__(self, config: GraphConfig, loader: ModelLoader | None = None) -> None:
        self._config = config
        self._loader = loader or ModelLoader()
        self._handles: dict[str, MemberHandle] = {}
        self._lock = threading.Lock()

    async def resolve(self, name: str) -> MemberHandle:
        handle = self._handles.get(name)
        if handle is None:
            handle = await asyncio.to_thread(self._resolve_blocking, name)
        return handle

    def _resolve_blocking(self, name: str) -> MemberHandle:
        with self._lock:
            if name not in self._handles:
                member = self._config.member(name)
                path = None  # a served member has no file
                if not member.served:
                    path = resolve_model_path(member, self._config.base_dir)
                    check_gguf(path, member.name)
                self._handles[name] = member_handle(member, path, self._config, self._loader)
            return self._handles[name]

    def close(self) -> None:
        self._loader.close()
