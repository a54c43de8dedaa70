"""What a run's model calls cost, per role and per member: tokens, seconds, calls.

A call's role follows from its stage (:data:`STAGE_ROLES`): the generator composes keywords,
writes the instruction and the response and revises it; reviewers check instructions and score
responses; a verifier writes tests or solves the task independently (the executable
verifiers); the adjudicator re-scores conflicts; enrichment and seed annotation are their own
roles. Seconds are the calls' own durations added up, so calls that ran at the same time count
in full (this is model time, not wall-clock time).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from gra_graph.stages import Stage
from gra_graph.state import CallRecord

STAGE_ROLES: dict[str, str] = {
    Stage.COMPOSE_KEYWORDS: "generator",
    Stage.WRITE_INSTRUCTION: "generator",
    Stage.WRITE_RESPONSE: "generator",
    Stage.REVISE: "generator",
    Stage.CHECK_INSTRUCTION: "reviewer",
    Stage.SCORE_RESPONSE: "reviewer",
    Stage.ADJUDICATE: "adjudicator",
    Stage.WRITE_TESTS: "verifier",
    Stage.SOLVE: "verifier",
    Stage.WRITE_SQL_CHECK: "verifier",
    Stage.SOLVE_COMPLEXITY: "verifier",
    Stage.ENRICH: "enrich",
    Stage.ANNOTATE: "annotate",
}
"""The role each stage's calls are counted under."""

ROLES: tuple[str, ...] = (
    "generator",
    "reviewer",
    "verifier",
    "adjudicator",
    "enrich",
    "annotate",
)
"""The roles, in the order reports list them."""

assert set(STAGE_ROLES) == {s.value for s in Stage}, "every stage needs a role"


def role_of(stage: str) -> str:
    """The role a call of ``stage`` is counted under (``other`` for a stage this version
    does not know, e.g. in a run written by a newer one).

    >>> role_of("score_response"), role_of("revise"), role_of("something_new")
    ('reviewer', 'generator', 'other')
    """
    return STAGE_ROLES.get(stage, "other")


class Cost(BaseModel):
    """Calls, attempts, tokens and seconds added up."""

    calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, call: CallRecord) -> None:
        self.calls += 1
        self.attempts += call.attempts
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens
        self.seconds += call.seconds

    def per(self, n: int) -> PerSample:
        """These costs divided over ``n`` samples (``n`` > 0)."""
        return PerSample(
            calls=round(self.calls / n, 2),
            tokens=round(self.tokens / n, 1),
            prompt_tokens=round(self.prompt_tokens / n, 1),
            completion_tokens=round(self.completion_tokens / n, 1),
            seconds=round(self.seconds / n, 2),
        )


class PerSample(BaseModel):
    """Costs per sample (means, so fractional)."""

    calls: float
    tokens: float
    prompt_tokens: float
    completion_tokens: float
    seconds: float


class CostBreakdown(BaseModel):
    """Costs in all, per role (:data:`ROLES`, then ``other``) and per member."""

    total: Cost = Cost()
    by_role: dict[str, Cost] = {}
    by_member: dict[str, Cost] = {}

    def add(self, calls: Iterable[CallRecord]) -> None:
        for call in calls:
            self.total.add(call)
            self.by_role.setdefault(role_of(call.stage), Cost()).add(call)
            self.by_member.setdefault(call.member, Cost()).add(call)

    def ordered(self) -> CostBreakdown:
        """The same costs with roles in :data:`ROLES` order and members sorted by name, and
        seconds rounded to milliseconds."""
        order = {r: i for i, r in enumerate(ROLES)}

        def rounded(cost: Cost) -> Cost:
            return cost.model_copy(update={"seconds": round(cost.seconds, 3)})

        return CostBreakdown(
            total=rounded(self.total),
            by_role={
                r: rounded(self.by_role[r])
                for r in sorted(self.by_role, key=lambda r: (order.get(r, len(order)), r))
            },
            by_member={m: rounded(self.by_member[m]) for m in sorted(self.by_member)},
        )

    def per(self, n: int) -> PerSampleBreakdown | None:
        """The breakdown over ``n`` samples; ``None`` when ``n`` is 0."""
        if n <= 0:
            return None
        return PerSampleBreakdown(
            total=self.total.per(n),
            by_role={r: c.per(n) for r, c in self.by_role.items()},
            by_member={m: c.per(n) for m, c in self.by_member.items()},
        )


class PerSampleBreakdown(BaseModel):
    """A :class:`CostBreakdown` divided over a number of samples."""

    total: PerSample
    by_role: dict[str, PerSample]
    by_member: dict[str, PerSample]
