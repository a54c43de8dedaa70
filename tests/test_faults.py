"""Faults in the model layer, on scripted members: every fault kind is retried, then becomes an
abstention or a rejection that says why, is counted per member and kind, and no sample is lost."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel, ConfigDict

from gra_graph import schemas
from gra_graph.config import Faults, GraphConfig, GraphConfigError, Stage
from gra_graph.context import GraContext
from gra_graph.llm.chat_model import StructuredOutputError, parse_structured
from gra_graph.llm.faults import FaultInjectingChatModel, break_schema, draw_fault, with_faults
from gra_graph.nodes.calls import ask_structured, ask_text
from gra_graph.runner import Runner
from gra_graph.schemas import grammar_schema
from gra_graph.state import FAULT_KINDS, MODEL_FAULT_KINDS, Seed
from tests.support.fakes import ScriptedChatModel, coding_seeds, committee_config, fake_members

CLASSIFIED = {
    "raise": "exception",
    "hang": "timeout",
    "empty": "empty",
    "invalid_json": "invalid_json",
    "out_of_range": "schema",
}

SEEDS = coding_seeds(4)


def config_with_faults(faults: dict[str, dict[str, float]], **overrides: Any) -> GraphConfig:
    """The five-member scripted committee with ``faults[member]`` set on those members."""
    base = committee_config()
    members = [
        {**m.model_dump(exclude={"faults"}), "faults": faults.get(m.name, {})} for m in base.members
    ]
    return committee_config(members=members, **overrides)


async def run_all(config: GraphConfig, out: Path, **kwargs: Any) -> tuple[Runner, list]:
    members = kwargs.pop("members", None) or fake_members(config)
    runner = Runner(config, SEEDS, out, members=members, **kwargs)
    async with runner:
        records = [r async for r in runner.records()]
    return runner, records


def recount(records: list) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for record in records:
        for call in record.calls:
            counts.setdefault(call.member, Counter()).update(call.faults)
    return {m: dict(sorted(c.items())) for m, c in sorted(counts.items()) if c}


# ---- the draw and the fake replies


def test_draw_is_seeded_and_follows_the_probabilities():
    faults = Faults.model_validate({"raise": 0.1, "hang": 0.1, "empty": 0.2, "out_of_range": 0.1})
    draws = [draw_fault(faults, f"m:{i}") for i in range(5000)]
    assert draws == [draw_fault(faults, f"m:{i}") for i in range(5000)]  # reproducible
    share = Counter(draws)
    assert abs(share["raise"] / 5000 - 0.1) < 0.02
    assert abs(share["empty"] / 5000 - 0.2) < 0.02
    assert abs(share[None] / 5000 - 0.5) < 0.03
    assert share["invalid_json"] == 0
    assert draw_fault(Faults(), "m:1") is None


@pytest.mark.parametrize(
    "schema",
    [
        schemas.KeywordTriple,
        schemas.InstructionCheckOutput,
        schemas.ScoreOutput,
        schemas.AdjudicationOutput,
        schemas.Metadata,
        schemas.Annotation,
    ],
)
def test_out_of_range_reply_is_valid_json_that_breaks_every_schema(schema: type[BaseModel]):
    text = break_schema(json.dumps(grammar_schema(schema)))
    json.loads(text)
    with pytest.raises(StructuredOutputError) as info:
        parse_structured(AIMessage(text), schema)
    assert info.value.kind == "schema"


def test_fault_settings_are_validated(tmp_path: Path):
    assert Faults.model_validate({"raise": 0.5}).raise_ == 0.5
    with pytest.raises(ValueError, match=r"add up to 1\.2"):
        Faults.model_validate({"raise": 0.6, "empty": 0.6})
    graph = tmp_path / "g.yaml"
    graph.write_text(
        "members:\n"
        "  - {name: a, model: x.gguf, faults: {raise: 0.1, explode: 0.5}}\n"
        "  - {name: b, model: x.gguf, faults: {hang: 2}}\n"
        "committee_size: 1\nadjudication: false\n"
    )
    with pytest.raises(GraphConfigError) as info:
        GraphConfig.from_file(graph)
    message = str(info.value)
    assert "members.0.faults.explode" in message
    assert "members.1.faults.hang" in message


def test_members_without_faults_are_not_wrapped():
    config = config_with_faults({"r1": {"empty": 0.5}})
    members = fake_members(config)
    wrapped = with_faults(members, config)
    assert isinstance(wrapped["r1"].chat_model, FaultInjectingChatModel)
    assert wrapped["r2"] is members["r2"]
    assert wrapped["r1"].model_ref == members["r1"].model_ref


# ---- one call: every kind is retried, classified and reported


def _ctx(config: GraphConfig, members: Any = None) -> GraContext:
    members = members or fake_members(config)
    return GraContext.create(config, with_faults(members, config), run_seed=3)


@pytest.mark.parametrize("injected", list(CLASSIFIED))
async def test_each_injected_fault_is_retried_then_reported(injected: str):
    config = config_with_faults({"r1": {injected: 1.0}}, generation={"call_timeout_s": 0.05})
    out = await ask_structured(
        _ctx(config),
        "r1",
        Stage.SCORE_RESPONSE,
        {"domain": "qa", "instruction": "i", "response": "r"},
        schemas.ScoreOutput,
        (0, 0, "r1", 0),
    )
    kind = CLASSIFIED[injected]
    assert out.value is None and out.error
    assert out.record.faults == [kind, kind] and out.record.attempts == 2
    assert not out.record.ok
    if injected == "hang":
        assert out.error == "timeout: no reply within 0.05 s"


async def test_structured_only_faults_pass_through_on_text_stages():
    config = config_with_faults({"gen": {"invalid_json": 0.5, "out_of_range": 0.5}})
    out = await ask_text(
        _ctx(config),
        "gen",
        Stage.WRITE_RESPONSE,
        {"domain": "qa", "instruction": "i"},
        (0, 0),
    )
    assert out.value and out.record.ok and out.record.faults == []


async def test_retry_recovers_and_keeps_the_failed_attempt():
    # the first attempt's draw fails, the second reaches the real (scripted) model
    config = config_with_faults({"r1": {"raise": 0.5}})
    ctx = _ctx(config)
    values = {"domain": "qa", "instruction": "i", "response": "r"}
    outs = [
        await ask_structured(
            ctx, "r1", Stage.SCORE_RESPONSE, values, schemas.ScoreOutput, (i, 0, "r1", 0)
        )
        for i in range(40)
    ]
    recovered = [o for o in outs if o.record.faults == ["exception"] and o.record.ok]
    assert recovered, "some call failed once and then succeeded"
    assert all(o.value is not None and o.record.attempts == 2 for o in recovered)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("", "empty"),
        ("{'single': 'quotes'}", "invalid_json"),
        (json.dumps({"keywords": ["only one"]}), "schema"),
    ],
)
async def test_natural_bad_replies_are_classified(reply: str, kind: str):
    config = committee_config()
    members = fake_members(config, {"gen": {"KeywordTriple": reply}})
    out = await ask_structured(
        _ctx(config, members),
        "gen",
        Stage.COMPOSE_KEYWORDS,
        {"domain": "qa", "examples": "-"},
        schemas.KeywordTriple,
        (0, 0),
    )
    assert out.record.faults == [kind, kind]


@pytest.mark.parametrize(
    ("raised", "kind"),
    [(RuntimeError("model crashed"), "exception"), (ConnectionError("went away"), "connection")],
)
async def test_a_member_that_raises_is_a_classified_fault(raised: Exception, kind: str):
    def boom(title: str, prompt: str) -> str:
        raise raised

    config = committee_config()
    members = fake_members(config, {"gen": {"text": boom}})
    values = {"domain": "qa", "instruction": "i"}
    out = await ask_text(_ctx(config, members), "gen", Stage.WRITE_RESPONSE, values, (0, 0))
    assert out.record.faults == [kind, kind]
    assert out.error == f"{type(raised).__name__}: {raised}"


class OneWorkerModel(ScriptedChatModel):
    """A model that, like a loaded llama.cpp file, runs one call at a time on its own thread and
    cannot be interrupted: the first call blocks until released."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    release: Any = None
    worker: Any = None
    busy: Any = None

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.worker, lambda: self._blocking(messages, stop, kwargs)
        )

    def _blocking(self, messages, stop, kwargs):
        assert self.busy.acquire(blocking=False), "two calls ran at once on one model"
        try:
            if "block me" in messages[-1].text:
                self.release.wait(5)
            return self._generate(messages, stop, **kwargs)
        finally:
            self.busy.release()


