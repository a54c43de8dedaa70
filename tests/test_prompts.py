"""Prompt templates: every shipped prompt loads, and rendering is literal and single-pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gra_graph.config import GraphConfig, GraphConfigError, Stage
from gra_graph.prompts import STAGE_VARIABLES, PromptError, PromptTemplate, load_prompts

ROOT = Path(__file__).resolve().parent.parent
GRA = ROOT / "graphs" / "gra.yaml"

TRICKY = "{{instruction}} {% for x in y %}{{ x }}{% endfor %} $x ${x} \"dq\" 'sq' \\n \\1 \\g<0> {}"


def temp_graph(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of prompts/ and a graph file whose ``prompts:`` entries point into it.

    The copy lies outside the graph file's folder, so the graph names it in ``prompt_root``.
    """
    prompts_dir = tmp_path / "my_prompts"
    shutil.copytree(ROOT / "prompts", prompts_dir)
    graph_dir = tmp_path / "graphs"
    graph_dir.mkdir()
    raw = yaml.safe_load(GRA.read_text(encoding="utf-8"))
    raw["prompts"] = {stage.value: f"../my_prompts/{stage.value}.txt" for stage in Stage}
    raw["prompt_root"] = "../my_prompts"
    graph = graph_dir / "graph.yaml"
    graph.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return graph, prompts_dir


def test_every_shipped_prompt_loads():
    templates = load_prompts(GraphConfig.from_file(GRA))
    assert set(templates) == set(Stage)
    for stage, template in templates.items():
        assert template.stage == stage
        assert template.text.strip() == template.text
        assert template.text, f"{stage} prompt is empty"
        assert template.variables <= STAGE_VARIABLES[stage]
        assert template.source == (ROOT / "prompts" / f"{stage.value}.txt").resolve()


def test_shipped_prompts_render_with_their_stage_variables():
    templates = load_prompts(GraphConfig.from_file(GRA))
    for stage, template in templates.items():
        values = {name: f"<{name}-value>" for name in STAGE_VARIABLES[stage]}
        text = template.render(values)
        assert PromptTemplate(stage, text, template.source).variables == frozenset()
        for name in template.variables:
            assert f"<{name}-value>" in text


def test_render_inserts_values_literally():
    template = PromptTemplate(Stage.WRITE_RESPONSE, "Task: {{instruction}}\nEnd.", Path("x"))
    assert template.render({"instruction": TRICKY}) == f"Task: {TRICKY}\nEnd."


def test_render_does_not_substitute_inserted_values_again():
    template = PromptTemplate(
        Stage.SCORE_RESPONSE, "I={{instruction}} R={{ response }} D={{domain}}", Path("x")
    )
    values = {"instruction": "{{response}}", "response": "{{domain}}", "domain": "{{instruction}}"}
    assert template.render(values) == "I={{response}} R={{domain}} D={{instruction}}"


def test_render_accepts_spaced_placeholders_and_stringifies():
    template = PromptTemplate(Stage.WRITE_INSTRUCTION, "{{ keywords }}|{{domain}}", Path("x"))
    assert template.render({"keywords": ["a", "b"], "domain": 7}) == "['a', 'b']|7"


def test_render_with_missing_value_raises():
    template = PromptTemplate(Stage.WRITE_RESPONSE, "{{domain}}: {{instruction}}", Path("t.txt"))
    with pytest.raises(KeyError, match="domain"):
        template.render({"instruction": "x"})


def test_temp_copy_loads_like_the_original(tmp_path: Path):
    graph, prompts_dir = temp_graph(tmp_path)
    templates = load_prompts(GraphConfig.from_file(graph))
    original = load_prompts(GraphConfig.from_file(GRA))
    assert {s: t.text for s, t in templates.items()} == {s: t.text for s, t in original.items()}
    assert templates[Stage.ENRICH].source == (prompts_dir / "enrich.txt").resolve()


def test_unknown_placeholder_names_stage(tmp_path: Path):
    graph, prompts_dir = temp_graph(tmp_path)
    target = prompts_dir / "check_instruction.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n{{response}} {{bogus}}\n")
    with pytest.raises(PromptError) as info:
        load_prompts(GraphConfig.from_file(graph))
    message = str(info.value)
    assert "prompts.check_instruction" in message
    assert "bogus" in message
    # response is not a check_instruction variable either
    assert "response" in message


def test_missing_prompt_file(tmp_path: Path):
    graph, prompts_dir = temp_graph(tmp_path)
    (prompts_dir / "revise.txt").unlink()
    with pytest.raises(PromptError) as info:
        load_prompts(GraphConfig.from_file(graph))
    message = str(info.value)
    assert "prompts.revise" in message
    assert "revise.txt" in message


def test_prompt_error_is_a_graph_config_error():
    assert issubclass(PromptError, GraphConfigError)
