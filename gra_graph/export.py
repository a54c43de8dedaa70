"""What a run adds up to: the summary and its accounting, the near-duplicate pass, and the
formats accepted rows are written in.

Functions over records, so the runner only schedules: it hands each record to
:meth:`Accounting.count` as it arrives and calls :func:`write_accepted` once at the end. A new
output format is one function in :data:`ROW_FORMATS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, Field

from gra_graph.config import GraphConfig
from gra_graph.dedup import EMBEDDERS, near_duplicate_filter
from gra_graph.rundirs import RunDir
from gra_graph.state import CallRecord, Record


class RunSummary(BaseModel):
    """Totals of a run (also written to ``summary.json``)."""

    seed_samples: int = 0
    resumed_records: int = 0
    accepted: int = 0
    rejected: int = 0
    paused: int = Field(
        0, description="seed-samples stopped on purpose at an interrupt, waiting to resume"
    )
    kept_after_dedup: int = 0
    near_duplicates: int = 0
    adjudicated: int = 0
    revised: int = 0
    abstentions: int = 0
    errors: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    wall_seconds: float = 0.0
    generated_tokens_per_second: float = 0.0
    seconds_per_seed_sample: float | None = None
    checkpoint_db_bytes: int = 0
    rejection_reasons: dict[str, int] = {}
    faults: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="failed call attempts per member and fault kind (exception, timeout, empty, "
        "invalid_json, schema), seed annotation included",
    )

    def count_faults(self, calls: Iterable[CallRecord]) -> None:
        """Add the failed attempts of ``calls`` to :attr:`faults`."""
        for call in calls:
            for kind in call.faults:
                per_member = self.faults.setdefault(call.member, {})
                per_member[kind] = per_member.get(kind, 0) + 1

    @property
    def complete(self) -> bool:
        return self.errors == 0 and self.accepted + self.rejected == self.seed_samples

    @property
    def status(self) -> str:
        """The run's final status (see :data:`gra_graph.rundirs.STATUSES`)."""
        if self.complete:
            return "complete"
        return "paused" if self.paused and not self.errors else "incomplete"


def reason_kind(reason: str) -> str:
    """The part of a rejection reason before its details (what summaries count)."""
    return reason.split(":", 1)[0]


class Accounting:
    """Adds records up into a :class:`RunSummary` as they arrive."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self.resumed_tokens = 0

    def count(self, record: Record, resumed: bool) -> None:
        """Count one record (``resumed``: written by an earlier, interrupted run)."""
        s = self.summary
        if resumed:
            s.resumed_records += 1
            self.resumed_tokens += record.completion_tokens
        if record.status == "accepted":
            s.accepted += 1
        else:
            s.rejected += 1
            kind = reason_kind(record.reason)
            s.rejection_reasons[kind] = s.rejection_reasons.get(kind, 0) + 1
        s.adjudicated += record.adjudication is not None
        s.revised += bool(record.revisions)
        s.abstentions += sum(c.abstained for c in record.checks)
        s.abstentions += sum(r.abstained for r in record.reviews)
        s.completion_tokens += record.completion_tokens
        s.prompt_tokens += sum(c.prompt_tokens for c in record.calls)
        s.count_faults(record.calls)

    def close(self, wall_seconds: float, kept: int, accepted: int, db_bytes: int) -> RunSummary:
        """Fill in the end-of-run figures: rates over this run's own work, dedup, sizes."""
        s = self.summary
        s.wall_seconds = wall_seconds
        s.kept_after_dedup = kept
        s.near_duplicates = accepted - kept
        s.rejection_reasons = dict(Counter(s.rejection_reasons).most_common())
        s.faults = {m: dict(sorted(k.items())) for m, k in sorted(s.faults.items())}
        fresh_tokens = s.completion_tokens - self.resumed_tokens
        if s.wall_seconds:
            s.generated_tokens_per_second = round(fresh_tokens / s.wall_seconds, 2)
            fresh = s.accepted + s.rejected - s.resumed_records
            if fresh:
                s.seconds_per_seed_sample = round(s.wall_seconds / fresh, 2)
        s.checkpoint_db_bytes = db_bytes
        return s


def gra_row(record: Record) -> dict[str, Any]:
    """The paper's five-field training row: instruction, response, domain, keywords, summary."""
    return record.accepted_row()


ROW_FORMATS: dict[str, Callable[[Record], dict[str, Any]]] = {"gra": gra_row}
"""Formats of an accepted row, by name; ``accepted.jsonl`` is written in ``gra``."""


def dedup_rank(record: Record) -> float:
    """Dedup order: the committee mean, or the adjudicator's composite when it decided."""
    if record.adjudication is not None and record.adjudication.composite is not None:
        return record.adjudication.composite
    return record.mu or 0.0


def accepted_records(run_dir: RunDir) -> list[Record]:
    """The accepted records, streamed from the journal, in (seed, sample) order."""
    return sorted(
        (
            Record.model_validate(row)
            for row in run_dir.journal_rows(run_dir.records_path)
            if row.get("status") == "accepted"
        ),
        key=lambda r: r.key,
    )


def write_accepted(
    run_dir: RunDir, config: GraphConfig, accepted: list[Record], row_format: str = "gra"
) -> list[Record]:
    """The near-duplicate pass over ``accepted``, then ``dedup.jsonl`` and ``accepted.jsonl``
    written in one rename each; returns the kept records."""
    if config.dedup.enabled and accepted:
        decisions = near_duplicate_filter(
            [f"{r.instruction}\n{r.response}" for r in accepted],
            [dedup_rank(r) for r in accepted],
            config.dedup.threshold,
            embed=EMBEDDERS[config.dedup.embedder],
        )
    else:
        decisions = []
    dropped = {d.index for d in decisions if not d.kept}
    run_dir.replace_rows(
        run_dir.dedup_path,
        (
            {
                "seed_index": accepted[d.index].seed_index,
                "sample_index": accepted[d.index].sample_index,
                "kept": d.kept,
                "similarity": d.similarity,
                "nearest": (list(accepted[d.nearest].key) if d.nearest is not None else None),
            }
            for d in decisions
        ),
    )
    kept = [r for i, r in enumerate(accepted) if i not in dropped]
    to_row = ROW_FORMATS[row_format]
    run_dir.replace_rows(run_dir.accepted_path, (to_row(r) for r in kept))
    return kept
