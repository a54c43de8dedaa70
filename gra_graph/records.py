"""Building the provenance record of one seed-sample from its final graph state, and the seed a
kept sample becomes for the next iteration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from gra_graph.llm.members import MemberHandle
from gra_graph.state import (
    Adjudication,
    CallRecord,
    HumanDecision,
    InstructionCheck,
    Record,
    Review,
    Revision,
    RoleDraw,
    Seed,
    Verdict,
    Verification,
)


def build_record(
    values: Mapping[str, Any], run_id: str, members: Mapping[str, MemberHandle]
) -> Record:
    """The record of a finished thread; reviewer entries are put in committee order."""
    roles = RoleDraw.model_validate(values["roles"]) if values.get("roles") else None
    order = {n: i for i, n in enumerate(roles.reviewers)} if roles else {}

    def by_committee(item: InstructionCheck | Review) -> tuple[int, int]:
        return (getattr(item, "round", 0), order.get(item.reviewer, len(order)))

    calls = [CallRecord.model_validate(c) for c in values.get("calls", [])]
    used = {c.member for c in calls}
    if roles:
        used |= {roles.generator, *roles.reviewers, roles.enricher}
        if roles.adjudicator and values.get("adjudication"):
            used.add(roles.adjudicator)
    decision = values.get("decision") or {
        "status": "rejected",
        "reason": "thread ended without a decision",
    }
    return Record(
        run_id=run_id,
        iteration=values.get("iteration", 1),  # checkpoints from before iterations have none
        seed_index=values["seed_index"],
        sample_index=values["sample_index"],
        status=decision["status"],
        reason=decision["reason"],
        seed=Seed.model_validate(values["seed"]) if values.get("seed") else None,
        domain=values["domain"],
        instruction=values.get("instruction"),
        response=values.get("response"),
        keywords=values.get("keywords"),
        summary=values.get("summary"),
        roles=roles,
        models={m: members[m].model_ref for m in sorted(used) if m in members},
        checks=sorted(
            (InstructionCheck.model_validate(c) for c in values.get("checks", [])), key=by_committee
        ),
        reviews=sorted(
            (Review.model_validate(r) for r in values.get("reviews", [])), key=by_committee
        ),
        verdicts=[Verdict.model_validate(v) for v in values.get("verdicts", [])],
        adjudication=(
            Adjudication.model_validate(values["adjudication"])
            if values.get("adjudication")
            else None
        ),
        human=HumanDecision.model_validate(values["human"]) if values.get("human") else None,
        revisions=[Revision.model_validate(r) for r in values.get("revisions", [])],
        verifications=[Verification.model_validate(v) for v in values.get("verifications", [])],
        rounds=values.get("round", 0),
        calls=calls,
        completion_tokens=sum(c.completion_tokens for c in calls),
        seconds=round(sum(c.seconds for c in calls), 3),
    )


def failed_record(
    run_id: str,
    seed_index: int,
    sample_index: int,
    domain: str,
    reason: str,
    calls: list[CallRecord] | None = None,
    iteration: int = 1,
) -> Record:
    """The record of a seed-sample that could not run (for example an unusable seed)."""
    calls = calls or []
    return Record(
        run_id=run_id,
        iteration=iteration,
        seed_index=seed_index,
        sample_index=sample_index,
        status="rejected",
        reason=reason,
        domain=domain,
        instruction=None,
        response=None,
        keywords=None,
        summary=None,
        roles=None,
        models={},
        checks=[],
        reviews=[],
        verdicts=[],
        adjudication=None,
        revisions=[],
        rounds=0,
        calls=calls,
        completion_tokens=sum(c.completion_tokens for c in calls),
        seconds=round(sum(c.seconds for c in calls), 3),
    )


def kept_seed(record: Record) -> Seed:
    """The seed a kept sample becomes for the next iteration (docs/method.md, section 8).

    Its keywords and summary are the ones enrichment wrote. A sample whose enrichment failed
    has no summary, and metadata that does not validate is left out (the domain too, if it is
    not one of the seven): such a seed comes back unannotated, and the next iteration
    annotates it like any seed without metadata.
    """
    assert record.instruction and record.response, "only accepted records become seeds"
    metadata = {"domain": record.domain, "keywords": record.keywords, "summary": record.summary}
    for dropped in ((), ("keywords", "summary"), ("domain", "keywords", "summary")):
        try:
            return Seed(
                instruction=record.instruction,
                response=record.response,
                **{k: v for k, v in metadata.items() if k not in dropped},
            )
        except ValidationError:
            continue
    raise AssertionError("a seed without metadata always validates")
