"""Calling a member from a node: render the stage's prompt, call, retry within a bound, account.

This is where every model failure ends up. Each attempt runs under ``generation.call_timeout_s``
and a failed attempt is classified (:data:`~gra_graph.state.FAULT_KINDS`): the member raised
(``exception``), gave no reply in time (``timeout``), replied with empty text (``empty``), with
text that is not JSON (``invalid_json``) or with JSON outside the schema (``schema``). It is
retried (``generation.structured_retries`` extra attempts, each with its own seed) and then
returned as an error for the node to turn into an abstention or a rejection. A served member's
transport faults get their own kinds (:mod:`gra_graph.llm.fault_kinds`: ``connection``,
``rate_limit``, ``server_error``, ``client_error``, ``malformed_body``), and after a transient
one (rate limit, server error, unreachable server) the next attempt waits, exponentially or as
long as the server's ``Retry-After`` asks (bounded). The kind of every
failed attempt is kept in the call's :class:`~gra_graph.state.CallRecord`, with its duration
and the wall-clock time it finished. Nothing here raises
for a model's misbehaviour, and nothing invents a default value.

What a timeout means depends on what runs the member. On the batched llama.cpp engine (the
default) the timed-out request is cancelled: a request still waiting is withdrawn, and one
already decoding leaves the batch at the engine's next pass, freeing its sequence slot. On the
simple engine the attempt is abandoned, not stopped: a call still queued for the model's worker
thread is dropped, and one already generating runs to its token budget on the worker and its
result is discarded (the worker runs one call at a time, so later calls simply wait for it). A
member that hangs in Python (an injected ``hang``, a remote model) is cancelled outright.

Any LangChain chat model can fill a role. Our own models (:class:`SchemaChatModel`) get the
stage's token budget, a per-call seed and the output schema as a grammar; any other chat model
is called with the messages alone (its own settings decide length and sampling) and its reply
is parsed the same way, so a stock model's JSON, bare or in a code fence, is validated into the
same pydantic object or recorded as the same kind of fault.

A scored stage may be asked its dimensions in another order than the graph's (``order``, see
:mod:`gra_graph.score_order`): the prompt's rubric and key list are rewritten and the output
schema, hence the grammar's key order, follows. ``probes`` ask a model that can read its logits
for value distributions (:mod:`gra_graph.llm.value_probe`); they come back in
:attr:`CallOutcome.distributions`, ``None`` when the model cannot report them.

Stages that write verdicts (``StageSpec.judges``) are called with ``judging.repeat_penalty``
in place of the member's: a repeat penalty, meant to keep free text from looping, otherwise
counts the verdicts already written (and the prompt's own "pass"/"fail") against the next one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel

from gra_graph import schemas
from gra_graph.context import GraContext
from gra_graph.llm.chat_model import SchemaChatModel, StructuredOutputError, parse_structured
from gra_graph.llm.fault_kinds import backoff_seconds, classify_exception
from gra_graph.llm.value_probe import ValueProbe, probes_to_json
from gra_graph.prompts import PromptTemplate
from gra_graph.roles import derive_seed
from gra_graph.schemas import grammar_schema, text_first
from gra_graph.score_order import reorder_prompt, text_keys_first
from gra_graph.stages import STAGES, Stage
from gra_graph.state import CallRecord
from gra_graph.vocabulary import CHECK_CRITERIA

T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class CallOutcome(Generic[T]):
    """The value a call produced (``None`` after exhausting its attempts) and its accounting."""

    value: T | None
    error: str | None
    record: CallRecord
    distributions: dict[str, dict[str, float]] | None = None


def _usage(message: AIMessage) -> tuple[int, int]:
    usage = message.usage_metadata or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


async def _invoke(
    model: BaseChatModel,
    messages: list[BaseMessage],
    schema: type[BaseModel] | None,
    max_tokens: int,
    seed: int,
    probes: Sequence[ValueProbe] = (),
    repeat_penalty: float | None = None,
) -> AIMessage:
    """One call; call arguments only for the models that take them (see the module docstring)."""
    if isinstance(model, SchemaChatModel):
        options: dict[str, object] = {"max_tokens": max_tokens, "seed": seed}
        if repeat_penalty is not None:
            options["repeat_penalty"] = repeat_penalty
        if schema is not None:
            options["json_schema"] = json.dumps(grammar_schema(schema))
        if probes and model.reads_values:
            options["value_probes"] = probes_to_json(probes)
        return await model.ainvoke(messages, **options)
    return await model.ainvoke(messages)


@lru_cache(maxsize=4096)
def _reordered(
    template: PromptTemplate, dimensions: tuple[str, ...], order: tuple[str, ...]
) -> PromptTemplate:
    """``template`` asking for ``order`` instead of the graph's ``dimensions`` (rewritten from
    the template, before any value is put in, so a seed's text is never rewritten)."""
    return PromptTemplate(
        template.stage, reorder_prompt(template.text, dimensions, order), template.source
    )


