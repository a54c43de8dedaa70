"""Judge calls: the graph's own review nodes on one labelled pair, each call cached.

The bench does not re-implement a reviewer. It hands the pair to the very node functions a run
uses (:func:`~gra_graph.nodes.review.check_instruction`,
:func:`~gra_graph.nodes.review.score_response`,
:func:`~gra_graph.nodes.adjudicate.adjudicate`), with the graph's prompts, schemas, budgets,
retries and timeouts, so what is measured is what a run would decide. The pair's stable
:attr:`~gra_graph.bench.pairs.BenchPair.index` stands in for a seed index (sample index 0,
round 0), which fixes each call's seed as a run fixes it.

Every call's result (the node's entry and its :class:`~gra_graph.state.CallRecord` s: a score
asked one dimension per call is several calls) is stored in the
:class:`~gra_graph.bench.cache.JudgeCache` as soon as it returns, except a call whose
attempts timed out: a timeout says more about the machine's load than about the member, so it
is tried again next time. Calls not in the cache run concurrently up to a bound, so the batched
engine decodes them together.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from langgraph.runtime import Runtime

from gra_graph.bench.cache import CallKey, JudgeCache
from gra_graph.bench.pairs import BenchPair
from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.llm.members import member_ref
from gra_graph.nodes.adjudicate import adjudicate
from gra_graph.nodes.common import current_reviews, feedback_lines
from gra_graph.nodes.review import check_instruction, score_response
from gra_graph.nodes.verify import run_verifier
from gra_graph.roles import derive_seed
from gra_graph.stages import STAGES, Stage
from gra_graph.state import (
    Adjudication,
    CallRecord,
    InstructionCheck,
    Review,
    ReviewerTask,
    Verification,
)

T = TypeVar("T", InstructionCheck, Review, Adjudication, Verification)

BENCH_RUN_ID = "bench-review"


@dataclass(frozen=True)
class Judged(Generic[T]):
    """One judge call's result: the check, review or adjudication, and the accounting of the
    model call(s) it took."""

    value: T
    calls: list[CallRecord]
    cached: bool


class Judge:
    """Makes (or finds in the cache) the review calls of one graph on labelled pairs.

    ``on_call(cached)`` is told of every call as it is answered, for a progress display.
    """

    def __init__(
        self,
        ctx: GraContext,
        cache: JudgeCache,
        *,
        concurrency: int = 8,
        on_call: Callable[[bool], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.ctx = ctx
        self.cache = cache
        self._slots = asyncio.Semaphore(concurrency)
        self._on_call = on_call or (lambda _cached: None)
        self._runtime: Runtime[GraContext] = Runtime(context=ctx)
        self.new_calls = 0
        self.cached_calls = 0

    async def check(self, member: str, pair: BenchPair) -> Judged[InstructionCheck]:
        """``member``'s instruction check of the pair (docs/method.md, section 4a)."""
        task = _task(pair, member)
        key = self._key(
            member, Stage.CHECK_INSTRUCTION, pair, _values(pair), (pair.index, 0, member)
        )

        async def call() -> dict[str, Any]:
            update = await check_instruction(task, self._runtime)
            return {"item": update["checks"][0], "calls": update["calls"]}

        return await self._cached(key, call, InstructionCheck)

    async def score(self, member: str, pair: BenchPair) -> Judged[Review]:
        """``member``'s scores of the response (docs/method.md, section 4b)."""
        task = _task(pair, member)
        key = self._key(
            member, Stage.SCORE_RESPONSE, pair, _values(pair), (pair.index, 0, member, 0)
        )

        async def call() -> dict[str, Any]:
            update = await score_response(task, self._runtime)
            return {"item": update["reviews"][0], "calls": update["calls"]}

        return await self._cached(key, call, Review)

    async def adjudicate(
        self, adjudicator: str, pair: BenchPair, reviewers: list[str], reviews: list[Review]
    ) -> Judged[Adjudication]:
        """``adjudicator``'s re-score after reading the committee's ``reviews``
        (docs/method.md, section 6)."""
        state: dict[str, Any] = {
            "run_id": BENCH_RUN_ID,
            "seed_index": pair.index,
            "sample_index": 0,
            "round": 0,
            "domain": pair.pair.domain,
            "instruction": pair.pair.instruction,
            "response": pair.pair.response,
            "roles": {"adjudicator": adjudicator, "reviewers": list(reviewers)},
            "reviews": [r.model_dump() for r in reviews],
        }
        values = {**_values(pair), "feedback": feedback_lines(current_reviews(state))}  # type: ignore[arg-type]
        key = self._key(adjudicator, Stage.ADJUDICATE, pair, values, (pair.index, 0, 0))

        async def call() -> dict[str, Any]:
            command = await adjudicate(state, self._runtime)  # type: ignore[arg-type]
            update = command.update
            return {"item": update["adjudication"], "calls": update["calls"]}

        return await self._cached(key, call, Adjudication)

    async def verify(self, members: list[str], pair: BenchPair) -> Judged[Verification]:
        """The executable verifier's check of the response (docs/verifiers.md), by
        ``members`` as the ``verify`` node would ask them (one test writer, or one member per
        independent solution). Cached as one call, whatever the number of model calls."""
        config = self.ctx.config
        call_key = (pair.index, 0, "verify", 0)
        templates = {  # the optional stages are the verifiers'
            stage.value: self.ctx.prompts[stage].text
            for stage, spec in STAGES.items()
            if spec.optional and stage in self.ctx.prompts
        }
        each = [_member_settings(config, m) for m in members]
        settings = {
            "members": [m["member"] for m in each],
            "model_files": [m["model_file"] for m in each],
            "budgets": {s: config.budgets.for_stage(Stage(s)) for s in sorted(templates)},
            "retries": config.generation.structured_retries,
            # veto or vote only decides what the verdict does: the same check serves both
            "verifiers": config.verifiers.model_dump(mode="json", exclude={"mode"}),
        }
        key = CallKey(
            member=",".join(members),
            stage="verify",
            pair_id=pair.id,
            prompt_hash=_digest(json.dumps([_values(pair), templates], sort_keys=True)),
            settings_hash=_digest(json.dumps(settings, sort_keys=True)),
            seed=derive_seed(self.ctx.run_seed, *call_key, 1),
        )
        p = pair.pair

        async def call() -> dict[str, Any]:
            verification, calls = await run_verifier(
                self.ctx, members, p.domain, p.instruction, p.response, call_key
            )
            return {"item": verification.model_dump(), "calls": [c.model_dump() for c in calls]}

        return await self._cached(key, call, Verification)

    def _key(
        self,
        member: str,
        stage: Stage,
        pair: BenchPair,
        values: Mapping[str, object],
        call_key: tuple[object, ...],
    ) -> CallKey:
        """The cache key of a call: what the node will render and with which settings.

        The prompt is hashed in the graph's dimension order; the order a call asks in follows
        from ``judging.score_order`` and the call's seed, both in the key, as is what the call
        reads (expected scores, P(pass)), and the repeat penalty verdicts are sampled with. A
        check rule only decides, so it is left out.
        """
        config = self.ctx.config
        prompt = self.ctx.prompts[stage].render(values)
        settings: dict[str, Any] = {
            **_member_settings(config, member),
            "budget": config.budgets.for_stage(stage),
            "retries": config.generation.structured_retries,
            "dimensions": list(config.score_dimensions),
        }
        judging = config.judging
        if stage == Stage.CHECK_INSTRUCTION and judging.reads_checks:
            settings["reads_checks"] = True
        if judging.repeat_penalty is not None:  # replaces the member's (null: cached as before)
            settings["verdict_repeat_penalty"] = judging.repeat_penalty
        if stage != Stage.CHECK_INSTRUCTION and judging.scoring != "sampled":
            settings["scoring"] = judging.scoring
        if stage != Stage.CHECK_INSTRUCTION and judging.score_order != "fixed":
            settings["score_order"] = judging.score_order
        return CallKey(
            member=member,
            stage=stage.value,
            pair_id=pair.id,
            prompt_hash=_digest(prompt),
            settings_hash=_digest(json.dumps(settings, sort_keys=True)),
            seed=derive_seed(self.ctx.run_seed, member, *call_key, stage.value, 1),
        )

    async def _cached(
        self, key: CallKey, call: Callable[[], Awaitable[dict[str, Any]]], kind: type[T]
    ) -> Judged[T]:
        found = self.cache.get(key)
        if found is None:
            async with self._slots:
                found = self.cache.get(key)  # a twin call may have answered while we waited
                if found is None:
                    found = await call()
                    records = [CallRecord.model_validate(c) for c in found["calls"]]
                    if not any("timeout" in r.faults for r in records):
                        self.cache.put(key, found)
                    self.new_calls += 1
                    self._on_call(False)
                    return _judged(found, kind, cached=False)
        self.cached_calls += 1
        self._on_call(True)
        return _judged(found, kind, cached=True)


