"""The figures of one run, for ``gra stats`` and ``gra view``; and the sample filter.

Outcome counts and rates are :mod:`gra_graph.evaluation`'s (:class:`RecordTally`), so ``gra
stats`` and ``gra eval`` never disagree. Added here: abstentions per member, score summaries
and histograms per dimension, and completion tokens per second along the run.

Tokens/s "along the run" is one point per record, placed on the wall clock: the time its last
call finished (each call's ``finished_at`` stamp), in seconds since the run's first call
finished, so calls that ran at once share the axis and a stop before a resume shows as a gap.
Records written before calls were stamped carry only each call's own duration; when any record
read lacks stamps, every point is placed at model time instead, the records' call seconds added
up in finishing order (calls that ran at the same time count in full, as in ``gra eval``'s
cost), and the axis label says which (:attr:`RunStats.throughput_axis`). The overall tokens/s
is completion tokens over model seconds either way.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gra_graph.drawing import RunCounts
from gra_graph.evaluation.evaluate import Outcome, RecordTally
from gra_graph.evaluation.metrics import rate
from gra_graph.export import reason_kind
from gra_graph.rundirs import RunInfo
from gra_graph.state import Record
from gra_graph.viewer.records import RunRecords
from gra_graph.vocabulary import DOMAINS, SCORE_DIMENSIONS

SCORE_BINS = 11
"""Histogram bins of a 0-10 score: one per integer, an expected score goes to its nearest."""
WALL_CLOCK_AXIS = "wall-clock seconds since the first call"
"""The tokens/s plot's x axis when every record's calls carry ``finished_at`` stamps."""
MODEL_TIME_AXIS = "model seconds"
"""The tokens/s plot's x axis for records without stamps: the calls' seconds added up."""


@dataclass(frozen=True)
class Abstentions:
    """How often one member abstained when asked to judge (checks, scores, adjudications)."""

    member: str
    judgments: int
    abstained: int

    @property
    def rate(self) -> float | None:
        return rate(self.abstained, self.judgments)


@dataclass(frozen=True)
class ScoreSummary:
    """One score dimension over every review that scored it (all rounds)."""

    dimension: str
    count: int
    mean: float | None
    median: float | None
    low: float | None
    high: float | None
    histogram: tuple[int, ...]
    """counts of scores 0, 1, ..., 10"""

    @classmethod
    def of(cls, dimension: str, scores: list[float]) -> ScoreSummary:
        bins = [0] * SCORE_BINS
        for score in scores:
            bins[min(SCORE_BINS - 1, max(0, math.floor(score + 0.5)))] += 1
        return cls(
            dimension=dimension,
            count=len(scores),
            mean=round(statistics.fmean(scores), 3) if scores else None,
            median=statistics.median(scores) if scores else None,
            low=min(scores) if scores else None,
            high=max(scores) if scores else None,
            histogram=tuple(bins),
        )


@dataclass(frozen=True)
class ThroughputPoint:
    """One record's completion tokens per second, with when it finished on both clocks."""

    model_seconds: float
    """the model time the run had reached: call seconds added up, this record's included"""
    tokens_per_second: float
    finished_at: float | None = None
    """when the record's last call finished (Unix epoch seconds); None for an unstamped record"""


def finished_at(record: Record) -> float | None:
    """The wall-clock time ``record``'s last call finished; None when no call carries a stamp
    (a record written before calls were stamped, or one without calls)."""
    return max((c.finished_at for c in record.calls if c.finished_at is not None), default=None)


def first_call_at(records: Iterable[Record]) -> float | None:
    """The wall-clock time the earliest stamped call of ``records`` finished, if any."""
    stamps = [c.finished_at for r in records for c in r.calls if c.finished_at is not None]
    return min(stamps, default=None)