async def test_a_timed_out_call_on_a_worker_thread_does_not_disturb_later_calls():
    from concurrent.futures import ThreadPoolExecutor

    worker = ThreadPoolExecutor(max_workers=1)
    model = OneWorkerModel(
        replies={"text": lambda title, prompt: f"echo {prompt}"},
        release=threading.Event(),
        worker=worker,
        busy=threading.Lock(),
    )
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await model.ainvoke([HumanMessage("block me")])
        # the abandoned call still holds the worker; the next call waits for it, then gets its
        # own answer, not the abandoned one's
        later = asyncio.create_task(model.ainvoke([HumanMessage("second")]))
        await asyncio.sleep(0.05)
        assert not later.done()
        model.release.set()
        assert (await later).text == "echo second"
    finally:
        model.release.set()
        worker.shutdown(wait=True)


# ---- whole runs: nothing lost, everything counted


@pytest.mark.parametrize("injected", list(CLASSIFIED))
async def test_a_faulty_reviewer_abstains_and_every_sample_gets_a_record(
    tmp_path: Path, injected: str
):
    # a hang lasts until the call timeout: 2 s, far above a scripted call's milliseconds, and
    # one attempt per call keeps the test short
    generation = {"call_timeout_s": 2.0, "structured_retries": 0} if injected == "hang" else {}
    config = config_with_faults({"r1": {injected: 1.0}}, generation=generation)
    runner, records = await run_all(config, tmp_path / "run", concurrency=4)
    assert len(records) == runner.summary.seed_samples == 4
    assert len({r.key for r in records}) == 4
    kind = CLASSIFIED[injected]
    for record in records:
        r1 = next(c for c in record.checks if c.reviewer == "r1")
        assert r1.abstained and r1.error
        # two reviewers still decide (min_valid_reviews 2); the faulty one is never a score
        assert all(not r.abstained for r in record.reviews if r.reviewer != "r1")
        assert all(r.abstained for r in record.reviews if r.reviewer == "r1")
    attempts = 1 if injected == "hang" else 2
    expected = {"r1": {kind: 2 * attempts * 4}}  # check + score for each of 4 samples
    assert runner.summary.faults == expected == recount(records)
    assert runner.summary.abstentions == 2 * 4 and runner.summary.complete
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["faults"] == expected


