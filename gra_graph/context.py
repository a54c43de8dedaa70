"""What every node may use besides the state: settings, and a way to reach the members.

The context holds no loaded model of its own. It carries the graph's settings and a
:class:`~gra_graph.llm.members.MemberSource` that turns a member's name into a chat model when a
node asks: members loaded up front by the runner, or loaded lazily on first use for a graph
built from settings alone (:meth:`GraContext.from_graph_file`, what the LangGraph dev server
and Studio need). Prompts are read from the graph's prompt files once, on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from gra_graph.config import GraphConfig
from gra_graph.llm.members import LazyMembers, MemberHandle, Members, MemberSource
from gra_graph.prompts import PromptTemplate, load_prompts
from gra_graph.stages import Stage


@dataclass(frozen=True)
class GraContext:
    """Run-time settings of the graph, passed as ``context=`` to ``ainvoke``/``astream``.

    Keeping models out of the state keeps checkpoints small, and keeping them out of the
    context's fields lets the compiled graph be built (and drawn, and served) before any model
    is loaded.

    Example:
        >>> ctx = GraContext.from_graph_file("graphs/gra.yaml", run_seed=1)  # doctest: +SKIP
        >>> await build_graph().ainvoke(initial_state, context=ctx)  # doctest: +SKIP
    """

    config: GraphConfig
    members: MemberSource
    run_seed: int = 0

    @cached_property
    def prompts(self) -> Mapping[Stage, PromptTemplate]:
        """Every stage's prompt template, read and checked once."""
        return load_prompts(self.config)

    async def member(self, name: str) -> MemberHandle:
        """The member called ``name``, loading its model first if it is not loaded yet."""
        return await self.members.resolve(name)

    @classmethod
    def create(
        cls,
        config: GraphConfig,
        members: Mapping[str, MemberHandle] | MemberSource,
        run_seed: int = 0,
        prompts: Mapping[Stage, PromptTemplate] | None = None,
    ) -> GraContext:
        """A context over members already made (a mapping of handles, or any source), with the
        graph file's prompts loaded and checked now, or the ``prompts`` already loaded (the
        runner's, so prompt files are read once and what runs is what was fingerprinted)."""
        source = members if hasattr(members, "resolve") else Members.from_handles(members)
        ctx = cls(config, source, run_seed)  # type: ignore[arg-type]
        if prompts is not None:
            ctx.__dict__["prompts"] = prompts  # fills the cached_property
        _ = ctx.prompts  # a bad prompt file fails here, not in the first node
        return ctx

    @classmethod
    def from_graph_file(cls, path: str | Path, run_seed: int = 0) -> GraContext:
        """A context from settings alone: the graph file is read now, models on first use."""
        config = GraphConfig.from_file(path)
        return cls.create(config, LazyMembers(config), run_seed)