@dataclass
class RunStats:
    """Everything ``gra stats`` shows about one run."""

    run_dir: str
    info: RunInfo
    outcome: Outcome
    abstentions: list[Abstentions]
    scores: list[ScoreSummary]
    throughput: list[ThroughputPoint]
    completion_tokens: int
    model_seconds: float
    first_call_at: float | None
    """when the run's first call finished (Unix epoch seconds), the wall-clock axis's zero"""
    counts: RunCounts
    domains: list[str]
    members: list[str]
    reasons: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over model seconds, the whole run."""
        return self.completion_tokens / self.model_seconds if self.model_seconds > 0 else None

    @property
    def wall_clock(self) -> bool:
        """Whether the tokens/s plot is over wall-clock time: every point carries a stamp."""
        return (
            bool(self.throughput)
            and self.first_call_at is not None
            and all(p.finished_at is not None for p in self.throughput)
        )

    @property
    def throughput_axis(self) -> str:
        """The tokens/s plot's x axis label: wall-clock or model seconds."""
        return WALL_CLOCK_AXIS if self.wall_clock else MODEL_TIME_AXIS

    def throughput_series(self) -> list[tuple[float, float]]:
        """The tokens/s plot's (x, tokens/s) points, in x order: x is wall-clock seconds since
        the first call finished when :attr:`wall_clock`, else model seconds."""
        zero = self.first_call_at
        if not self.wall_clock or zero is None:
            return [(p.model_seconds, p.tokens_per_second) for p in self.throughput]
        return sorted(
            (round(p.finished_at - zero, 3), p.tokens_per_second)
            for p in self.throughput
            if p.finished_at is not None  # every one, when wall_clock
        )

    @property
    def rates(self) -> dict[str, float | None]:
        """The outcome rates, by what they are called in the tables."""
        o = self.outcome
        return {
            "acceptance": o.acceptance_rate,
            "adjudication": o.adjudication_rate,
            "revision": o.revision_rate,
            "instruction-check pass": o.check_pass_rate,
        }


def _judgments(record: Record) -> Iterable[tuple[str, bool]]:
    """(member, abstained) for every check, review and adjudication of ``record``."""
    for check in record.checks:
        yield check.reviewer, check.abstained
    for review in record.reviews:
        yield review.reviewer, review.abstained
    if record.adjudication is not None:
        yield record.adjudication.adjudicator, record.adjudication.abstained


def members_of(record: Record) -> set[str]:
    """Every member that took part in ``record``: its roles and whoever was called."""
    names = set(record.models) | {c.member for c in record.calls}
    if record.roles is not None:
        r = record.roles
        names |= {r.generator, *r.reviewers, r.enricher}
        if r.adjudicator and record.adjudication is not None:
            names.add(r.adjudicator)
    return names


def _ordered(names: Iterable[str], first: Iterable[str]) -> list[str]:
    """``names`` with the known ones first in their order, then the rest sorted."""
    names = set(names)
    known = [n for n in first if n in names]
    return known + sorted(names - set(known))


