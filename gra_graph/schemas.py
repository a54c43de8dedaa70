"""What the models must fill in: the structured outputs of each stage.

Integer scores are ``Literal`` enums and every string has a ``max_length``: llama.cpp's
JSON-schema grammar does not enforce ``minimum``/``maximum`` but does enforce enums, and an
unbounded string invites a small model to repeat itself until the token budget runs out. Each
parsed object is validated again by pydantic, so whatever slips past the grammar is caught.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gra_graph.state import SCORE_DIMENSIONS

Score = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
PassFail = Literal["pass", "fail"]
DomainName = Literal[
    "coding", "math", "qa", "reasoning", "roleplay", "language", "creative_writing"
]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Keywords = Annotated[list[Keyword], Field(min_length=3, max_length=3)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=240)]


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class KeywordTriple(_Output):
    """Stage 2a: a new keyword triple."""

    keywords: Keywords


class InstructionCheckOutput(_Output):
    """Stage 3a: pass/fail on the three instruction criteria."""

    rationality: PassFail
    completeness: PassFail
    clarity: PassFail
    reason: ShortText = ""


class _RubricScores(_Output):
    """The six response dimensions of the rubric, each an integer 0-10."""

    correctness: Score
    clarity: Score
    completeness: Score
    relevance: Score
    coherence: Score
    ethicality: Score

    def scores(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in SCORE_DIMENSIONS}


class ScoreOutput(_RubricScores):
    """Stage 3b: six integer scores and short feedback."""

    strengths: ShortText = ""
    weaknesses: ShortText = ""


class AdjudicationOutput(_RubricScores):
    """Stage 5: the Adjudicator's re-score."""

    rationale: ShortText = ""


class Metadata(_Output):
    """Stage 6: fresh keywords and summary for an accepted sample."""

    keywords: Keywords
    summary: Summary


class Annotation(_Output):
    """Seed annotation: domain, keywords and summary of a seed that lacks them."""

    domain: DomainName
    keywords: Keywords
    summary: Summary


def grammar_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema handed to the grammar: the pydantic schema with all fields required.

    Optional fields are made required so that the grammar always asks for them (a grammar that
    allows stopping early lets a small model skip the feedback).
    """
    schema = model.model_json_schema()
    schema["required"] = list(schema.get("properties", {}))
    return json.loads(json.dumps(schema))
