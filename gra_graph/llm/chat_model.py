"""Members as LangChain chat models, so nodes never know what runs a model.

:class:`SchemaChatModel` gives any chat model that accepts a ``json_schema`` call argument a
``with_structured_output`` that returns validated pydantic objects (or, with ``include_raw``,
the parsing error instead of a silent default). :class:`LlamaCppChatModel` is that model on an
in-process llama.cpp :class:`~gra_graph.llm.engine.ModelEngine`.

Value distributions (``judging.scoring: expected``, checks read as P(pass)) need the logits, so
only a model whose :attr:`SchemaChatModel.reads_values` is true is asked for them, with the call
argument ``value_probes`` (see :mod:`gra_graph.llm.value_probe`); it answers in the reply's
``response_metadata["value_distributions"]``. Any other chat model is called as before, and the
node that wanted the distributions falls back to the sampled reply and records why.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gra_graph.llm.chat_format import Message
from gra_graph.llm.engine import Completion, CompletionRequest, ModelEngine
from gra_graph.llm.value_probe import probes_from_json
from gra_graph.schemas import grammar_schema

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def to_messages(messages: list[BaseMessage], persona: str) -> tuple[Message, ...]:
    """LangChain messages as (role, text) pairs, with the persona as the system message."""
    out: list[Message] = []
    if persona and not any(m.type == "system" for m in messages):
        out.append(("system", persona))
    for m in messages:
        role = _ROLES.get(m.type)
        if role is None:
            raise ValueError(f"unsupported message type {m.type!r}")
        out.append((role, m.text))  # type: ignore[arg-type]
    return tuple(out)


class StructuredOutputError(ValueError):
    """A model's reply did not parse or validate against the requested schema.

    ``kind`` says how: ``empty``, ``invalid_json`` or ``schema`` (valid JSON, invalid values).
    """

    def __init__(self, message: str, kind: str = "schema") -> None:
        super().__init__(message)
        self.kind = kind


def parse_structured(message: AIMessage, schema: type[BaseModel]) -> BaseModel:
    """Validate a reply's JSON against ``schema``.

    Raises:
        StructuredOutputError: empty text, invalid JSON, or a value outside the schema.
    """
    text = message.text.strip()
    if not text:
        raise StructuredOutputError("empty reply", "empty")
    try:
        data = json.loads(text, strict=False)  # control characters inside strings are harmless
    except json.JSONDecodeError as exc:
        data = _embedded_object(text)
        if data is None:
            raise StructuredOutputError(
                f"invalid JSON: {exc.msg} at {exc.pos}: {text[:80]!r}", "invalid_json"
            ) from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise StructuredOutputError(f"{where}: {first['msg']}") from None


def _embedded_object(text: str) -> Any:
    """The JSON object a chat model wrapped in prose or a code fence, if there is exactly one
    way to read it: from the first ``{`` to the last ``}`` (models without a grammar do this)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(text[start : end + 1], strict=False)
    except json.JSONDecodeError:
        return None


class SchemaChatModel(BaseChatModel):
    """A chat model that constrains its output with a JSON schema passed as ``json_schema``."""

    @property
    def reads_values(self) -> bool:
        """Whether the model takes ``value_probes`` and reports value distributions."""
        return False

    def with_structured_output(  # type: ignore[override]
        self,
        schema: type[BaseModel],
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Return a runnable whose output is an instance of ``schema``.

        With ``include_raw=True`` the output is ``{"raw", "parsed", "parsing_error"}`` and a reply
        that fails validation yields ``parsed=None`` with the error, never a default object.
        Extra keyword arguments (``max_tokens``, ``seed``) are bound to the call.
        """
        bound = self.bind(json_schema=json.dumps(grammar_schema(schema)), **kwargs)

        def parse(message: AIMessage) -> Any:
            if not include_raw:
                return parse_structured(message, schema)
            try:
                return {
                    "raw": message,
                    "parsed": parse_structured(message, schema),
                    "parsing_error": None,
                }
            except StructuredOutputError as exc:
                return {"raw": message, "parsed": None, "parsing_error": exc}

        return bound | RunnableLambda(parse)


class LlamaCppChatModel(SchemaChatModel):
    """One committee member on an in-process llama.cpp model.

    Call arguments: ``max_tokens``, ``seed``, ``json_schema`` (a JSON-schema string turned into a
    llama.cpp grammar) and ``stop``. Token usage and seconds come back on the message.

    Example:
        >>> model = LlamaCppChatModel(member="alice", engine=loaded, persona="Be brief.")
        ... # doctest: +SKIP
        >>> await model.ainvoke("Name a prime.", max_tokens=8)  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    member: str
    engine: ModelEngine = Field(exclude=True)
    persona: str = ""
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int = 0
    max_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return "gra-llama-cpp"

    @property
    def reads_values(self) -> bool:
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"member": self.member, "model_file": str(self.engine.path)}

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> CompletionRequest:
        return CompletionRequest(
            messages=to_messages(messages, self.persona),
            max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=self.top_p,
            top_k=self.top_k,
            repeat_penalty=float(kwargs.get("repeat_penalty", self.repeat_penalty)),
            seed=int(kwargs.get("seed", self.seed)) & 0x7FFFFFFF,
            json_schema=kwargs.get("json_schema"),
            stop=tuple(stop or ()),
            probes=probes_from_json(kwargs["value_probes"]) if kwargs.get("value_probes") else (),
        )

    @staticmethod
    def _result(completion: Completion, model_file: str) -> ChatResult:
        metadata: dict[str, Any] = {
            "model_file": model_file,
            "seconds": completion.seconds,
            "finish_reason": completion.finish_reason,
        }
        if completion.distributions is not None:
            metadata["value_distributions"] = completion.distributions
            metadata["lookahead_decodes"] = completion.lookahead_decodes
        message = AIMessage(
            content=completion.text,
            usage_metadata={
                "input_tokens": completion.prompt_tokens,
                "output_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
            response_metadata=metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = self.engine.complete_sync(self._request(messages, stop, kwargs))
        return self._result(completion, str(self.engine.path))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = await self.engine.complete(self._request(messages, stop, kwargs))
        return self._result(completion, str(self.engine.path))