def compute_stats(records: RunRecords) -> RunStats:
    """The figures over the records read so far (refresh ``records`` first for new ones).

    Raises:
        RunInfoError: the directory is not a readable run directory.
    """
    run = records.run
    info = run.info()
    tally = RecordTally()
    counts = RunCounts(run.path)
    judged: Counter[str] = Counter()
    abstained: Counter[str] = Counter()
    scores: dict[str, list[float]] = {}
    throughput: list[ThroughputPoint] = []
    tokens, seconds = 0, 0.0
    members: set[str] = set()
    for record in records.records:
        tally.add(record)
        counts.add(record.model_dump(mode="json"))
        for member, abstains in _judgments(record):
            judged[member] += 1
            abstained[member] += abstains
        for review in record.reviews:
            if not review.abstained:
                for dimension, score in review.scores.items():
                    scores.setdefault(dimension, []).append(float(score))
        members |= members_of(record)
        tokens += record.completion_tokens
        seconds += record.seconds
        if record.seconds > 0:
            throughput.append(
                ThroughputPoint(
                    round(seconds, 3),
                    record.completion_tokens / record.seconds,
                    finished_at(record),
                )
            )
    kept = (
        sum(1 for _ in run.journal_rows(run.accepted_path)) if run.accepted_path.is_file() else None
    )
    outcome = tally.outcome(info, kept)
    notes = []
    if records.unreadable:
        notes.append(f"{records.unreadable} journal row(s) are not records of this version")
    if records.duplicates:
        notes.append(f"{records.duplicates} duplicate record line(s) counted once")
    unstamped = sum(1 for p in throughput if p.finished_at is None)
    if 0 < unstamped < len(throughput):
        notes.append(
            f"{unstamped} of {len(throughput)} record(s) carry no wall-clock stamps (written "
            "before calls were stamped): tokens/s is plotted over model time"
        )
    if info.status != "complete":
        notes.append(f"status {info.status}: the figures cover the records written so far")
    return RunStats(
        run_dir=str(run.path),
        info=info,
        outcome=outcome,
        abstentions=[Abstentions(m, judged[m], abstained[m]) for m in _ordered(judged, ())],
        scores=[ScoreSummary.of(d, scores[d]) for d in _ordered(scores, SCORE_DIMENSIONS)],
        throughput=throughput,
        completion_tokens=tokens,
        model_seconds=round(seconds, 3),
        first_call_at=first_call_at(records.records),
        counts=counts,
        domains=_ordered((r.domain for r in records.records), DOMAINS),
        members=sorted(members),
        reasons=sorted(outcome.rejection_reasons),
        notes=notes,
    )


# ---- the sample filter


class FilterError(ValueError):
    """A filter value that cannot be used (a score bound that is not a number)."""


@dataclass(frozen=True)
class SampleFilter:
    """Which samples to show or export; an empty field matches everything.

    ``reason`` matches the kind of a rejection reason (its part before ":", as the summaries
    count it); ``min_score``/``max_score`` bound the final round's mean score, mu, and leave
    out samples that were never scored.
    """

    status: str = ""
    domain: str = ""
    member: str = ""
    reason: str = ""
    min_score: float | None = None
    max_score: float | None = None

    FIELDS = ("status", "domain", "member", "reason", "min_score", "max_score")

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> SampleFilter:
        """The filter a query string asks for.

        Raises:
            FilterError: a score bound is not a finite number.
        """

        def bound(name: str) -> float | None:
            text = str(query.get(name) or "").strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise FilterError(f"{name} must be a number, got {text!r}") from None
            if not math.isfinite(value):
                raise FilterError(f"{name} must be a finite number, got {text!r}")
            return value

        return cls(
            status=str(query.get("status") or "").strip(),
            domain=str(query.get("domain") or "").strip(),
            member=str(query.get("member") or "").strip(),
            reason=str(query.get("reason") or "").strip(),
            min_score=bound("min_score"),
            max_score=bound("max_score"),
        )

    def as_query(self) -> dict[str, str]:
        """The non-empty fields, for a link or a form."""
        values = {name: getattr(self, name) for name in self.FIELDS}
        return {
            k: ("" if v is None else f"{v:g}" if isinstance(v, float) else v)
            for k, v in values.items()
            if v not in ("", None)
        }

    def matches(self, record: Record) -> bool:
        if self.status and record.status != self.status:
            return False
        if self.domain and record.domain != self.domain:
            return False
        if self.member and self.member not in members_of(record):
            return False
        if self.reason and (
            record.status != "rejected" or reason_kind(record.reason) != self.reason
        ):
            return False
        if self.min_score is not None or self.max_score is not None:
            mu = record.mu
            if mu is None:
                return False
            if self.min_score is not None and mu < self.min_score:
                return False
            if self.max_score is not None and mu > self.max_score:
                return False
        return True

    def select(self, records: Iterable[Record]) -> list[Record]:
        """The records this filter keeps, in their order."""
        return [r for r in records if self.matches(r)]
