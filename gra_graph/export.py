"""What a run adds up to: the summary and its accounting, the near-duplicate pass, and the
formats accepted rows are written in.

Functions over records, so the runner only schedules: it hands each record to
:meth:`Accounting.count` as it arrives, calls :func:`near_duplicate_pass` at the end of each
iteration (against every sample earlier iterations kept) and :func:`write_accepted` to write the
kept rows. A new output format is one function in :data:`ROW_FORMATS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from gra_graph.config import GraphConfig
from gra_graph.dedup import EMBEDDERS, near_duplicate_filter
from gra_graph.rundirs import RunDir
from gra_graph.state import CallRecord, Record


class IterationCounts(BaseModel):
    """One iteration's share of a run (docs/method.md, section 8)."""

    iteration: int
    seed_samples: int = 0
    accepted: int = 0
    rejected: int = 0
    kept_after_dedup: int | None = Field(
        None, description="accepted samples the near-duplicate pass kept (None before it ran)"
    )
    near_duplicates: int | None = None


class RunSummary(BaseModel):
    """Totals of a run (also written to ``summary.json``); ``iterations`` splits the counts by
    iteration."""

    seed_samples: int = 0
    resumed_records: int = 0
    accepted: int = 0
    rejected: int = 0
    paused: int = Field(
        0, description="seed-samples stopped on purpose at an interrupt, waiting to resume"
    )
    kept_after_dedup: int = 0
    near_duplicates: int = 0
    adjudicated: int = Field(0, description="conflicts settled by the Adjudicator or a person")
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
    iterations_planned: int = 1
    iterations: list[IterationCounts] = Field(
        default_factory=list, description="the iterations started so far, in order"
    )
    stopped_early: str | None = Field(
        None, description="why the run ended before its last iteration (one kept nothing)"
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

    def iteration(self, number: int) -> IterationCounts:
        """The counts of iteration ``number`` (created empty the first time it is asked for)."""
        for counts in self.summary.iterations:
            if counts.iteration == number:
                return counts
        counts = IterationCounts(iteration=number)
        self.summary.iterations.append(counts)
        return counts

    def start_iteration(self, number: int, seed_samples: int) -> None:
        """Iteration ``number`` starts with ``seed_samples``; the run's total grows by them."""
        counts = self.iteration(number)
        self.summary.seed_samples += seed_samples - counts.seed_samples
        counts.seed_samples = seed_samples

    def iteration_kept(self, number: int, accepted: int, kept: int) -> None:
        """The near-duplicate pass of iteration ``number`` kept ``kept`` of ``accepted``."""
        counts = self.iteration(number)
        counts.kept_after_dedup = kept
        counts.near_duplicates = accepted - kept

    def count(self, record: Record, resumed: bool) -> None:
        """Count one record (``resumed``: written by an earlier, interrupted run)."""
        s = self.summary
        if resumed:
            s.resumed_records += 1
            self.resumed_tokens += record.completion_tokens
        per_iteration = self.iteration(record.iteration)
        if record.status == "accepted":
            s.accepted += 1
            per_iteration.accepted += 1
        else:
            s.rejected += 1
            per_iteration.rejected += 1
            kind = reason_kind(record.reason)
            s.rejection_reasons[kind] = s.rejection_reasons.get(kind, 0) + 1
        s.adjudicated += record.adjudication is not None or record.human is not None
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


def accepted_records(run_dir: RunDir, seed_range: range | None = None) -> list[Record]:
    """The accepted records (of the seeds in ``seed_range``, an iteration's run-wide seed
    indices; all when ``None``), streamed from the journal, in (seed, sample) order."""
    return sorted(
        (
            Record.model_validate(row)
            for row in run_dir.journal_rows(run_dir.records_path)
            if row.get("status") == "accepted"
            and (seed_range is None or row.get("seed_index") in seed_range)
        ),
        key=lambda r: r.key,
    )


def records_with_keys(run_dir: RunDir, keys: Collection[tuple[int, int]]) -> list[Record]:
    """The records whose (seed, sample) key is in ``keys``, streamed, in key order."""
    wanted = set(keys)
    return sorted(
        (
            Record.model_validate(row)
            for row in run_dir.journal_rows(run_dir.records_path)
            if (row.get("seed_index"), row.get("sample_index")) in wanted
        ),
        key=lambda r: r.key,
    )


def near_duplicate_pass(
    config: GraphConfig, kept_before: Sequence[Record], candidates: Sequence[Record]
) -> tuple[list[Record], list[dict[str, Any]]]:
    """The near-duplicate filter (docs/method.md, section 7a) over one iteration's accepted
    ``candidates``, against everything earlier iterations kept (``kept_before``, which stays
    kept): returns the kept candidates, in their order, and one decision row per candidate in
    the order visited (what ``dedup.jsonl`` lists)."""
    if not (config.dedup.enabled and candidates):
        return list(candidates), []
    everything = [*kept_before, *candidates]
    decisions = near_duplicate_filter(
        [f"{r.instruction}\n{r.response}" for r in everything],
        [dedup_rank(r) for r in everything],
        config.dedup.threshold,
        embed=EMBEDDERS[config.dedup.embedder],
        fixed=len(kept_before),
    )
    rows = [
        {
            "iteration": everything[d.index].iteration,
            "seed_index": everything[d.index].seed_index,
            "sample_index": everything[d.index].sample_index,
            "kept": d.kept,
            "similarity": d.similarity,
            "nearest": (list(everything[d.nearest].key) if d.nearest is not None else None),
        }
        for d in decisions
    ]
    dropped = {d.index for d in decisions if not d.kept}
    kept = [r for i, r in enumerate(candidates, start=len(kept_before)) if i not in dropped]
    return kept, rows


def write_accepted(
    run_dir: RunDir,
    kept: Iterable[Record],
    decisions: Iterable[dict[str, Any]],
    row_format: str = "gra",
) -> None:
    """``dedup.jsonl`` (the near-duplicate decisions) and ``accepted.jsonl`` (the kept rows in
    ``row_format``), written in one rename each."""
    run_dir.replace_rows(run_dir.dedup_path, iter(decisions))
    to_row = ROW_FORMATS[row_format]
    run_dir.replace_rows(run_dir.accepted_path, (to_row(r) for r in kept))
