"""Shapes of the data: seeds, samples, reviews, verdicts, records, and the graph state.

Nothing else in the package defines data shapes. Graph state is a ``TypedDict`` whose list
channels carry explicit reducers, because reviewers write to them in parallel (``Send``) and the
order inside one superstep is not guaranteed.
"""

from __future__ import annotations

import operator
import statistics
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict as ExtTypedDict  # pydantic reads it on Python < 3.12

# one source each (gra_graph.vocabulary); re-exported for the code that reads them with the state
from gra_graph.vocabulary import CHECK_CRITERIA as CHECK_CRITERIA
from gra_graph.vocabulary import SCORE_DIMENSIONS as SCORE_DIMENSIONS
from gra_graph.vocabulary import Domain

FaultKind = Literal[
    "exception",
    "timeout",
    "empty",
    "invalid_json",
    "schema",
    "connection",
    "rate_limit",
    "server_error",
    "client_error",
    "malformed_body",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__
"""How a call attempt failed: the member raised, gave no reply within ``call_timeout_s``,
replied with empty text, with text that is not JSON, or with JSON outside the schema; and, for a
served member (:mod:`gra_graph.llm.fault_kinds`): its server could not be reached, refused for
rate limit (HTTP 429), failed (5xx), refused the request (another 4xx), or answered with a body
that is not a chat completion."""
MODEL_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS[:5]
"""The kinds any member can show (and fault injection produces); the rest are transport faults."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Seed(_Model):
    """One seed line. Keywords and summary are annotated by a member when absent."""

    instruction: str = Field(..., min_length=1)
    response: str = Field(..., min_length=1)
    domain: Domain | None = None
    keywords: list[str] | None = Field(None, min_length=3, max_length=3)
    summary: str | None = Field(None, min_length=1)

    @property
    def annotated(self) -> bool:
        return self.domain is not None and self.keywords is not None and self.summary is not None


class PoolEntry(_Model):
    """A pool sample the Generator learns from: its (keywords, summary) pair, as in the paper,
    and the instruction itself, which the Generator sees as a few-shot example of a real task
    (absent in checkpoints written before pools kept it)."""

    keywords: list[str]
    summary: str
    instruction: str | None = None


class CallRecord(_Model):
    """Accounting of one model call (distilabel-style per-step metadata)."""

    stage: str
    member: str
    model_file: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    attempts: int = 1
    ok: bool = True
    error: str | None = None
    faults: list[FaultKind] = Field(
        default_factory=list, description="the kind of each failed attempt, in order"
    )
    finish_reason: str | None = Field(
        None,
        description="how the last reply ended, as the engine reports it: 'stop' (the model "
        "finished) or 'length' (it reached the stage's token budget, so the text is cut; JSON "
        "cut there does not parse); None when no reply came, for a model that does not say, "
        "and in older records",
    )
    finished_at: float | None = Field(
        None,
        description="wall-clock time the call finished, its last attempt included (Unix epoch "
        "seconds, UTC); None in records and checkpoints written before calls were stamped. A "
        "call replayed from a checkpoint on resume keeps the stamp of when it was made",
    )


Score = Annotated[int | float, Field(ge=0, le=10)]
"""A 0-10 score: the integer a reviewer wrote, or an expected value (docs/method.md, 9f)."""

ScoringMode = Literal["sampled", "expected"]


class InstructionCheck(_Model):
    """One reviewer's pass/fail verdict on the instruction (docs/method.md, section 4a).

    ``pass_probability`` is the reviewer's own P(pass) per criterion, read from the logits when
    the graph asks for it (section 9f); ``note`` says why it is missing when it was asked for.
    """

    reviewer: str
    model_file: str
    abstained: bool = False
    criteria: dict[str, bool] = Field(default_factory=dict)
    reason: str = ""
    error: str | None = None
    pass_probability: dict[str, float] = Field(default_factory=dict)
    note: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c for c, ok in self.criteria.items() if not ok]


class Review(_Model):
    """One reviewer's scores of the response in one round (docs/method.md, section 4b).

    An abstaining reviewer has no scores; it is excluded from mean and spread, never counted 0.
    With ``scoring: expected`` the scores are expected values over ``distributions`` and the
    integers the reviewer wrote are kept in ``sampled_scores`` (section 9f). ``dimension_order``
    is the order the dimensions were asked in when it was not the graph's.
    """

    reviewer: str
    model_file: str
    round: int = 0
    abstained: bool = False
    scores: dict[str, Score] = Field(default_factory=dict)
    strengths: str = ""
    weaknesses: str = ""
    reason: str = ""
    """What the reviewer said of the answer before its verdicts (``judging.score_scale:
    pass_fail``); empty on the 0-10 scale, which has strengths and weaknesses."""
    error: str | None = None
    scoring: ScoringMode = "sampled"
    sampled_scores: dict[str, int] = Field(default_factory=dict)
    distributions: dict[str, dict[str, float]] = Field(default_factory=dict)
    dimension_order: list[str] = Field(default_factory=list)
    note: str | None = None

    @property
    def composite(self) -> float | None:
        if self.abstained or not self.scores:
            return None
        return statistics.fmean(self.scores.values())


class Verdict(_Model):
    """The committee's decision for one round (docs/method.md, section 5)."""

    round: int
    outcome: Literal["accept", "reject", "conflict", "undecided"]
    mu: float | None
    sigma: float | None
    valid_reviews: int
    abstentions: int


class Adjudication(_Model):
    """The Adjudicator's re-score of a conflicted sample (docs/method.md, section 6)."""

    adjudicator: str
    model_file: str
    abstained: bool = False
    scores: dict[str, Score] = Field(default_factory=dict)
    composite: float | None = None
    rationale: str = ""
    keep: bool = False
    error: str | None = None
    scoring: ScoringMode = "sampled"
    sampled_scores: dict[str, int] = Field(default_factory=dict)
    distributions: dict[str, dict[str, float]] = Field(default_factory=dict)
    dimension_order: list[str] = Field(default_factory=list)
    note: str | None = None


# ---- human adjudication (adjudication: human | model_then_human; docs/method.md, section 9h)

HumanChoice = Literal["keep", "drop", "edit"]
"""What a person may answer about a waiting conflict: keep the response, drop the sample, or
keep it with an edited response."""


class HumanAnswer(_Model):
    """A person's answer to a conflict: the value a waiting thread is resumed with.

    From Python, resume a thread waiting at ``human_adjudicate`` with
    ``Command(resume=HumanAnswer(decision="keep").model_dump())``; ``gra review`` and
    :func:`gra_graph.human.record_answer` write the same shape to the run's answers journal.
    ``edited_response`` is required with ``edit`` and refused otherwise.

    >>> HumanAnswer(decision="edit", edited_response="A better answer.").decision
    'edit'
    """

    decision: HumanChoice
    edited_response: str | None = None
    who: str = Field("human", min_length=1, max_length=200, description="who answered")
    note: str = Field("", max_length=10_000, description="why, in the person's words")

    @model_validator(mode="after")
    def _edit_needs_text(self) -> HumanAnswer:
        if self.decision == "edit" and not (self.edited_response or "").strip():
            raise ValueError("decision 'edit' needs a non-empty edited_response")
        if self.decision != "edit" and self.edited_response is not None:
            raise ValueError(f"edited_response is only for decision 'edit', not {self.decision!r}")
        return self


class HumanQuestion(_Model):
    """What a thread waiting for a person shows (the payload of its ``interrupt()``)."""

    kind: Literal["human_adjudication"] = "human_adjudication"
    seed_index: int
    sample_index: int
    domain: str
    instruction: str
    response: str
    mu: float | None
    sigma: float | None
    reviews: list[dict[str, Any]] = Field(
        default_factory=list, description="this round's reviews: reviewer, scores, feedback"
    )
    adjudication: dict[str, Any] | None = Field(
        None, description="the Adjudicator's verdict first (model_then_human), if any"
    )
    error: str | None = Field(None, description="why the previous answer was refused")


class HumanDecision(_Model):
    """The provenance of a person's decision, kept in the record (``Record.human``)."""

    who: str
    decision: HumanChoice
    note: str = ""
    original_response: str = Field(description="the response the committee reviewed")
    edited_response: str | None = None


class Revision(_Model):
    """One revise cycle: the prior response, the feedback it got, and the new response."""

    round: int
    reviser: str
    prior_response: str
    feedback: list[str]
    prior_mu: float | None
    new_response: str
    diff: str = Field("", description="unified diff, prior -> new response")


class RoleDraw(_Model):
    """Who plays what for one sample."""

    generator: str
    reviewers: list[str]
    adjudicator: str | None
    enricher: str


# ---- executable verifiers (docs/verifiers.md)


class Verification(_Model):
    """An executable verifier's check of one round's response (docs/verifiers.md).

    ``score`` is the fraction of tests passed (Python) or 1/0 (SQL, math); ``None`` when the check
    was inconclusive, which never counts for or against the sample. ``vetoed`` says that this
    verification rejected the sample (``verifiers.mode: veto``).
    """

    verifier: Literal["coding", "math"]
    round: int = 0
    member: str | None = None
    model_file: str | None = None
    outcome: Literal["passed", "failed", "inconclusive"]
    score: float | None = None
    reason: str
    vetoed: bool = False
    details: dict[str, Any] = Field(default_factory=dict)


# ---- end of executable verifiers


class Decision(_Model):
    """The terminal state of one seed-sample."""

    status: Literal["accepted", "rejected"]
    reason: str


class GraState(TypedDict, total=False):
    """State of one seed-sample thread.

    List channels are append-only (``operator.add``); the decision rule reads the reviews of the
    current ``round`` only.
    """

    # inputs
    run_id: str
    iteration: int
    seed_index: int
    sample_index: int
    seed: dict[str, Any]
    domain: str
    pool: list[dict[str, Any]]
    # role draw
    roles: dict[str, Any]
    # generated sample
    keywords: list[str]
    instruction: str
    response: str
    summary: str | None
    enriched: bool
    # review
    checks: Annotated[list[dict[str, Any]], operator.add]
    reviews: Annotated[list[dict[str, Any]], operator.add]
    verdicts: Annotated[list[dict[str, Any]], operator.add]
    adjudication: dict[str, Any] | None
    human: dict[str, Any] | None  # a person's adjudication (HumanDecision)
    revisions: Annotated[list[dict[str, Any]], operator.add]
    verifications: Annotated[list[dict[str, Any]], operator.add]  # executable verifiers
    round: int
    calls: Annotated[list[dict[str, Any]], operator.add]
    decision: dict[str, Any] | None


class _ThreadInputOptional(ExtTypedDict, total=False):
    run_id: str
    iteration: int
    seed: dict[str, Any]


class ThreadInput(_ThreadInputOptional):
    """What a thread starts from: the keys of :func:`gra_graph.seeding.initial_state`.

    The input of a graph served by the LangGraph dev server (:mod:`gra_graph.studio`, and
    the input form LangGraph Studio shows). ``pool`` holds :class:`PoolEntry` dicts, the
    seed's own first; ``seed`` is the annotated :class:`Seed` the sample grows from (kept in
    the record, not read by the Generator). The types are :class:`GraState`'s, key by key.
    """

    seed_index: int
    sample_index: int
    domain: str
    pool: list[dict[str, Any]]


class ReviewerTask(TypedDict):
    """Payload of one reviewer's ``Send`` (fan-out): what the reviewer sees, nothing more."""

    run_id: str
    seed_index: int
    sample_index: int
    reviewer: str
    domain: str
    instruction: str
    response: str
    round: int


class Record(_Model):
    """The provenance record of one seed-sample, one line of ``records.jsonl``."""

    run_id: str
    iteration: int = Field(
        1,
        ge=1,
        description="the iteration (the paper's round) the sample was made in, from 1; its "
        "seed is an original seed in iteration 1 and a sample kept by iteration - 1 after that",
    )
    seed_index: int = Field(
        description="run-wide seed number: the seeds file's line order in iteration 1, then "
        "each iteration's seeds numbered after the previous iteration's (see iterations.jsonl)"
    )
    sample_index: int
    status: Literal["accepted", "rejected"]
    reason: str
    seed: Seed | None = Field(None, description="the seed (as annotated) this sample grew from")
    domain: str
    instruction: str | None
    response: str | None
    keywords: list[str] | None
    summary: str | None
    roles: RoleDraw | None
    models: dict[str, str] = Field(description="member -> model file, for every member used")
    checks: list[InstructionCheck]
    reviews: list[Review]
    verdicts: list[Verdict]
    adjudication: Adjudication | None
    human: HumanDecision | None = Field(
        None, description="a person's adjudication (adjudication: human | model_then_human)"
    )
    revisions: list[Revision]
    verifications: list[Verification] = Field(
        default_factory=list, description="executable verifiers' checks (docs/verifiers.md)"
    )
    rounds: int
    calls: list[CallRecord]
    completion_tokens: int
    seconds: float

    @property
    def key(self) -> tuple[int, int]:
        """The seed-sample's identity, unique across every iteration of a run (seed indices
        are run-wide)."""
        return (self.seed_index, self.sample_index)

    @property
    def mu(self) -> float | None:
        """Mean score of the final round, the ordering key of the dedup pass."""
        return self.verdicts[-1].mu if self.verdicts else None

    def accepted_row(self) -> dict[str, Any]:
        """The five-field training row written to ``accepted.jsonl``."""
        return {
            "instruction": self.instruction,
            "response": self.response,
            "domain": self.domain,
            "keywords": self.keywords,
            "summary": self.summary,
        }
