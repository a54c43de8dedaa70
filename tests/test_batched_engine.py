"""The batched engine on the real bundled models: identity with solo decoding, isolation, limits.

Token budgets are small so the whole file stays around a minute on two cores.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from gra_graph.llm.batched import BatchedEngine
from gra_graph.llm.bundled import bundled_path
from gra_graph.llm.engine import (
    BatchSettings,
    CompletionRequest,
    ContextOverflowError,
    LoadSettings,
)
from gra_graph.llm.loader import load_engine

pytestmark = pytest.mark.e2e

TOPICS = [
    "volcanoes",
    "the French revolution",
    "prime numbers",
    "photosynthesis",
    "jazz",
    "sorting algorithms",
    "the moon",
    "coffee",
]
SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "maxLength": 40},
            "score": {"enum": [1, 2, 3, 4, 5]},
        },
        "required": ["topic", "score"],
    }
)
MODELS = {"smollm2-135m": "chatml", "gemma3-270m": "gemma"}


def _engine(model: str, **batch: int) -> BatchedEngine:
    settings = LoadSettings(
        bundled_path(model), MODELS[model], 512, None, 0, "batched", BatchSettings(**batch)
    )
    engine = load_engine(settings)
    assert isinstance(engine, BatchedEngine)
    return engine


def _request(topic: str, grammar: bool, max_tokens: int = 24, **kw: object) -> CompletionRequest:
    ask = f"Explain {topic} to a child." + (
        " Reply in JSON with a topic and a score." if grammar else ""
    )
    return CompletionRequest(
        messages=(("system", "You are a helpful teacher."), ("user", ask)),
        max_tokens=max_tokens,
        json_schema=SCHEMA if grammar else None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module", params=list(MODELS))
def engine(request: pytest.FixtureRequest) -> Iterator[BatchedEngine]:
    eng = _engine(request.param)
    yield eng
    eng.close()


@pytest.mark.parametrize("grammar", [False, True], ids=["free", "grammar"])
async def test_greedy_batches_are_token_identical_to_solo(
    engine: BatchedEngine, grammar: bool
) -> None:
    requests = [_request(t, grammar, temperature=0.0) for t in TOPICS]
    solo = [await engine.complete(r) for r in requests]  # batch of 1: each decoded alone
    for size in (4, 8):
        together = await asyncio.gather(*(engine.complete(r) for r in requests[:size]))
        assert [c.text for c in together] == [c.text for c in solo[:size]]
        assert [c.completion_tokens for c in together] == [c.completion_tokens for c in solo[:size]]
    assert all(c.completion_tokens > 0 for c in solo)
    if grammar:
        for completion in solo:
            if completion.finish_reason == "stop":
                assert json.loads(completion.text)["score"] in {1, 2, 3, 4, 5}


async def test_seeded_sampling_is_reproducible_in_company(engine: BatchedEngine) -> None:
    requests = [_request(t, False, temperature=0.8, seed=100 + i) for i, t in enumerate(TOPICS)]
    first = await asyncio.gather(*(engine.complete(r) for r in requests))
    alone = await engine.complete(requests[3])
    assert alone.text == first[3].text
    assert len({c.text for c in first}) > 1


async def test_thirty_two_requests_each_get_their_own_answer() -> None:
    engine = _engine("smollm2-135m", max_sequences=8, prefix_cache=4)
    try:
        requests = [
            _request(f"{TOPICS[i % 8]} (question {i})", False, max_tokens=8, temperature=0.0)
            for i in range(32)
        ]
        together = await asyncio.gather(*(engine.complete(r) for r in requests))
        assert engine.stats.peak_sequences == 8
        for i in (0, 9, 18, 31):  # spot-check against solo decoding: nothing crossed over
            assert (await engine.complete(requests[i])).text == together[i].text
        assert all(c.completion_tokens > 0 for c in together)
        assert engine.active_sequences == 0
    finally:
        engine.close()


async def test_a_cancelled_request_frees_its_slot() -> None:
    engine = _engine("smollm2-135m", max_sequences=1, prefix_cache=0)
    try:
        long = asyncio.create_task(engine.complete(_request("history", False, max_tokens=400)))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if engine.active_sequences:
                break
        assert engine.active_sequences == 1
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        short = await asyncio.wait_for(engine.complete(_request("jazz", False, 4)), 60)
        assert short.completion_tokens > 0
        assert engine.active_sequences == 0
    finally:
        engine.close()


async def test_an_over_long_request_fails_alone() -> None:
    engine = _engine("smollm2-135m")
    try:
        huge = _request("numbers " * 600, False)  # far beyond the 512-token context
        results = await asyncio.gather(
            *(
                engine.complete(r)
                for r in [_request("jazz", False, 6), huge, _request("moon", False, 6)]
            ),
            return_exceptions=True,
        )
        assert isinstance(results[1], ContextOverflowError)
        assert "512" in str(results[1])
        assert all(not isinstance(r, BaseException) for r in (results[0], results[2]))
    finally:
        engine.close()


RUBRIC = "Score the answer for accuracy, clarity and depth. " * 12


def _rubric_request(topic: str, max_tokens: int = 6) -> CompletionRequest:
    return CompletionRequest(
        messages=(("system", RUBRIC), ("user", f"Answer: {topic}.")),
        max_tokens=max_tokens,
        temperature=0.0,
    )


@pytest.fixture(scope="module")
def uncached() -> Iterator[BatchedEngine]:
    eng = _engine("smollm2-135m", prefix_cache=0, min_prefix=10_000)
    yield eng
    eng.close()


async def test_a_finished_prefix_is_borrowed_not_reread(uncached: BatchedEngine) -> None:
    requests = [_rubric_request(t) for t in TOPICS[:4]]
    cached = _engine("smollm2-135m", prefix_cache=4)
    try:
        with_reuse = [await cached.complete(r) for r in requests]
    finally:
        cached.close()
    without = [await uncached.complete(r) for r in requests]
    assert with_reuse[0].reused_prompt_tokens == 0
    assert all(c.reused_prompt_tokens >= 64 for c in with_reuse[1:])
    assert all(c.reused_prompt_tokens == 0 for c in without)
    assert [c.text for c in with_reuse] == [c.text for c in without]


async def test_a_live_prefix_is_copied_not_reread(uncached: BatchedEngine) -> None:
    engine = _engine("smollm2-135m", prefix_cache=0)
    try:
        leader = engine.submit(_rubric_request("jazz", max_tokens=64))
        for _ in range(500):
            if engine.stats.generated_tokens:
                break
            await asyncio.sleep(0.01)
        followers = await asyncio.gather(*(engine.complete(_rubric_request(t)) for t in TOPICS[:3]))
        leader.result(timeout=120)
    finally:
        engine.close()
    assert all(c.reused_prompt_tokens >= 64 for c in followers)
    alone = [await uncached.complete(_rubric_request(t)) for t in TOPICS[:3]]
    assert [c.text for c in followers] == [c.text for c in alone]


async def test_stop_strings_and_token_limits_apply_per_sequence(engine: BatchedEngine) -> None:
    stopped, limited = await asyncio.gather(
        engine.complete(_request("the moon", False, max_tokens=40, temperature=0.0, stop=(" ",))),
        engine.complete(_request("the moon", False, max_tokens=3, temperature=0.0)),
    )
    assert " " not in stopped.text and stopped.finish_reason == "stop"
    assert limited.completion_tokens == 3 and limited.finish_reason == "length"
