"""Scripted chat models for routing tests: no llama.cpp, answers chosen per member and stage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from gra_graph.config import GraphConfig
from gra_graph.llm.chat_model import SchemaChatModel
from gra_graph.llm.members import MemberHandle, Members
from gra_graph.state import SCORE_DIMENSIONS, Seed

# A reply: a fixed string, or a function of (schema title or "text", prompt) -> string.
Reply = str | Callable[[str, str], str]


def scores(value: int, weakness: str = "could be shorter") -> str:
    return json.dumps(
        {**dict.fromkeys(SCORE_DIMENSIONS, value), "strengths": "clear", "weaknesses": weakness}
    )


def adjudication(value: int) -> str:
    return json.dumps(
        {**dict.fromkeys(SCORE_DIMENSIONS, value), "rationale": "weighed the reviews"}
    )


def verdicts(value: str, reason: str = "the answer does what the task asks") -> str:
    """A review on the pass/fail scale (``judging.score_scale: pass_fail``)."""
    return json.dumps({"reason": reason, **dict.fromkeys(SCORE_DIMENSIONS, value)})


CHECK_PASS = json.dumps(
    {"rationality": "pass", "completeness": "pass", "clarity": "pass", "reason": "fine"}
)
CHECK_FAIL = json.dumps(
    {"rationality": "pass", "completeness": "fail", "clarity": "pass", "reason": "missing input"}
)

DEFAULTS: dict[str, Reply] = {
    "KeywordTriple": json.dumps({"keywords": ["recursion", "memoization", "fibonacci"]}),
    "InstructionCheckOutput": CHECK_PASS,
    "ScoreOutput": scores(9),
    "VerdictOutput": verdicts("pass"),
    "AdjudicationOutput": adjudication(9),
    "Metadata": json.dumps({"keywords": ["a", "b", "c"], "summary": "a relates to b and c"}),
    "Annotation": json.dumps({"domain": "qa", "keywords": ["x", "y", "z"], "summary": "x and y"}),
}


def is_instruction_prompt(prompt: str) -> bool:
    """Whether ``prompt`` asks the Generator for a new instruction (stage 2b)."""
    return "write ONE new task" in prompt


def default_text(prompt: str) -> str:
    if is_instruction_prompt(prompt):
        return "Write a memoized recursive Fibonacci function in Python."
    if prompt.startswith("Improve your answer"):
        return "def fib(n, memo={}):  # revised\n    ..."
    return "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"


def _words(prompt: str, n: int, salt: str = "") -> list[str]:
    digest = hashlib.sha256(f"{salt}{prompt}".encode()).hexdigest()
    return [digest[i : i + 5] for i in range(0, 5 * n, 5)]


def varied_text(title: str, prompt: str) -> str:
    """A reply of "words" taken from a digest of the prompt: the same prompt gives the same
    text in any process, different prompts give texts far apart for the near-duplicate filter."""
    return "Task " + " ".join(_words(prompt, 12)) + "."


def varied_metadata(title: str, prompt: str) -> str:
    """An enrichment reply (keywords and summary) that differs with the sample it describes."""
    keywords = _words(prompt, 3, "keywords")
    summary = f"How {keywords[0]} meets {keywords[1]} and {keywords[2]}"
    return json.dumps({"keywords": keywords, "summary": summary})


VARIED: dict[str, Reply] = {"text": varied_text, "Metadata": varied_metadata}
"""Replies for a member whose samples all differ (no near-duplicates), deterministically."""


class ScriptedChatModel(SchemaChatModel):
    """Answers from a per-stage script; records every prompt it was given.

    With ``probing=True`` it also answers ``value_probes`` as a llama.cpp member does:
    ``distributions[title]`` (a dict, or a function of (title, prompt)) gives key -> {value:
    probability}; without a script, all the mass is on the value the reply wrote.
    """

    replies: dict[str, Any] = Field(default_factory=dict)
    prompts: list[tuple[str, str]] = Field(default_factory=list)
    probing: bool = False
    distributions: dict[str, Any] = Field(default_factory=dict)
    schemas: list[dict[str, Any]] = Field(default_factory=list)
    penalties: list[tuple[str, float | None]] = Field(default_factory=list)
    """(schema title, the ``repeat_penalty`` call argument or None) of every call."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def reads_values(self) -> bool:
        return self.probing

    def _read_values(self, text: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        if not (self.probing and kwargs.get("value_probes")):
            return None
        title = json.loads(kwargs["json_schema"])["title"]
        scripted = self.distributions.get(title)
        if scripted is not None:
            return scripted(title, self.prompts[-1][1]) if callable(scripted) else scripted
        try:
            reply = json.loads(text)
        except ValueError:
            return {}
        out = {}
        for probe in json.loads(kwargs["value_probes"]):
            for key in probe["keys"]:
                if key in reply:
                    written = json.dumps(reply[key])
                    out[key] = {v: float(v == written) for v in probe["values"]}
        return out

    def _answer(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        prompt = messages[-1].text
        title = json.loads(kwargs["json_schema"])["title"] if kwargs.get("json_schema") else "text"
        self.prompts.append((title, prompt))
        if title == "InstructionDraft" and title not in self.replies:
            # scripts write instructions as text, like every other free-text draft; the
            # stage wants them wrapped in its JSON (an empty text stays an empty reply)
            text = self._reply("text", prompt)
            return json.dumps({"instruction": text}) if text else text
        return self._reply(title, prompt)

    def _reply(self, title: str, prompt: str) -> str:
        reply = self.replies.get(title, DEFAULTS.get(title))
        if reply is None:
            return default_text(prompt)
        return reply(title, prompt) if callable(reply) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._answer(messages, kwargs)
        self.penalties.append((self.prompts[-1][0], kwargs.get("repeat_penalty")))
        if kwargs.get("json_schema"):
            self.schemas.append(json.loads(kwargs["json_schema"]))
        # like the engines: a reply as long as the call's token budget stopped there, cut
        budget = kwargs.get("max_tokens")
        metadata: dict[str, Any] = {
            "finish_reason": "length" if budget and len(text) // 4 >= budget else "stop"
        }
        distributions = self._read_values(text, kwargs)
        if distributions is not None:
            metadata["value_distributions"] = distributions
        message = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": len(messages[-1].text) // 4,
                "output_tokens": len(text) // 4,
                "total_tokens": 0,
            },
            response_metadata=metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def coding_seeds(n: int) -> list[Seed]:
    """``n`` distinct, fully annotated coding seeds (no annotation call needed)."""
    return [
        Seed(
            instruction=f"Task {i}",
            response=f"Answer {i}",
            domain="coding",
            keywords=[f"k{i}", "b", "c"],
            summary=f"summary {i}",
        )
        for i in range(n)
    ]


def committee_config(**overrides: Any) -> GraphConfig:
    """Five members with fixed roles: gen generates and enriches, r1-r3 review, adj adjudicates."""
    members = [
        {"name": "gen", "model": "fake", "roles": ["generator", "enricher"]},
        {"name": "r1", "model": "fake", "roles": ["reviewer"]},
        {"name": "r2", "model": "fake", "roles": ["reviewer"]},
        {"name": "r3", "model": "fake", "roles": ["reviewer"]},
        {"name": "adj", "model": "fake", "roles": ["adjudicator"]},
    ]
    from pathlib import Path

    base = Path(__file__).resolve().parents[2] / "graphs"
    return GraphConfig.model_validate({"members": members, "base_dir": base, **overrides})


def fake_members(
    config: GraphConfig,
    replies: dict[str, dict[str, Reply]] | None = None,
    *,
    probing: bool = False,
    distributions: dict[str, dict[str, Any]] | None = None,
) -> Members:
    """One scripted model per member; ``replies[member][title]`` overrides the defaults.

    ``probing`` makes every member report value distributions (``distributions[member]`` by
    schema title, else all mass on the written value)."""
    replies = replies or {}
    distributions = distributions or {}
    return Members.from_handles(
        {
            m.name: MemberHandle(
                m.name,
                ScriptedChatModel(
                    replies=replies.get(m.name, {}),
                    prompts=[],
                    probing=probing,
                    distributions=distributions.get(m.name, {}),
                ),
                f"fake:{m.name}",
            )
            for m in config.members
        }
    )