async def test_a_faulty_generator_rejects_with_the_reason(tmp_path: Path):
    config = config_with_faults({"gen": {"raise": 1.0}})
    runner, records = await run_all(config, tmp_path / "run")
    assert len(records) == 4
    for record in records:
        assert record.status == "rejected"
        assert record.reason.startswith("generator gen failed to compose keywords: InjectedFault")
        assert record.calls[-1].faults == ["exception", "exception"]
    assert runner.summary.rejection_reasons == {"generator gen failed to compose keywords": 4}


async def test_mixed_faults_on_every_member_lose_nothing(tmp_path: Path):
    rates = {"raise": 0.1, "hang": 0.05, "empty": 0.1, "invalid_json": 0.1, "out_of_range": 0.1}
    # a short timeout ends the hangs quickly; if it also cuts off a slow scripted call on a busy
    # machine, that is one more counted timeout, which the assertions below allow
    config = config_with_faults(
        dict.fromkeys(["gen", "r1", "r2", "r3", "adj"], rates),
        generation={"call_timeout_s": 0.2, "structured_retries": 2},
    )
    out = tmp_path / "run"
    runner, records = await run_all(config, out, samples_per_seed=2, concurrency=8)
    assert sorted(r.key for r in records) == [(i, j) for i in range(4) for j in range(2)]
    assert runner.summary.complete and runner.summary.errors == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 8
    for record in records:
        for call in record.calls:
            assert len(call.faults) == call.attempts - call.ok  # every failed attempt named
            assert set(call.faults) <= set(FAULT_KINDS)
            assert (call.error is None) == call.ok
        for review in [*record.checks, *record.reviews]:
            assert review.abstained == (review.error is not None)
    counted = runner.summary.faults
    assert counted == recount(records)
    assert set().union(*counted.values()) == set(MODEL_FAULT_KINDS), "all kinds were exercised"

    # a second run over the same directory recounts the same faults from the records
    again, _ = await run_all(config, out, samples_per_seed=2, concurrency=8)
    assert again.summary.resumed_records == 8 and again.summary.faults == counted


async def test_same_seed_same_faults(tmp_path: Path):
    rates = {"raise": 0.2, "empty": 0.2, "invalid_json": 0.2}
    config = config_with_faults(dict.fromkeys(["r1", "r2", "r3"], rates))
    a, ra = await run_all(config, tmp_path / "a", seed=5)
    b, rb = await run_all(config, tmp_path / "b", seed=5)
    c, _ = await run_all(config, tmp_path / "c", seed=6)
    assert a.summary.faults == b.summary.faults
    assert [r.reason for r in sorted(ra, key=lambda r: r.key)] == [
        r.reason for r in sorted(rb, key=lambda r: r.key)
    ]
    assert a.summary.faults != c.summary.faults


async def test_annotation_faults_are_counted_and_the_seed_still_gets_a_record(tmp_path: Path):
    config = config_with_faults({"gen": {"empty": 1.0}})
    seeds = [*SEEDS, Seed(instruction="What is 2+2?", response="4")]
    runner = Runner(config, seeds, tmp_path / "run", members=fake_members(config))
    async with runner:
        records = [r async for r in runner.records()]
    assert len(records) == 5
    failed = next(r for r in records if r.seed_index == 4)
    assert failed.reason.startswith("seed annotation failed")
    # gen is the only enricher, so it annotates (2 empty attempts) and fails every sample
    assert runner.summary.faults["gen"]["empty"] == 2 + 4 * 2


def test_summary_table_lists_faults_per_member():
    from rich.console import Console

    from gra_graph.progress import summary_table
    from gra_graph.runner import RunSummary

    console = Console(width=120, record=True)
    console.print(summary_table(RunSummary(faults={"r1": {"empty": 2, "timeout": 1}})))
    text = console.export_text()
    assert "failed call attempts" in text and "3" in text
    assert "r1" in text and "empty 2, timeout 1" in text


def test_report_prints_faults_per_member(tmp_path: Path):
    import subprocess
    import sys

    from tests.support.helpers import ROOT

    config = config_with_faults({"r2": {"invalid_json": 1.0}})
    asyncio.run(run_all(config, tmp_path / "run"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "evals" / "report.py"), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("failed call attempts by kind:")[1]
    row = next(line for line in table.splitlines() if line.startswith("r2 "))
    assert row.split()[1:] == ["8", "0", "0", "0", "16", "0"]  # 8 calls, 16 bad attempts
