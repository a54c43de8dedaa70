"""Members that run outside this process: an OpenAI-compatible server, or any LangChain chat model.

A graph file's member with ``provider: openai-compatible`` becomes ``langchain_openai.ChatOpenAI``
on its ``base_url``; one with ``provider: langchain`` becomes an instance of the class it names
(``"package.module:ClassName"`` or ``"package.module.ClassName"``) built with its ``kwargs``.
Both are wrapped in :class:`ServedChatModel`, so nodes call them the way they call an in-process
member: the persona is the system message, and for an OpenAI-compatible server the stage's token
budget, the call's seed and the output schema are sent with the request (``max_tokens``,
``seed`` and ``response_format``; ``top_k`` and ``repeat_penalty`` only when the member's
``sampling`` sets them to other than the defaults, as extra body fields that llama.cpp's
servers and vLLM read). A
``langchain`` member's own keyword arguments decide its length and sampling, and its reply is
parsed the same way (bare JSON or JSON in a code fence).

What only llama.cpp in-process can do is refused when the graph file is read, naming the member
and the setting: reading probabilities (``judging.scoring: expected``, ``check_rule:
mean_probability``) for a member that may review or adjudicate, and the load-time settings
``chat_format``, ``n_ctx``, ``n_threads`` and ``n_gpu_layers``. The ``engine`` section (batching,
prefix cache) applies to GGUF members only; a server batches and caches as it is configured to.

Everything that can be checked without calling the model is checked by :func:`check_served`
before any work: the API key's environment variable is set, the class imports and is a
LangChain ``BaseChatModel``, and its keyword arguments construct it.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from gra_graph.config import GraphConfigError, Member, Sampling
from gra_graph.llm.chat_model import SchemaChatModel

NO_KEY = "not-needed"
"""The API key sent when a member names no ``api_key_env`` (local servers ignore it)."""


class ServedMemberError(GraphConfigError):
    """A served or LangChain member that cannot be built; the message names the member."""


def served_model_ref(member: Member) -> str:
    """How records name a served member's model: ``openai-compatible:MODEL@URL`` or
    ``langchain:CLASS`` (with ``model`` as a label when the graph file gives one)."""
    if member.provider == "openai-compatible":
        return f"openai-compatible:{member.model}@{member.base_url}"
    label = f"/{member.model}" if member.model else ""
    return f"langchain:{member.class_}{label}"


def import_chat_model_class(spec: str, member: str) -> type[BaseChatModel]:
    """The class ``spec`` names, checked to be a LangChain chat model.

    Raises:
        ServedMemberError: the module does not import, has no such name, or the name is not a
            ``BaseChatModel`` subclass.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ServedMemberError(
            f'member {member!r}: class {spec!r} must read "package.module:ClassName"'
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises while importing
        raise ServedMemberError(
            f"member {member!r}: class {spec!r}: cannot import {module_name!r} "
            f"({type(exc).__name__}: {exc}); is its package installed?"
        ) from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ServedMemberError(f"member {member!r}: class {spec!r}: {module_name} has no {attr}")
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        raise ServedMemberError(
            f"member {member!r}: class {spec!r} is not a LangChain chat model (BaseChatModel)"
        )
    return cls


def api_key(member: Member) -> str:
    """The member's API key, read from the environment variable it names.

    Raises:
        ServedMemberError: ``api_key_env`` names a variable that is unset or empty.
    """
    if member.api_key_env is None:
        return NO_KEY
    key = os.environ.get(member.api_key_env, "")
    if not key:
        raise ServedMemberError(
            f"member {member.name!r}: api_key_env names {member.api_key_env}, which is not set "
            "in the environment; export it, or leave api_key_env out for a server without keys"
        )
    return key


def build_inner_model(member: Member) -> BaseChatModel:
    """The LangChain chat model a served member talks to (no request is made).

    Raises:
        ServedMemberError: a missing key variable, a class that does not import or is not a
            chat model, or keyword arguments the class refuses.
    """
    if member.provider == "openai-compatible":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise ServedMemberError(
                f"member {member.name!r}: provider openai-compatible needs the package "
                'langchain-openai (pip install "gra-graph[served]")'
            ) from None
        sampling = member.sampling
        return ChatOpenAI(
            model=member.model,
            base_url=member.base_url,
            api_key=api_key(member),  # type: ignore[arg-type]
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            timeout=member.timeout,
            max_retries=member.max_retries,
        )
    cls = import_chat_model_class(member.class_ or "", member.name)
    try:
        return cls(**member.kwargs)
    except Exception as exc:  # pydantic's ValidationError, or the class's own checks
        raise ServedMemberError(
            f"member {member.name!r}: {member.class_}(**kwargs) failed: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None


def check_served(member: Member) -> None:
    """Everything about a served member that can fail before a call (see the module docstring).

    Raises:
        ServedMemberError: as :func:`build_inner_model`.
    """
    build_inner_model(member)


def served_chat_model(member: Member) -> ServedChatModel:
    """A served member as the chat model nodes call."""
    extra: dict[str, Any] = {}
    if member.provider == "openai-compatible":
        # not OpenAI parameters: sent only when they differ from the defaults (llama.cpp's
        # too), as extra body fields
        default = Sampling()
        extra = {
            k: getattr(member.sampling, k)
            for k in ("top_k", "repeat_penalty")
            if getattr(member.sampling, k) != getattr(default, k)
        }
    return ServedChatModel(
        inner=build_inner_model(member),
        member=member.name,
        persona=member.persona,
        sends_call_options=member.provider == "openai-compatible",
        response_format=member.response_format,
        extra_body=extra,
    )


def response_format(kind: str, json_schema: str) -> dict[str, Any] | None:
    """The ``response_format`` request field that asks a server for JSON of ``json_schema``."""
    schema = json.loads(json_schema)
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    if kind == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


class MalformedReplyError(RuntimeError):
    """A server answered with a body that is not a chat completion (classified
    ``malformed_body``)."""


# What langchain-openai raises while reading a body of the wrong shape (a missing or null
# ``choices``, say); a well-formed reply never raises these once the model was built.
_SHAPE_ERRORS = (TypeError, KeyError, IndexError, AttributeError)


class ServedChatModel(SchemaChatModel):
    """A served member: its persona as the system message, and, for an OpenAI-compatible server,
    the call's token budget, seed and output schema sent with the request.

    Call arguments (from :mod:`gra_graph.nodes.calls`): ``max_tokens``, ``seed``,
    ``json_schema``, and for judge calls ``repeat_penalty`` (sent as a body field; a server
    that rejects unknown fields needs ``judging.repeat_penalty: null``); ``value_probes`` is
    never sent (:attr:`reads_values` is false). The reply's token usage comes from the
    server's ``usage`` (``usage_metadata``), zero when it has none.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel = Field(exclude=True)
    member: str
    persona: str = ""
    sends_call_options: bool = True
    response_format: str = "json_schema"
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "gra-served"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"member": self.member, "inner": self.inner._llm_type}

    def _messages(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        if self.persona and not any(m.type == "system" for m in messages):
            return [SystemMessage(self.persona), *messages]
        return messages

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not self.sends_call_options:
            return {}
        body = dict(self.extra_body)
        if "repeat_penalty" in kwargs:  # a judge call's (judging.repeat_penalty): llama.cpp's
            body["repeat_penalty"] = float(kwargs["repeat_penalty"])  # servers default to 1.1
        if "max_tokens" in kwargs:
            # langchain-openai renames max_tokens to max_completion_tokens, which llama.cpp's
            # servers ignore; the older field in the body is read by every OpenAI-style server
            body["max_tokens"] = int(kwargs["max_tokens"])
        options: dict[str, Any] = {"extra_body": body} if body else {}
        if "seed" in kwargs:
            options["seed"] = int(kwargs["seed"]) & 0x7FFFFFFF
        if kwargs.get("json_schema"):
            fmt = response_format(self.response_format, kwargs["json_schema"])
            if fmt is not None:
                options["response_format"] = fmt
        return options

    @staticmethod
    def _result(message: BaseMessage) -> ChatResult:
        assert isinstance(message, AIMessage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            reply = self.inner.invoke(self._messages(messages), stop=stop, **self._options(kwargs))
        except _SHAPE_ERRORS as exc:
            if not self.sends_call_options:
                raise
            raise MalformedReplyError(f"not a chat completion: {exc}") from exc
        return self._result(reply)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            reply = await self.inner.ainvoke(
                self._messages(messages), stop=stop, **self._options(kwargs)
            )
        except _SHAPE_ERRORS as exc:
            if not self.sends_call_options:  # another class's own errors are its own
                raise
            raise MalformedReplyError(f"not a chat completion: {exc}") from exc
        return self._result(reply)