def _judged(found: dict[str, Any], kind: type[T], *, cached: bool) -> Judged[T]:
    item = kind.model_validate(found["item"])
    calls = found["calls"] if "calls" in found else [found["call"]]  # rows of earlier benches
    return Judged(item, [CallRecord.model_validate(c) for c in calls], cached)


def _member_settings(config: GraphConfig, member: str) -> dict[str, Any]:
    """What a member's calls depend on: its settings but its roles, and its model file."""
    spec = config.member(member)
    return {
        "member": spec.model_dump(mode="json", exclude={"roles", *spec.unused_provider_fields()}),
        "model_file": member_ref(spec, config.base_dir),
    }


def _values(pair: BenchPair) -> dict[str, object]:
    """What the review nodes put in their prompts (``nodes/review.py``, ``_task_values``)."""
    return {
        "domain": pair.pair.domain,
        "instruction": pair.pair.instruction,
        "response": pair.pair.response,
    }


def _task(pair: BenchPair, reviewer: str) -> ReviewerTask:
    return ReviewerTask(
        run_id=BENCH_RUN_ID,
        seed_index=pair.index,
        sample_index=0,
        reviewer=reviewer,
        domain=pair.pair.domain,
        instruction=pair.pair.instruction,
        response=pair.pair.response,
        round=0,
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
