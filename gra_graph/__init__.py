"""gra-graph: synthetic instruction data from a peer-review committee of small local LLMs.

GRA (Generator, Reviewer, Adjudicator; arXiv 2504.12322) as a LangGraph state machine on
llama.cpp, checkpointed to SQLite.

Example:
    >>> import asyncio
    >>> from gra_graph import GraphConfig, read_seeds, run_seeds
    >>> async def main():  # doctest: +SKIP
    ...     config = GraphConfig.from_file("graphs/gra.yaml")
    ...     async for record in run_seeds(config, read_seeds("examples/seeds.jsonl"), "runs/a"):
    ...         print(record.status, record.reason)
"""

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.llm.chat_model import LlamaCppChatModel, SchemaChatModel
from gra_graph.llm.members import MemberHandle, Members, load_members
from gra_graph.runner import (
    RunDirectoryError,
    Runner,
    RunObserver,
    RunSummary,
    RunWriteError,
    run_seeds,
)
from gra_graph.seeds import SeedFile, SeedFileError, SeedOptions, read_seeds
from gra_graph.state import Record, Seed

__all__ = [
    "GraContext",
    "GraphConfig",
    "GraphConfigError",
    "LlamaCppChatModel",
    "MemberHandle",
    "Members",
    "Record",
    "RunDirectoryError",
    "RunObserver",
    "RunSummary",
    "RunWriteError",
    "Runner",
    "SchemaChatModel",
    "Seed",
    "SeedFile",
    "SeedFileError",
    "SeedOptions",
    "build_graph",
    "load_members",
    "read_seeds",
    "run_seeds",
]