async def _attempts(
    ctx: GraContext,
    member: str,
    stage: Stage,
    values: Mapping[str, object],
    call_key: tuple[object, ...],
    schema: type[BaseModel] | None,
    order: tuple[str, ...] | None = None,
    probes: Sequence[ValueProbe] = (),
) -> CallOutcome[object]:
    handle = await ctx.member(member)
    template = ctx.prompts[stage]
    if order is not None:
        template = _reordered(template, tuple(ctx.config.score_dimensions), order)
    prompt = template.render(values)
    max_tokens = ctx.config.budgets.for_stage(stage)
    attempts = 1 + ctx.config.generation.structured_retries
    prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    error = "no attempt"
    value: object | None = None
    attempt = 0
    faults: list[str] = []
    failure: BaseException | None = None  # the last attempt's exception, for its Retry-After
    distributions: dict[str, dict[str, float]] | None = None
    finish_reason: str | None = None
    timeout = ctx.config.generation.call_timeout_s
    penalty = ctx.config.judging.repeat_penalty if STAGES[stage].judges else None
    for attempt in range(1, attempts + 1):
        if faults and (wait := backoff_seconds(faults[-1], attempt - 1, failure)):
            await asyncio.sleep(wait)  # a transient fault: give the server time to recover
        failure = None
        seed = derive_seed(ctx.run_seed, member, *call_key, stage.value, attempt)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                message = await _invoke(
                    handle.chat_model,
                    [HumanMessage(prompt)],
                    schema,
                    max_tokens,
                    seed,
                    probes,
                    penalty,
                )
        except Exception as exc:  # a member that raises is a fault to record, not a crash
            if deadline.expired():
                faults.append("timeout")
                error = f"timeout: no reply within {timeout:g} s"
            else:
                faults.append(classify_exception(exc))
                failure = exc
                error = f"{type(exc).__name__}: {exc}"
            continue
        pt, ct = _usage(message)
        finish_reason = message.response_metadata.get("finish_reason")  # of the last reply
        prompt_tokens += pt
        completion_tokens += ct
        try:
            if schema is None:
                text = message.text.strip()
                if not text:
                    raise StructuredOutputError("empty reply", "empty")
                value = text
            else:
                value = parse_structured(message, schema)
        except StructuredOutputError as exc:
            faults.append(exc.kind)
            error = str(exc)
            continue
        error = None
        distributions = message.response_metadata.get("value_distributions")
        break
    record = CallRecord(
        stage=stage.value,
        member=member,
        model_file=handle.model_ref,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        seconds=round(time.perf_counter() - started, 4),
        finished_at=time.time(),  # wall clock, for plots over the run; seconds is the duration
        attempts=attempt,
        ok=error is None,
        error=error,
        faults=faults,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )
    if error is not None:
        return CallOutcome(None, error, record)
    return CallOutcome(value, None, record, distributions)


async def ask_text(
    ctx: GraContext,
    member: str,
    stage: Stage,
    values: Mapping[str, object],
    call_key: tuple[object, ...],
) -> CallOutcome[str]:
    """Free-text call; an empty reply counts as a failed attempt."""
    return await _attempts(ctx, member, stage, values, call_key, None)  # type: ignore[return-value]


async def ask_structured(
    ctx: GraContext,
    member: str,
    stage: Stage,
    values: Mapping[str, object],
    schema: type[S],
    call_key: tuple[object, ...],
) -> CallOutcome[S]:
    """Structured call validated into ``schema``; see the module docstring for failures."""
    return await _attempts(ctx, member, stage, values, call_key, schema)  # type: ignore[return-value]


def asks_verdicts(ctx: GraContext, stage: Stage) -> bool:
    """Whether ``stage`` is asked for a pass/fail verdict per dimension instead of a 0-10 score:
    the reviewers' scores on the pass/fail scale (``judging.score_scale``; the adjudicator keeps
    0-10)."""
    return stage == Stage.SCORE_RESPONSE and ctx.config.judging.score_scale == "pass_fail"


def _stage_schema(
    ctx: GraContext, stage: Stage, dimensions: tuple[str, ...]
) -> type[BaseModel] | None:
    """The output model ``stage`` declares, or a verdict per dimension (:func:`asks_verdicts`)."""
    if asks_verdicts(ctx, stage):
        return schemas.verdict_output(dimensions)
    return STAGES[stage].schema(dimensions)


def _critique_first(ctx: GraContext, stage: Stage) -> tuple[str, ...] | None:
    """The free-text keys ``stage``'s prompt asks for before the scores, in its order, if any."""
    dims = tuple(ctx.config.score_dimensions)
    schema = _stage_schema(ctx, stage, dims)
    text_keys = tuple(f for f in schema.model_fields if f not in dims) if schema else ()
    return text_keys_first(ctx.prompts[stage].text, dims, text_keys)


def _reason_first(ctx: GraContext) -> bool:
    """Whether the check prompt asks for its "reason" before the criteria."""
    text = ctx.prompts[Stage.CHECK_INSTRUCTION].text
    return text_keys_first(text, CHECK_CRITERIA, ("reason",)) is not None


async def ask_stage(
    ctx: GraContext,
    member: str,
    stage: Stage,
    values: Mapping[str, object],
    call_key: tuple[object, ...],
    *,
    order: tuple[str, ...] | None = None,
    probes: Sequence[ValueProbe] = (),
) -> CallOutcome[BaseModel]:
    """Call ``member`` for ``stage`` with the output shape the stage declares
    (:mod:`gra_graph.stages`), built for the graph's score dimensions, or for ``order`` (some
    or all of them, in the order to ask; scored stages only), reading ``probes`` where the
    member can."""
    dimensions = order if order is not None else tuple(ctx.config.score_dimensions)
    schema = _stage_schema(ctx, stage, dimensions)
    if schema is not None and STAGES[stage].scored and (first := _critique_first(ctx, stage)):
        schema = text_first(schema, first)  # type: ignore[arg-type]
    elif stage == Stage.CHECK_INSTRUCTION and _reason_first(ctx):
        schema = schemas.InstructionCheckReasonFirst
    if schema is None:
        return await ask_text(ctx, member, stage, values, call_key)  # type: ignore[return-value]
    if order is not None and not STAGES[stage].scored:
        raise ValueError(f"stage {stage.value} has no score dimensions to order")
    return await _attempts(ctx, member, stage, values, call_key, schema, order, probes)  # type: ignore[return-value]
