"""Human adjudication (``adjudication: human | model_then_human``) on scripted members: the
route to the person, the run going on while samples wait, answers from Python, from
``record_answer`` and from ``gra review`` on stdin, and bad answers refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END
from langgraph.types import Command
from rich.console import Console

from gra_graph import cli, drawing
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.context import GraContext
from gra_graph.decision import escalate_to_human, next_step
from gra_graph.graph import build_graph
from gra_graph.human import AnswerError, answers, record_answer, waiting
from gra_graph.output import append_jsonl_exclusive
from gra_graph.records import build_record
from gra_graph.reviewing import review_session
from gra_graph.runner import Runner
from gra_graph.state import Adjudication, HumanAnswer, Seed, Verdict
from gra_graph.viewer.html import sample_html
from tests.support.cli_fake import CONFLICT
from tests.support.fakes import adjudication, coding_seeds, committee_config, fake_members, scores
from tests.support.helpers import ROOT, scripted_graph_text
from tests.test_graph_branches import INITIAL

MATH_CONFLICTS: dict[str, dict[str, Any]] = {
    "r1": {"ScoreOutput": scores(10)},
    "r2": {"ScoreOutput": scores(10)},
    # r3 disagrees on math only: coding samples are accepted, math samples conflict
    "r3": {"ScoreOutput": lambda t, p: scores(6 if "a math training set" in p else 10)},
}


def math_seeds(n: int) -> list[Seed]:
    return [
        Seed(
            instruction=f"Add {i} and 2.",
            response=f"{i + 2}",
            domain="math",
            keywords=[f"m{i}", "sum", "integers"],
            summary="adding integers",
        )
        for i in range(n)
    ]


async def collect(runner: Runner) -> list[Any]:
    async with runner:
        return [r async for r in runner.records()]


# ---- the setting


def test_adjudication_setting_keeps_true_and_false_and_adds_two_modes():
    assert committee_config().adjudication is True
    assert committee_config(adjudication=False).model_adjudicates is False
    human = committee_config(adjudication="human")
    assert human.human_adjudicates and not human.model_adjudicates
    both = committee_config(adjudication="model_then_human")
    assert both.human_adjudicates and both.model_adjudicates
    assert GraphConfig.from_file(ROOT / "graphs" / "gra.yaml").adjudication is True


def test_a_person_needs_no_adjudicator_member_but_model_then_human_does():
    members = [
        {"name": "gen", "model": "fake", "roles": ["generator", "enricher"]},
        *({"name": f"r{i}", "model": "fake", "roles": ["reviewer"]} for i in range(3)),
    ]
    GraphConfig.model_validate({"members": members, "adjudication": "human"})
    with pytest.raises(ValueError, match="no member may adjudicate"):
        GraphConfig.model_validate({"members": members, "adjudication": "model_then_human"})


def test_an_unknown_adjudication_value_is_refused_naming_the_field(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(extra="adjudication: maybe\n"))
    with pytest.raises(GraphConfigError, match="adjudication"):
        GraphConfig.from_file(graph)


# ---- routing


def test_a_conflict_goes_to_the_person_under_adjudication_human():
    conflict = Verdict(
        round=0, outcome="conflict", mu=8.7, sigma=1.9, valid_reviews=3, abstentions=0
    )
    assert next_step(conflict, 0, committee_config(adjudication="human")) == (
        "human_adjudicate",
        None,
    )
    assert next_step(conflict, 0, committee_config(adjudication="model_then_human"))[0] == (
        "adjudicate"
    )


def test_model_then_human_escalates_abstentions_and_disagreements_only():
    a = Adjudication(adjudicator="adj", model_file="m")
    assert escalate_to_human(a.model_copy(update={"abstained": True}), 8.7, 8.0)
    assert escalate_to_human(a.model_copy(update={"composite": 5.0}), 8.7, 8.0)  # drops
    assert not escalate_to_human(a.model_copy(update={"composite": 9.0}), 8.7, 8.0)  # keeps


async def run_until_interrupt(replies: dict[str, Any], mode: str):
    config = committee_config(adjudication=mode)
    members = fake_members(config, replies)
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = GraContext.create(config, members, run_seed=1)
    thread = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke(INITIAL, thread, context=ctx)
    return graph, ctx, thread, members


async def test_python_command_resume_keeps_drops_or_edits():
    for answer, status, response in (
        (HumanAnswer(decision="keep"), "accepted", None),
        (HumanAnswer(decision="drop", who="ana", note="off topic"), "rejected", None),
        (HumanAnswer(decision="edit", edited_response="Better."), "accepted", "Better."),
    ):
        graph, ctx, thread, members = await run_until_interrupt(CONFLICT, "human")
        snapshot = await graph.aget_state(thread)
        assert snapshot.next == ("human_adjudicate",)
        question = snapshot.interrupts[0].value
        assert question["kind"] == "human_adjudication" and question["sigma"] > 1.5
        assert {r["reviewer"] for r in question["reviews"]} == {"r1", "r2", "r3"}
        original = snapshot.values["response"]
        await graph.ainvoke(Command(resume=answer.model_dump()), thread, context=ctx)
        record = build_record((await graph.aget_state(thread)).values, "t", members)
        assert record.status == status and record.adjudication is None
        assert record.human is not None and record.human.decision == answer.decision
        assert record.human.who == answer.who and record.human.original_response == original
        assert record.response == (response or original)
        assert record.human.edited_response == response
        assert record.reason.startswith("human ")
        assert (record.summary is not None) == (status == "accepted")  # kept ones are enriched


async def test_a_bad_resume_value_is_asked_again_with_the_reason():
    graph, ctx, thread, members = await run_until_interrupt(CONFLICT, "human")
    await graph.ainvoke(Command(resume={"decision": "maybe"}), thread, context=ctx)
    snapshot = await graph.aget_state(thread)
    assert snapshot.next == ("human_adjudicate",), "the thread still waits, it did not fail"
    assert "not a valid human answer" in snapshot.interrupts[0].value["error"]
    await graph.ainvoke(Command(resume={"decision": "keep"}), thread, context=ctx)
    assert build_record((await graph.aget_state(thread)).values, "t", members).status == (
        "accepted"
    )


def test_bad_answers_are_refused_as_typed_models():
    with pytest.raises(ValueError, match="edited_response"):
        HumanAnswer(decision="edit")
    with pytest.raises(ValueError, match="only for decision 'edit'"):
        HumanAnswer(decision="keep", edited_response="x")


async def test_model_then_human_asks_a_person_only_when_the_model_drops():
    drops = {**CONFLICT, "adj": {"AdjudicationOutput": adjudication(5)}}
    graph, ctx, thread, members = await run_until_interrupt(drops, "model_then_human")
    snapshot = await graph.aget_state(thread)
    assert snapshot.next == ("human_adjudicate",)
    assert snapshot.interrupts[0].value["adjudication"]["composite"] == 5.0
    await graph.ainvoke(Command(resume={"decision": "keep"}), thread, context=ctx)
    record = build_record((await graph.aget_state(thread)).values, "t", members)
    assert record.status == "accepted" and record.adjudication.composite == 5.0
    assert record.human.decision == "keep"

    keeps = {**CONFLICT, "adj": {"AdjudicationOutput": adjudication(9)}}
    graph, ctx, thread, members = await run_until_interrupt(keeps, "model_then_human")
    record = build_record((await graph.aget_state(thread)).values, "t", members)
    assert record.status == "accepted" and record.human is None  # the model decided


# ---- a run: others go on, answers recorded and applied once


async def test_the_run_goes_on_while_conflicts_wait_and_answers_apply_on_resume(tmp_path: Path):
    out = tmp_path / "run"
    config = committee_config(adjudication="human", dedup={"embedder": "ngram"})
    seeds = [*coding_seeds(2), *math_seeds(2)]
    runner = Runner(config, seeds, out, members=fake_members(config, MATH_CONFLICTS))
    records = await collect(runner)
    assert sorted(r.key for r in records) == [(0, 0), (1, 0)]  # the coding samples finished
    assert sorted(runner.paused) == [(2, 0), (3, 0)] and runner.summary.status == "paused"
    waits = waiting(out)
    assert [(w.seed_index, w.domain, w.answered) for w in waits] == [
        (2, "math", False),
        (3, "math", False),
    ]
    assert waits[0].mu == pytest.approx(8.6667) and waits[0].sigma == pytest.approx(1.8856)

    record_answer(out, (2, 0), "drop", who="ana")
    record_answer(out, "3-0", "edit", "5")
    with pytest.raises(AnswerError, match="answered already"):
        record_answer(out, "3-0", "keep")
    with pytest.raises(AnswerError, match="not waiting"):
        record_answer(out, (0, 0), "keep")  # finished by the committee
    with pytest.raises(AnswerError, match="edited_response"):
        record_answer(out, (2, 0), "edit")
    with pytest.raises(AnswerError, match="SEED-SAMPLE"):
        record_answer(out, "two", "keep")
    assert [w.answered for w in waiting(out)] == [True, True]
    assert len((out / "answers.jsonl").read_text().splitlines()) == 2  # refusals wrote nothing

    again = Runner(config, seeds, out, members=fake_members(config, MATH_CONFLICTS))
    resumed = {r.key: r for r in await collect(again)}
    assert again.summary.complete and waiting(out) == []
    assert again.summary.adjudicated == 2  # settled by a person
    assert resumed[(2, 0)].status == "rejected" and resumed[(2, 0)].human.who == "ana"
    assert resumed[(3, 0)].response == "5" and resumed[(3, 0)].human.original_response != "5"
    lines = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert sorted((r["seed_index"], r["sample_index"]) for r in lines) == [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 0),
    ]
    third = Runner(config, seeds, out, members=fake_members(config, MATH_CONFLICTS))
    await collect(third)  # nothing is applied twice
    assert len((out / "records.jsonl").read_text().splitlines()) == 4
    assert set(answers(out)) == {"2-0", "3-0"}


async def test_gra_review_keeps_drops_and_edits_from_stdin(tmp_path: Path):
    out = tmp_path / "run"
    config = committee_config(adjudication="human", dedup={"embedder": "ngram"})
    await collect(Runner(config, math_seeds(4), out, members=fake_members(config, CONFLICT)))
    console = Console(file=io.StringIO(), width=100)
    # keep, a typo, drop, edit (two lines), skip
    stdin = io.StringIO("k\nmaybe\nd\ne\nFirst line.\nSecond line.\n.\ns\n")
    assert review_session(out, console, stdin, who="ana") == 3
    shown = console.file.getvalue()
    assert "not an answer: maybe" in shown and "weaknesses: could be shorter" in shown
    assert "Write a memoized recursive Fibonacci" in shown and "r3: correctness 6" in shown
    got = answers(out)
    assert [got[k].decision for k in ("0-0", "1-0", "2-0")] == ["keep", "drop", "edit"]
    assert got["2-0"].edited_response == "First line.\nSecond line." and "3-0" not in got
    assert {a.who for a in got.values()} == {"ana"}
    # the skipped sample is still there to answer; at the end of input the session stops
    assert review_session(out, Console(file=io.StringIO()), io.StringIO("")) == 0
    assert [w.thread_id for w in waiting(out) if not w.answered] == ["3-0"]


def test_gra_review_command_records_then_resumes(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(extra="adjudication: human\n"))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s.model_dump()) + "\n" for s in math_seeds(2)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRA_FAKE_CONFLICT": "1", "COLUMNS": "200"}
    env.pop("GRA_CRASH_AT", None)
    out = tmp_path / "run"

    def gra(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.support.cli_fake", *args],
            input=stdin,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = gra("run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet")
    assert first.returncode == 3, first.stderr  # paused: not complete
    assert "2 sample(s) waiting for a person" in first.stderr
    assert f"gra review {out}" in first.stderr
    review = gra("review", str(out), "--quiet", stdin="k\ne\nFour.\n.\n")
    assert review.returncode == 0, review.stderr
    rows = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert sorted((r["seed_index"], r["human"]["decision"]) for r in rows) == [
        (0, "keep"),
        (1, "edit"),
    ]
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    nothing = gra("review", str(out))
    assert nothing.returncode == 0 and "no sample" in nothing.stderr


# ---- the drawing


async def test_the_drawing_shows_the_human_edges_when_the_file_asks():
    human = drawing.edge_rules(committee_config(adjudication="human"))
    assert human[("decide", "human_adjudicate")].off is None
    assert human[("human_adjudicate", "enrich")].off is None
    assert human[("decide", "adjudicate")].off == "adjudication: human"
    both = drawing.edge_rules(committee_config(adjudication="model_then_human"))
    assert both[("adjudicate", "human_adjudicate")].off is None
    assert both[("decide", "human_adjudicate")].off == "adjudication: model_then_human"
    plain = drawing.edge_rules(committee_config())
    assert plain[("human_adjudicate", END)].off == "adjudication: true"
    # a record's path (gra draw --run) goes through the person
    graph, ctx, thread, members = await run_until_interrupt(CONFLICT, "human")
    await graph.ainvoke(Command(resume={"decision": "drop"}), thread, context=ctx)
    record = build_record((await graph.aget_state(thread)).values, "t", members)
    assert drawing.edges_taken(record.model_dump(mode="json"))[-2:] == [
        ("decide", "human_adjudicate"),
        ("human_adjudicate", END),
    ]
    # and the viewer's provenance page shows the person's decision
    page = sample_html(record)
    assert "Human decision" in page and "<td>drop</td>" in page


# ---- the answers journal


def test_an_exclusive_append_cuts_a_torn_tail_and_may_refuse(tmp_path: Path):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": ')  # a writer killed half-way
    append_jsonl_exclusive(path, [{"c": 3}])
    assert path.read_text() == '{"a": 1}\n{"c": 3}\n'

    def refuse() -> None:
        raise AnswerError("no")

    with pytest.raises(AnswerError):
        append_jsonl_exclusive(path, [{"d": 4}], refuse)
    assert path.read_text() == '{"a": 1}\n{"c": 3}\n'


async def test_two_people_answering_at_once_give_one_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "run"
    config = committee_config(adjudication="human", dedup={"embedder": "ngram"})
    await collect(Runner(config, math_seeds(1), out, members=fake_members(config, CONFLICT)))
    stale = waiting(out)  # what the second person saw before the first one answered
    record_answer(out, "0-0", "keep", who="ana")
    monkeypatch.setattr("gra_graph.human.waiting", lambda run_dir: stale)
    with pytest.raises(AnswerError, match="answered meanwhile"):
        record_answer(out, "0-0", "drop", who="bo")
    assert len((out / "answers.jsonl").read_text().splitlines()) == 1
    assert answers(out)["0-0"].who == "ana"


async def test_gra_review_on_a_run_started_from_python_records_and_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "run"
    config = committee_config(adjudication="human", dedup={"embedder": "ngram"})
    await collect(Runner(config, math_seeds(1), out, members=fake_members(config, CONFLICT)))
    monkeypatch.setattr(sys, "stdin", io.StringIO("d\n"))
    assert cli.main(["review", str(out)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "1 answer(s) recorded; not resumed here" in err and "run_seeds" in err
    assert answers(out)["0-0"].decision == "drop"


def test_gra_review_on_a_directory_without_a_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert cli.main(["review", str(tmp_path)]) == 2
    assert "not a gra run directory" in capsys.readouterr().err
