"""What the models must fill in: the structured outputs of each stage.

Integer scores are ``Literal`` enums and every string has a ``max_length``: llama.cpp's
JSON-schema grammar does not enforce ``minimum``/``maximum`` but does enforce enums, and an
unbounded string invites a small model to repeat itself until the token budget runs out. Each
parsed object is validated again by pydantic, so whatever slips past the grammar is caught.

The rubric models are built from a list of score dimensions (:func:`score_output`,
:func:`adjudication_output`), and the instruction check from
:data:`~gra_graph.vocabulary.CHECK_CRITERIA`, so no dimension or criterion is spelled here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, field_validator

from gra_graph.vocabulary import CHECK_CRITERIA, SCORE_DIMENSIONS, Domain

Score = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
PassFail = Literal["pass", "fail"]
DomainName = Domain
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Keywords = Annotated[list[Keyword], Field(min_length=3, max_length=3)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=240)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=240)]


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class KeywordTriple(_Output):
    """Stage 2a: a new keyword triple."""

    keywords: Keywords


InstructionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=12, max_length=600)
]


class InstructionDraft(_Output):
    """Stage 2b: the new instruction, alone. As a JSON string field it ends where the JSON
    closes, so a small model cannot run on from the task into its answer."""

    instruction: InstructionText


class _Check(_Output):
    """Stage 3a: pass/fail on each instruction criterion, and a short reason."""

    CRITERIA: ClassVar[tuple[str, ...]] = CHECK_CRITERIA

    def passed(self) -> dict[str, bool]:
        """Criterion -> passed, in criterion order."""
        return {c: getattr(self, c) == "pass" for c in self.CRITERIA}


InstructionCheckOutput: type[_Check] = create_model(  # type: ignore[call-overload]
    "InstructionCheckOutput",
    __base__=_Check,
    **{c: (PassFail, ...) for c in CHECK_CRITERIA},
    reason=(ShortText, ""),
)

InstructionCheckReasonFirst: type[_Check] = create_model(  # type: ignore[call-overload]
    "InstructionCheckOutput",
    __base__=_Check,
    reason=(ShortText, ...),
    **{c: (PassFail, ...) for c in CHECK_CRITERIA},
)
"""The check with its reason first (and required): the JSON key order the grammar enforces
follows the fields', so each verdict is written, and its P(pass) read, after the reviewer has
said what it sees in the task. Picked by a check prompt that names "reason" before the
criteria (``prompts/check_instruction_reason_first.txt``)."""


class _Rubric(_Output):
    """Integer scores 0-10, one field per dimension of :attr:`DIMENSIONS`."""

    DIMENSIONS: ClassVar[tuple[str, ...]] = SCORE_DIMENSIONS

    def scores(self) -> dict[str, int]:
        """Dimension -> score, in dimension order."""
        return {d: int(getattr(self, d)) for d in self.DIMENSIONS}


def _rubric_model(
    name: str, dimensions: tuple[str, ...], **extra: tuple[Any, Any]
) -> type[_Rubric]:
    model = create_model(  # type: ignore[call-overload]
        name, __base__=_Rubric, **{d: (Score, ...) for d in dimensions}, **extra
    )
    model.DIMENSIONS = tuple(dimensions)
    return model


@lru_cache(maxsize=1024)  # one per dimension order asked (judging.score_order)
def score_output(dimensions: tuple[str, ...] = SCORE_DIMENSIONS) -> type[_Rubric]:
    """Stage 3b: a score per dimension, plus strengths and weaknesses."""
    return _rubric_model(
        "ScoreOutput", dimensions, strengths=(ShortText, ""), weaknesses=(ShortText, "")
    )


class _VerdictRubric(_Rubric):
    """A pass or a fail per dimension (``judging.score_scale: pass_fail``), worth 10 or 0 on the
    rubric's scale, so mean and spread, tau and delta read them as they read 0-10 scores."""

    def scores(self) -> dict[str, int]:
        return {d: 10 if getattr(self, d) == "pass" else 0 for d in self.DIMENSIONS}


