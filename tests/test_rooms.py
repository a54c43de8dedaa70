"""Issue 9's rooms, exercised: a seventh score dimension from the Python API, stock LangChain
chat models in every role, a context made of settings, and a run that pauses on purpose."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.llm.members import LazyMembers, MemberHandle, Members
from gra_graph.prompts import PromptError, load_prompts
from gra_graph.rundirs import RunDir
from gra_graph.runner import Runner
from gra_graph.schemas import score_output
from gra_graph.stages import STAGES, Stage
from gra_graph.vocabulary import SCORE_DIMENSIONS
from tests.support.fakes import coding_seeds, committee_config, fake_members

ROOT = Path(__file__).resolve().parents[1]
SEVEN = (*SCORE_DIMENSIONS, "conciseness")


def prompts_with_conciseness(tmp_path: Path) -> Path:
    """The shipped prompts, with the score and adjudicate prompts describing a 7th dimension:
    the only prompt edit a new dimension needs."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    for stage in (Stage.SCORE_RESPONSE, Stage.ADJUDICATE):
        path = prompts / STAGES[stage].prompt_file
        path.write_text(
            path.read_text().replace('"ethicality"', '"ethicality", "conciseness"')
            + "\n- conciseness: says it in as few words as it needs.\n"
        )
    (tmp_path / "graphs").mkdir()
    return tmp_path / "graphs"


def seven_scores(value: int) -> str:
    return json.dumps(
        {**dict.fromkeys(SEVEN, value), "strengths": "s", "weaknesses": "w", "rationale": "r"}
    )


async def test_a_seventh_dimension_is_one_python_setting_plus_the_prompts(tmp_path: Path):
    base = prompts_with_conciseness(tmp_path)
    config = committee_config(score_dimensions=SEVEN, base_dir=base)
    assert list(score_output(SEVEN).model_fields)[:7] == list(SEVEN)
    replies = {r: {"ScoreOutput": seven_scores(9)} for r in ("r1", "r2", "r3")}
    members = fake_members(config, replies)
    runner = Runner(config, coding_seeds(2), tmp_path / "run", members=members)
    async with runner:
        records = [r async for r in runner.records()]
    assert [r.status for r in records] == ["accepted", "accepted"]
    for record in records:
        assert all(list(review.scores) == list(SEVEN) for review in record.reviews)
    # the reviewers were asked for all seven keys, by the grammar schema and by the prompt
    asked = [p for t, p in members["r1"].chat_model.prompts if t == "ScoreOutput"]
    assert asked and all("conciseness" in p for p in asked)


def test_a_dimension_the_prompts_do_not_describe_is_refused(tmp_path: Path):
    config = committee_config(score_dimensions=SEVEN)  # shipped prompts: six dimensions
    with pytest.raises(PromptError, match=r"score_response.*conciseness"):
        load_prompts(config)


@pytest.mark.parametrize("name", ["Has Space", "", "x" * 41])
def test_dimension_names_must_be_json_keys(name: str):
    with pytest.raises(ValueError, match="score_dimensions"):
        committee_config(score_dimensions=(*SCORE_DIMENSIONS, name))


def stock_model(texts: list[str]) -> FakeMessagesListChatModel:
    """A LangChain chat model that knows nothing of our call arguments or grammars."""
    return FakeMessagesListChatModel(responses=[AIMessage(t) for t in texts] * 50)


async def test_stock_langchain_chat_models_fill_every_role(tmp_path: Path):
    config = committee_config()
    fence = "```json\n{}\n```"
    scores = json.dumps({**dict.fromkeys(SCORE_DIMENSIONS, 9), "strengths": "a", "weaknesses": ""})
    check = json.dumps({"rationality": "pass", "completeness": "pass", "clarity": "pass"})
    meta = json.dumps({"keywords": ["a", "b", "c"], "summary": "s"})
    keywords = json.dumps({"keywords": ["x", "y", "z"]})
    task = "Write a loop."
    handles = {
        # the generator composes keywords (JSON in a code fence), writes, answers, enriches
        "gen": stock_model(
            [
                fence.replace("{}", keywords),
                json.dumps({"instruction": task}),
                "for x in y: pass",
                "Sure: " + meta,
            ]
        ),
        **{r: stock_model([check, fence.replace("{}", scores)]) for r in ("r1", "r2", "r3")},
        "adj": stock_model([scores]),
    }
    members = Members.from_handles(
        {n: MemberHandle(n, m, f"stock:{n}") for n, m in handles.items()}
    )
    runner = Runner(config, coding_seeds(1), tmp_path / "run", members=members)
    async with runner:
        (record,) = [r async for r in runner.records()]
    assert record.status == "accepted", record.reason
    assert record.keywords == ["a", "b", "c"] and record.instruction == task
    assert all(len(r.scores) == 6 for r in record.reviews)


async def test_a_context_from_settings_loads_members_only_when_asked():
    ctx = GraContext.from_graph_file(ROOT / "graphs" / "gra.yaml", run_seed=1)
    assert isinstance(ctx.members, LazyMembers)
    assert ctx.members._loader.loaded == 0  # nothing loaded to build (or draw) the graph
    assert set(ctx.prompts) == set(Stage)


async def test_a_run_that_pauses_on_purpose_is_paused_not_failed(tmp_path: Path):
    config = committee_config()
    conflict = {
        "r1": {
            "ScoreOutput": json.dumps(
                {**dict.fromkeys(SCORE_DIMENSIONS, 10), "strengths": "", "weaknesses": ""}
            )
        },
        "r2": {
            "ScoreOutput": json.dumps(
                {**dict.fromkeys(SCORE_DIMENSIONS, 10), "strengths": "", "weaknesses": ""}
            )
        },
        "r3": {
            "ScoreOutput": json.dumps(
                {**dict.fromkeys(SCORE_DIMENSIONS, 6), "strengths": "", "weaknesses": ""}
            )
        },
    }
    out = tmp_path / "run"
    runner = Runner(
        config,
        coding_seeds(2),
        out,
        members=fake_members(config, conflict),
        interrupt_before=["adjudicate"],
    )
    async with runner:
        records = [r async for r in runner.records()]
    assert records == [] and sorted(runner.paused) == [(0, 0), (1, 0)]
    assert runner.summary.paused == 2 and runner.summary.errors == 0
    assert RunDir(out).manifest()["status"] == "paused"
    assert RunDir(out).info().status == "paused"
    # running again without the breakpoint resumes the paused threads at the adjudicator
    runner = Runner(config, coding_seeds(2), out, members=fake_members(config, conflict))
    async with runner:
        records = [r async for r in runner.records()]
    assert len(records) == 2 and all(r.adjudication is not None for r in records)
    assert RunDir(out).manifest()["status"] == "complete"


def test_the_score_dimensions_are_part_of_the_run_fingerprint():
    config = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")
    seven = config.model_copy(update={"score_dimensions": SEVEN})
    assert config.fingerprint() != seven.fingerprint()
