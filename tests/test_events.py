"""``Runner.events()``: typed events from LangGraph's stream modes, the same ones the observer
(the CLI's progress bar) gets; and the README's "Streaming events" example, run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gra_graph import events as ev
from gra_graph import runner as runner_module
from gra_graph.events import RunEvent, RunObserver
from gra_graph.runner import Runner
from tests.support.cli_fake import model_paths
from tests.support.fakes import adjudication, coding_seeds, committee_config, fake_members, scores
from tests.support.helpers import ROOT


class Recorder(RunObserver):
    """Keeps every event it is given, and what the progress hooks were called with."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.tokens = 0
        self.records = 0

    def on_event(self, event: RunEvent) -> None:
        self.events.append(event)
        super().on_event(event)

    def on_tokens(self, completion_tokens: int) -> None:
        self.tokens += completion_tokens

    def on_record(self, record: Any, resumed: bool) -> None:
        self.records += 1


async def stream(tmp_path: Path, replies: dict | None = None, seeds: int = 2, **config: Any):
    config = committee_config(dedup={"embedder": "ngram"}, **config)
    observer = Recorder()
    runner = Runner(
        config,
        coding_seeds(seeds),
        tmp_path / "run",
        members=fake_members(config, replies),
        observer=observer,
        concurrency=2,
    )
    async with runner:
        seen = [event async for event in runner.events()]
    return seen, observer, runner


def of(kind: type, seen: list[RunEvent], key: tuple[int, int] | None = None) -> list:
    return [e for e in seen if isinstance(e, kind) and (key is None or e.key == key)]


async def test_events_follow_each_sample_through_the_graph(tmp_path: Path):
    seen, _, runner = await stream(tmp_path)
    assert isinstance(seen[0], ev.IterationStarted) and isinstance(seen[1], ev.SamplesPlanned)
    assert isinstance(seen[-1], ev.RunFinished) and seen[-1].status == "complete"
    assert seen[-1].summary is runner.summary
    for key in [(0, 0), (1, 0)]:
        mine = [e for e in seen if getattr(e, "key", None) == key]
        assert isinstance(mine[0], ev.SampleStarted) and not mine[0].resumed
        entered = [e.node for e in of(ev.NodeEntered, seen, key)]
        first = ["draw_roles", "compose_keywords", "write_instruction", "write_response"]
        assert entered[:4] == first
        assert entered.count("check_instruction") == 3 and entered.count("score_response") == 3
        assert entered[-2:] == ["decide", "enrich"]
        left = of(ev.NodeLeft, seen, key)
        tasks = sorted(e.task_id for e in of(ev.NodeEntered, seen, key))
        assert sorted(e.task_id for e in left) == tasks
        assert all(e.error is None for e in left)
        checks = of(ev.CheckResult, seen, key)
        assert len(checks) == 3 and all(c.passed for c in checks)
        reviews = of(ev.ReviewScores, seen, key)
        assert {r.reviewer for r in reviews} == {"r1", "r2", "r3"}
        assert all(set(r.scores.values()) == {9} for r in reviews)
        (verdict,) = of(ev.Verdict, seen, key)
        assert (verdict.outcome, verdict.mu, verdict.sigma) == ("accept", 9.0, 0.0)
        (decided,) = of(ev.Decided, seen, key)
        assert decided.status == "accepted"
        (written,) = [e for e in seen if isinstance(e, ev.RecordWritten) and e.record.key == key]
        # the record is written after its thread's last event, and says the same
        assert seen.index(written) > max(seen.index(e) for e in mine)
        assert written.record.reason == decided.reason and not written.resumed
    tokens = sum(e.completion_tokens for e in of(ev.Tokens, seen))
    assert tokens == runner.summary.completion_tokens > 0


async def test_the_observer_gets_the_very_events_the_stream_yields(tmp_path: Path):
    seen, observer, _ = await stream(tmp_path)
    assert len(observer.events) == len(seen)
    assert all(a is b for a, b in zip(observer.events, seen, strict=True))
    # the progress hooks are fed from those events
    assert observer.records == 2
    assert observer.tokens == sum(e.completion_tokens for e in of(ev.Tokens, seen))


async def test_conflicts_and_revisions_have_their_events(tmp_path: Path):
    calls = {"n": 0}

    def improving(title: str, prompt: str) -> str:  # 6 in round 0, then 9
        calls["n"] += 1
        return scores(6 if calls["n"] <= 3 else 9)

    replies = {r: {"ScoreOutput": improving} for r in ("r1", "r2", "r3")}
    seen, _, _ = await stream(tmp_path, replies, seeds=1, revise={"max_rounds": 2})
    (revised,) = of(ev.Revised, seen)
    assert revised.round == 1 and revised.reviser == "gen" and "+++ round 1" in revised.diff
    assert [v.outcome for v in of(ev.Verdict, seen)] == ["reject", "accept"]
    assert [e.node for e in of(ev.NodeEntered, seen)].count("revise") == 1

    conflict = {
        "r1": {"ScoreOutput": scores(10)},
        "r2": {"ScoreOutput": scores(10)},
        "r3": {"ScoreOutput": scores(6)},
        "adj": {"AdjudicationOutput": adjudication(9)},
    }
    seen, _, _ = await stream(tmp_path / "conflict", conflict, seeds=1)
    (adjudicated,) = of(ev.Adjudicated, seen)
    assert adjudicated.adjudicator == "adj" and adjudicated.keep and adjudicated.composite == 9
    assert of(ev.Verdict, seen)[0].outcome == "conflict"
    assert of(ev.Decided, seen)[0].status == "accepted"


async def test_a_resumed_run_streams_the_records_written_before(tmp_path: Path):
    await stream(tmp_path)
    seen, _, _ = await stream(tmp_path)
    written = of(ev.RecordWritten, seen)
    assert len(written) == 2 and all(e.resumed for e in written)
    assert not of(ev.SampleStarted, seen)


async def test_stopping_the_stream_early_stops_the_run(tmp_path: Path):
    config = committee_config(dedup={"embedder": "ngram"})
    runner = Runner(config, coding_seeds(3), tmp_path / "run", members=fake_members(config))
    async with runner:
        async for event in runner.events():
            if isinstance(event, ev.NodeEntered):
                break
    assert runner.run_dir.status() == "interrupted"


# ---- the README example, extracted and run as written


def readme_example() -> str:
    """The Python block of the README section "Streaming events"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Streaming events", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Streaming events section has no python block"
    return match.group(1)


def run_readme_example(where: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    """Run the example in ``where`` (with the repository's graphs, prompts and examples)."""
    for name in ("graphs", "prompts", "examples"):
        (where / name).symlink_to(ROOT / name)
    monkeypatch.chdir(where)
    code = readme_example()
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})  # as `python example.py`
    return capsys.readouterr().out


def test_the_readme_streaming_example_on_scripted_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    assert "asyncio.run(main())" in readme_example()
    monkeypatch.setattr(runner_module, "load_members", fake_members)
    monkeypatch.setattr(runner_module, "check_member_models", model_paths)
    out = run_readme_example(tmp_path, monkeypatch, capsys)
    assert "(0, 0) enters draw_roles" in out and "(0, 0) enters decide" in out
    assert re.search(r"(accepted|rejected) - ", out), out
    assert out.rstrip().endswith("run complete"), out
    assert (tmp_path / "runs" / "events-demo" / "records.jsonl").read_text().count("\n") == 1