@lru_cache(maxsize=1024)
def verdict_output(dimensions: tuple[str, ...] = SCORE_DIMENSIONS) -> type[_Rubric]:
    """Stage 3b on the pass/fail scale: what the answer gives and whether the task asked for it
    (``reason``, required, with room for two short sentences), then a verdict per dimension."""
    model = create_model(  # type: ignore[call-overload]
        "VerdictOutput",
        __base__=_VerdictRubric,
        reason=(Reason, ...),
        **{d: (PassFail, ...) for d in dimensions},
    )
    model.DIMENSIONS = tuple(dimensions)
    return model


@lru_cache(maxsize=1024)
def adjudication_output(dimensions: tuple[str, ...] = SCORE_DIMENSIONS) -> type[_Rubric]:
    """Stage 5: the Adjudicator's re-score, plus its rationale."""
    return _rubric_model("AdjudicationOutput", dimensions, rationale=(ShortText, ""))


@lru_cache(maxsize=1024)
def text_first(model: type[_Rubric], text_order: tuple[str, ...]) -> type[_Rubric]:
    """``model`` with its free-text fields (strengths and weaknesses, or rationale) before the
    scores, in ``text_order``: the JSON key order the grammar enforces follows the fields'
    order, so the reviewer writes its critique before it scores (critique first)."""
    dims = model.DIMENSIONS
    fields = model.model_fields
    rest = [f for f in fields if f not in dims and f not in text_order]
    ordered = {f: (fields[f].annotation, fields[f]) for f in [*text_order, *rest, *dims]}
    base = _VerdictRubric if issubclass(model, _VerdictRubric) else _Rubric
    first = create_model(model.__name__, __base__=base, **ordered)  # type: ignore[call-overload]
    first.DIMENSIONS = dims
    return first


ScoreOutput = score_output(SCORE_DIMENSIONS)
AdjudicationOutput = adjudication_output(SCORE_DIMENSIONS)


class Metadata(_Output):
    """Stage 6: fresh keywords and summary for an accepted sample."""

    keywords: Keywords
    summary: Summary


class Annotation(_Output):
    """Seed annotation: domain, keywords and summary of a seed that lacks them."""

    domain: DomainName
    keywords: Keywords
    summary: Summary


# ---- executable verifiers (docs/verifiers.md)

TestStatement = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=240)
]


class TestCases(_Output):
    """Verifier: assert statements a member writes from the instruction and the signatures."""

    tests: Annotated[list[TestStatement], Field(min_length=1, max_length=8)]


SqlStatement = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)
]


class SqlCheck(_Output):
    """Verifier: a small SQLite database for an SQL task (``CREATE TABLE`` and ``INSERT``
    statements) and the member's own query on it."""

    setup: Annotated[list[SqlStatement], Field(min_length=1, max_length=12)]
    query: SqlStatement


class Solution(_Output):
    """Verifier: a member's own final answer to a math instruction, as a value or as an
    arithmetic expression that computes it (SymPy evaluates it, not the model)."""

    answer: (
        int
        | float
        | Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    )

    @field_validator("answer", mode="after")
    @classmethod
    def _as_text(cls, value: int | float | str) -> str:
        """A bare JSON number is an answer too (a grammar that forced a string made small
        models write junk before it: ``">$72$}"``); downstream reads answers as text."""
        return value if isinstance(value, str) else repr(value)


# ---- end of executable verifiers


def grammar_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema handed to the grammar: the pydantic schema with all fields required.

    Optional fields are made required so that the grammar always asks for them (a grammar that
    allows stopping early lets a small model skip the feedback).
    """
    schema = model.model_json_schema()
    schema["required"] = list(schema.get("properties", {}))
    return json.loads(json.dumps(schema))
