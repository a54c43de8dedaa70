"""Fault injection: a chat model that stands in front of a member's real model and sometimes fails.

A member's ``faults`` in the graph file gives, per kind, the probability that one call attempt
is replaced by that fault instead of reaching the real model:

=================  ======================================================  =====================
``faults`` key     what the attempt does                                   classified as
=================  ======================================================  =====================
``raise``          raises :class:`InjectedFault`                           ``exception``
``hang``           never answers; only the call timeout ends it            ``timeout``
``empty``          answers with empty text                                 ``empty``
``invalid_json``   answers with truncated JSON (structured stages only)    ``invalid_json``
``out_of_range``   answers with JSON whose values break the schema         ``schema``
=================  ======================================================  =====================

Every other attempt, and ``invalid_json``/``out_of_range`` draws on free-text stages (where any
non-empty text is a valid answer), is served by the real model unchanged. The draw is seeded by
the member and the attempt's sampling seed, which the caller derives from the run seed and the
call's identity (sample, stage, attempt), so a run with faults is as reproducible as one without.

Example:
    >>> from gra_graph.config import Faults
    >>> draw_fault(Faults(empty=1.0), "any-key")
    'empty'
    >>> draw_fault(Faults(), "any-key") is None
    True
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from gra_graph.config import Faults, GraphConfig
from gra_graph.llm.chat_model import SchemaChatModel
from gra_graph.llm.members import MemberHandle

INJECTED_KINDS: tuple[str, ...] = ("raise", "hang", "empty", "invalid_json", "out_of_range")
"""The ``faults`` keys, in the order their probability ranges are laid out on [0, 1)."""

_STRUCTURED_ONLY = frozenset({"invalid_json", "out_of_range"})


class InjectedFault(RuntimeError):
    """The exception a ``raise`` fault throws."""


def draw_fault(faults: Faults, key: str) -> str | None:
    """The injected fault kind for the attempt identified by ``key``, or ``None``.

    One uniform draw per attempt, seeded by ``key`` (stable across processes), falls into one
    kind's probability range or past all of them.
    """
    if faults.total <= 0.0:
        return None
    u = random.Random(f"gra-faults:{key}").random()
    edge = 0.0
    for kind, p in zip(INJECTED_KINDS, _rates(faults), strict=True):
        edge += p
        if u < edge:
            return kind
    return None


def _rates(faults: Faults) -> tuple[float, ...]:
    return (faults.raise_, faults.hang, faults.empty, faults.invalid_json, faults.out_of_range)


def break_schema(json_schema: str) -> str:
    """JSON shaped like ``json_schema`` in which every constrained value is out of bounds.

    Integer enums get one more than their largest value, string enums a word outside them,
    arrays are empty (below any ``minItems``) and strings exceed any ``maxLength``; the keys are
    all there, so the reply parses as JSON and fails only the schema.
    """
    schema = json.loads(json_schema)
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        enum = prop.get("enum")
        if enum and all(isinstance(v, int) for v in enum):
            out[name] = max(enum) + 1
        elif enum:
            out[name] = "out-of-range"
        elif prop.get("type") == "array":
            out[name] = []
        elif prop.get("type") == "integer" or prop.get("type") == "number":
            out[name] = prop.get("maximum", 10**9) + 1
        else:
            out[name] = "x" * (int(prop.get("maxLength", 0)) + 1)
    return json.dumps(out)


class FaultInjectingChatModel(SchemaChatModel):
    """A member's chat model behind a fault injector (see the module docstring).

    Call arguments are passed to the wrapped model unchanged; ``seed`` also keys the draw.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel = Field(exclude=True)
    member: str
    faults: Faults

    @property
    def _llm_type(self) -> str:
        return "gra-fault-injecting"

    @property
    def reads_values(self) -> bool:
        """As the wrapped model (an injected fault's reply has no distributions)."""
        return isinstance(self.inner, SchemaChatModel) and self.inner.reads_values

    def _draw(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str | None:
        if "seed" in kwargs:
            key = f"{self.member}:{kwargs['seed']}"
        else:  # no seed: key by the prompt, still deterministic
            text = "\n".join(m.text for m in messages)
            key = f"{self.member}:{hashlib.sha256(text.encode()).hexdigest()}"
        kind = draw_fault(self.faults, key)
        if kind in _STRUCTURED_ONLY and not kwargs.get("json_schema"):
            return None  # any non-empty text is valid on a free-text stage: not a fault there
        return kind

    def _fake_reply(self, kind: str, kwargs: dict[str, Any]) -> ChatResult:
        if kind == "raise":
            raise InjectedFault(f"injected fault: member {self.member} raised")
        text = {
            "empty": "",
            "invalid_json": '{"injected": "truncated',
            "out_of_range": break_schema(kwargs.get("json_schema") or "{}"),
        }[kind]
        message = AIMessage(
            content=text,
            usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
            response_metadata={"injected_fault": kind},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        kind = self._draw(messages, kwargs)
        if kind == "hang":
            await asyncio.Event().wait()  # cancellable: the caller's timeout ends it
        if kind is not None:
            return self._fake_reply(kind, kwargs)
        message = await self.inner.ainvoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        kind = self._draw(messages, kwargs)
        if kind == "hang":
            # A blocking call has no timeout to end a hang; fail at once rather than block.
            raise TimeoutError(f"injected hang: member {self.member} (synchronous call)")
        if kind is not None:
            return self._fake_reply(kind, kwargs)
        message = self.inner.invoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])


def with_faults(
    members: Mapping[str, MemberHandle], config: GraphConfig
) -> Mapping[str, MemberHandle]:
    """``members`` with every member whose graph-file entry sets ``faults`` wrapped.

    Members without faults are returned as they are, so a graph without ``faults`` runs exactly
    as before.
    """
    wrapped: dict[str, MemberHandle] = dict(members)
    for member in config.members:
        if member.faults.total > 0.0 and member.name in wrapped:
            handle = wrapped[member.name]
            model = FaultInjectingChatModel(
                inner=handle.chat_model, member=member.name, faults=member.faults
            )
            wrapped[member.name] = replace(handle, chat_model=model)
    return wrapped


__all__ = [
    "INJECTED_KINDS",
    "FaultInjectingChatModel",
    "InjectedFault",
    "break_schema",
    "draw_fault",
    "with_faults",
]
