"""The graphs ``langgraph.json`` registers: built from their files without loading a model, a
context the server can make from any client's JSON, and a thread's input from a seed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel.main import _coerce_context
from langgraph.types import Command

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.graph import build_graph
from gra_graph.llm import loader, members
from gra_graph.prompts import load_prompts
from gra_graph.state import ThreadInput
from gra_graph.studio import studio_context_type, studio_graph, thread_input
from tests.support.cli_fake import CONFLICT
from tests.support.fakes import coding_seeds, committee_config, fake_members
from tests.support.helpers import ROOT

SEED = {
    "instruction": "Solve for x: 3x + 7 = 22.",
    "response": "x = 5.",
    "domain": "math",
    "keywords": ["linear equation", "inverse operations", "solution check"],
    "summary": "A linear equation solved step by step.",
}


def registered_graphs() -> dict[str, Any]:
    """Every graph ``langgraph.json`` names, imported by file path as the dev server does."""
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    graphs = {}
    for graph_id, entry in config["graphs"].items():
        source = entry["path"] if isinstance(entry, dict) else entry
        path, variable = source.rsplit(":", 1)
        spec = importlib.util.spec_from_file_location(f"studio_{graph_id}", ROOT / path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        graphs[graph_id] = getattr(module, variable)
    return graphs


def test_every_registered_graph_builds_without_loading_a_model(monkeypatch: pytest.MonkeyPatch):
    def no_load(*_: object) -> None:
        raise AssertionError("a model was looked for or loaded while building a graph")

    monkeypatch.setattr(loader, "load_engine", no_load)
    monkeypatch.setattr(members, "check_gguf", no_load)
    monkeypatch.setattr(members, "bundled_path", no_load)
    graphs = registered_graphs()
    assert {"gra", "gra_qwen", "gra_human"} <= set(graphs)
    for graph_id, graph in graphs.items():
        assert isinstance(graph, CompiledStateGraph), graph_id
        assert "human_adjudicate" in graph.get_graph().nodes
        context = _coerce_context(graph.context_schema, {})  # what a run without context gets
        assert context.config.members and context.prompts
        assert isinstance(context.members, members.LazyMembers)
        assert context.members._handles == {}


def test_settings_replace_the_files_own():
    graph = studio_graph(ROOT / "graphs" / "gra.yaml", {"adjudication": "human"})
    context = graph.context_schema()
    assert context.config.adjudication == "human"
    assert context.config.thresholds.tau == 8.0  # the rest is the file's
    with pytest.raises(GraphConfigError, match="adjudication"):
        studio_graph(ROOT / "graphs" / "gra.yaml", {"adjudication": "nobody"})


def test_the_context_schema_offers_the_run_seed_only():
    graph = studio_graph(ROOT / "graphs" / "gra.yaml")
    schema = graph.get_context_jsonschema()
    assert schema is not None and set(schema["properties"]) == {"run_seed"}
    first = _coerce_context(graph.context_schema, {"run_seed": 7})
    second = _coerce_context(graph.context_schema, {})
    assert (first.run_seed, second.run_seed) == (7, 0)
    assert first.members is second.members  # one set of lazy members per served graph
    assert first.config is second.config and first.prompts is second.prompts
    with pytest.raises(TypeError):  # a client cannot swap the settings or the members
        graph.context_schema(config=None)


def test_the_input_schema_is_a_threads_first_state():
    graph = studio_graph(ROOT / "graphs" / "gra.yaml")
    schema = graph.get_input_jsonschema()
    assert set(schema["required"]) == {"seed_index", "sample_index", "domain", "pool"}
    assert set(schema["properties"]) == set(ThreadInput.__annotations__)


def test_thread_input_is_what_the_runner_starts_a_thread_from():
    others = [s.model_dump() for s in coding_seeds(4)] + [SEED | {"summary": "Another one."}]
    state = thread_input(SEED, others=others, seed_index=3, sample_index=1, run_seed=2)
    assert state["domain"] == "math" and (state["seed_index"], state["sample_index"]) == (3, 1)
    assert state["pool"][0]["summary"] == SEED["summary"]  # the seed's own pair first
    assert [p["summary"] for p in state["pool"][1:]] == ["Another one."]  # same domain only
    assert state["seed"]["instruction"] == SEED["instruction"]
    json.dumps(state)  # what a client sends as JSON


@pytest.mark.parametrize(
    "seed", [{"instruction": "Hi", "response": "Hello"}, {"instruction": "", "response": "x"}]
)
def test_thread_input_refuses_a_seed_without_metadata(seed: dict[str, Any]):
    with pytest.raises(ValueError):
        thread_input(seed)


async def test_a_run_without_context_gets_the_graphs_own(tmp_path: Path):
    """What the server does with a run whose client sent no context, on scripted members;
    a conflict waits at the interrupt and a resume with the person's answer ends it."""
    config: GraphConfig = committee_config(adjudication="human")
    context_type = studio_context_type(config, fake_members(config, CONFLICT), load_prompts(config))
    graph = build_graph(InMemorySaver(), context_schema=context_type, input_schema=ThreadInput)
    thread = {"configurable": {"thread_id": "t"}}
    seed = coding_seeds(1)[0]
    await graph.ainvoke(thread_input(seed), thread, context={})
    state = await graph.aget_state(thread)
    assert state.next == ("human_adjudicate",)
    answer = {"decision": "drop", "who": "unit"}
    values = await graph.ainvoke(Command(resume=answer), thread, context={})
    assert values["decision"]["status"] == "rejected"
    assert values["decision"]["reason"].startswith("human drops")
