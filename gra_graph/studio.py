"""Graphs for the LangGraph dev server and Studio: a graph file in, a compiled graph out.

``langgraph dev`` (package ``langgraph-cli[inmem]``) serves the graphs that ``langgraph.json``
names; ``graphs/studio.py`` builds each with :func:`studio_graph`. What differs from the
runner's graph:

- **No model loads until a run needs it.** The members are :class:`LazyMembers`: registering
  a graph reads its file and prompts only, and a member's model is found, checked and loaded
  in a worker thread the first time a node asks for it, then shared by every later run of
  the server. No llama.cpp work, and no file read, runs on the server's event loop.
- **The context is built in.** The server passes each run the JSON ``context`` its client
  sent (often none). The graph's context schema is a subclass of :class:`GraContext` made
  for this graph file (:func:`studio_context_type`), whose fields all have defaults: the
  settings, the prompts and the lazy members, shared. A client may set ``run_seed`` only.
- **The input is a thread's first state** (:class:`~gra_graph.state.ThreadInput`), as the
  runner gives it; :func:`thread_input` makes one from a seed.

The server keeps threads and checkpoints itself (in memory); nothing is written to a run
directory, so records, dedup and ``accepted.jsonl`` are the runner's business (``gra run``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema

from gra_graph.config import GraphConfig, GraphConfigError, format_validation_error
from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.llm.members import LazyMembers, MemberSource
from gra_graph.pools import FewShotPools
from gra_graph.prompts import PromptTemplate, load_prompts
from gra_graph.seeding import initial_state
from gra_graph.stages import Stage
from gra_graph.state import Seed, ThreadInput

STUDIO_RUN_ID = "studio"
"""The ``run_id`` of threads :func:`thread_input` makes (records of a runner's run carry its
run id instead)."""


class StudioRunSettings(BaseModel):
    """What a client may set in a served run's ``context``: the JSON schema Studio shows."""

    model_config = ConfigDict(extra="forbid")

    run_seed: int = Field(
        0, ge=0, description="the run seed: role draws, few-shot picks and call seeds follow it"
    )


def studio_context_type(
    config: GraphConfig,
    members: MemberSource,
    prompts: Mapping[Stage, PromptTemplate],
) -> type[GraContext]:
    """A :class:`GraContext` subclass whose instances default to this graph's settings.

    ``cls()`` and ``cls(run_seed=3)`` both work, which is what LangGraph does with the JSON
    context a server run carries (``context_schema(**context)``). ``config`` and ``members``
    are not constructor arguments (a client cannot swap them), and the JSON schema the server
    publishes for the context (Studio's form) is :class:`StudioRunSettings`'s.
    """

    def _schema(cls: type, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # the schema only (the server publishes it); LangGraph builds the context by calling
        # the class, never by validating against this schema
        return handler.generate_schema(StudioRunSettings)

    return dataclasses.make_dataclass(
        "StudioContext",
        [
            (
                "config",
                GraphConfig,
                dataclasses.field(default_factory=lambda: config, init=False, repr=False),
            ),
            (
                "members",
                MemberSource,
                dataclasses.field(default_factory=lambda: members, init=False, repr=False),
            ),
            ("run_seed", int, dataclasses.field(default=0)),
        ],
        bases=(GraContext,),
        frozen=True,
        namespace={
            # read once, when the graph is built: a run never reads a prompt file
            "prompts": property(lambda self: prompts, doc="every stage's prompt template"),
            "__get_pydantic_core_schema__": classmethod(_schema),
            "__module__": __name__,
            "__doc__": f"The context of graph {config.name!r} as the dev server serves it.",
        },
    )


def studio_graph(
    graph_file: str | Path, settings: Mapping[str, Any] | None = None
) -> CompiledStateGraph:
    """The compiled graph the dev server serves for ``graph_file``, loading no model.

    The graph file and its prompt files are read and checked now (so a bad file fails when
    the server starts); model files are looked for only when a run first needs a member.
    ``settings`` replaces top-level settings of the file, each whole
    (``{"adjudication": "human"}``; a mapping such as ``thresholds`` replaces the file's, it is
    not merged into it as ``extends:`` would).

    Raises:
        GraphConfigError: the graph file, a setting or a prompt file is invalid.

    Example:
        >>> graph = studio_graph("graphs/gra.yaml")  # doctest: +SKIP
        >>> await graph.ainvoke(thread_input(seed), context={})  # doctest: +SKIP

    Called directly, pass a ``context`` (``{}`` or ``{"run_seed": 3}``): LangGraph builds the
    context only from one it is given, and the server always gives one.
    """
    config = GraphConfig.from_file(graph_file)
    if settings:
        try:
            raw = {**config.model_dump(by_alias=True), **settings, "base_dir": config.base_dir}
            config = GraphConfig.model_validate(raw)
        except ValidationError as exc:
            raise GraphConfigError(format_validation_error(Path(graph_file), exc)) from None
    prompts = load_prompts(config)
    context_type = studio_context_type(config, LazyMembers(config), prompts)
    return build_graph(context_schema=context_type, input_schema=ThreadInput)


def thread_input(
    seed: Seed | Mapping[str, Any],
    *,
    others: Iterable[Seed | Mapping[str, Any]] = (),
    seed_index: int = 0,
    sample_index: int = 0,
    run_seed: int = 0,
    few_shot: int = 3,
    run_id: str = STUDIO_RUN_ID,
) -> ThreadInput:
    """The first state of a thread on ``seed``, as the runner would start it.

    ``seed`` must be annotated (``domain``, three ``keywords`` and a ``summary``); the
    Generator's few-shot pool is the seed's own pair plus up to ``few_shot - 1`` of the
    ``others`` of the same domain, drawn as the runner draws them.

    Raises:
        ValueError: ``seed`` is not a valid, annotated seed.

    >>> state = thread_input({"instruction": "Solve 2x = 6.", "response": "x = 3.",
    ...     "domain": "math", "keywords": ["linear", "equation", "division"],
    ...     "summary": "A one-step linear equation."})
    >>> state["domain"], len(state["pool"])
    ('math', 1)
    """
    first = Seed.model_validate(seed)
    if not first.annotated:
        raise ValueError("a thread's seed needs a domain, three keywords and a summary")
    pools = FewShotPools(run_seed)
    pools.add(first)
    for other in others:
        pools.add(Seed.model_validate(other))
    state = initial_state(run_id, (seed_index, sample_index), first, pools, run_seed, few_shot)
    return ThreadInput(**state)  # type: ignore[typeddict-item]
