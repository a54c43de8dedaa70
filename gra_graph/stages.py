"""One home per stage: its prompt file, the variables its prompt may use, its token budget and
the shape of its output, declared together.

A stage is one prompt-driven step of the pipeline (docs/method.md). Everything else reads these
declarations: the graph file's ``budgets`` and default ``prompts`` are built from them
(:mod:`gra_graph.config`), the prompt loader checks placeholders against them
(:mod:`gra_graph.prompts`), and the nodes ask for their stage's output schema here. Adding a
stage is one entry in :data:`STAGES` plus its prompt file and its node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel

from gra_graph import schemas


class Stage(StrEnum):
    """Every prompt-driven step of the pipeline; each has a prompt file and a token budget."""

    ANNOTATE = "annotate"
    COMPOSE_KEYWORDS = "compose_keywords"
    WRITE_INSTRUCTION = "write_instruction"
    WRITE_RESPONSE = "write_response"
    CHECK_INSTRUCTION = "check_instruction"
    SCORE_RESPONSE = "score_response"
    ADJUDICATE = "adjudicate"
    REVISE = "revise"
    ENRICH = "enrich"
    WRITE_TESTS = "write_tests"
    SOLVE = "solve"
    WRITE_SQL_CHECK = "write_sql_check"
    SOLVE_COMPLEXITY = "solve_complexity"


OutputSchema = Callable[[tuple[str, ...]], type[BaseModel]]
"""Builds a stage's output model from the graph's score dimensions."""


@dataclass(frozen=True)
class StageSpec:
    """What one stage is: prompt variables, default token budget, output shape.

    ``output`` is ``None`` for free-text stages. ``scored`` stages ask for one score per
    dimension, so their prompt must name every dimension (checked when prompts load).
    ``optional`` stages run only when a setting turns them on (the verifiers); a graph file
    that names no prompt for one gets the shipped prompt. ``judges`` stages write verdicts
    (pass/fail, scores): their calls take ``judging.repeat_penalty`` in place of the member's.
    """

    stage: Stage
    purpose: str
    variables: frozenset[str]
    budget: int
    output: OutputSchema | None = None
    scored: bool = False
    optional: bool = False
    judges: bool = False

    @property
    def prompt_file(self) -> str:
        """The file name of the stage's shipped prompt in ``prompts/``."""
        return f"{self.stage.value}.txt"

    def schema(self, dimensions: tuple[str, ...]) -> type[BaseModel] | None:
        """The stage's output model for a graph scoring ``dimensions`` (None: free text)."""
        return self.output(dimensions) if self.output else None


def _fixed(model: type[BaseModel]) -> OutputSchema:
    return lambda _dimensions: model


_SPECS = (
    StageSpec(
        Stage.ANNOTATE,
        "name the domain, keywords and summary of a seed that lacks them",
        frozenset({"instruction", "response"}),
        96,
        _fixed(schemas.Annotation),
    ),
    StageSpec(
        Stage.COMPOSE_KEYWORDS,
        "generator 2a: a new keyword triple from pool examples",
        frozenset({"domain", "examples"}),
        48,
        _fixed(schemas.KeywordTriple),
    ),
    StageSpec(
        Stage.WRITE_INSTRUCTION,
        "generator 2b: an instruction on the new keywords",
        frozenset({"domain", "keywords", "summaries", "examples"}),
        96,
        _fixed(schemas.InstructionDraft),
    ),
    StageSpec(
        Stage.WRITE_RESPONSE,
        "generator 2c: the answer to the instruction",
        frozenset({"domain", "instruction"}),
        160,
    ),
    StageSpec(
        Stage.CHECK_INSTRUCTION,
        "reviewer 3a: pass/fail on each instruction criterion",
        frozenset({"domain", "instruction"}),
        80,
        _fixed(schemas.InstructionCheckOutput),
        judges=True,
    ),
    StageSpec(
        Stage.SCORE_RESPONSE,
        "reviewer 3b: a 0-10 score per dimension, strengths and weaknesses",
        frozenset({"domain", "instruction", "response"}),
        144,
        schemas.score_output,
        scored=True,
        judges=True,
    ),
    StageSpec(
        Stage.ADJUDICATE,
        "adjudicator: re-score a conflicted sample after reading the reviews",
        frozenset({"domain", "instruction", "response", "feedback"}),
        128,
        schemas.adjudication_output,
        scored=True,
        judges=True,
    ),
    StageSpec(
        Stage.REVISE,
        "revise cycle: the generator rewrites its answer from the feedback",
        frozenset({"domain", "instruction", "response", "feedback"}),
        160,
    ),
    StageSpec(
        Stage.ENRICH,
        "enrichment: fresh keywords and summary for a kept sample",
        frozenset({"domain", "instruction", "response"}),
        96,
        _fixed(schemas.Metadata),
    ),
    StageSpec(
        Stage.WRITE_TESTS,
        "coding verifier: assert statements from the instruction and the function signatures",
        frozenset({"domain", "instruction", "signatures"}),
        224,
        _fixed(schemas.TestCases),
        optional=True,
    ),
    StageSpec(
        Stage.SOLVE,
        "math verifier: an independent solution's final answer",
        frozenset({"domain", "instruction"}),
        64,
        _fixed(schemas.Solution),
        optional=True,
    ),
    StageSpec(
        Stage.WRITE_SQL_CHECK,
        "coding verifier, SQL answers: a test database and the member's own query",
        frozenset({"domain", "instruction"}),
        320,
        _fixed(schemas.SqlCheck),
        optional=True,
    ),
    StageSpec(
        Stage.SOLVE_COMPLEXITY,
        "coding verifier, complexity answers: an independent Big-O answer",
        frozenset({"domain", "instruction"}),
        48,
        _fixed(schemas.Solution),
        optional=True,
    ),
)

STAGES: Mapping[Stage, StageSpec] = MappingProxyType({spec.stage: spec for spec in _SPECS})
"""Every stage's declaration, in pipeline order."""

assert set(STAGES) == set(Stage), "every Stage needs a StageSpec"
