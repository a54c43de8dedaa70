"""What every node may use besides the state: settings, members and prompts (LangGraph context)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gra_graph.config import GraphConfig, Stage
from gra_graph.llm.members import MemberHandle
from gra_graph.prompts import PromptTemplate, load_prompts


@dataclass(frozen=True)
class GraContext:
    """Run-time dependencies of the graph, passed as ``context=`` to ``ainvoke``/``astream``.

    Keeping models out of the state keeps checkpoints small and lets the compiled graph be
    built (and drawn) without loading any model.
    """

    config: GraphConfig
    members: Mapping[str, MemberHandle]
    prompts: Mapping[Stage, PromptTemplate]
    run_seed: int = 0

    @classmethod
    def create(
        cls, config: GraphConfig, members: Mapping[str, MemberHandle], run_seed: int = 0
    ) -> GraContext:
        """A context with the graph file's prompts loaded and checked."""
        return cls(config, members, load_prompts(config), run_seed)
