"""One run directory, evaluated: outcome rates, diversity, lengths, domains, agreement, cost.

Everything is read through :class:`gra_graph.rundirs.RunDir`: the records journal and the
annotations journal are streamed (a run still in progress can be evaluated; its torn last line
is skipped), and only the texts of the samples and the ratings are held. A record whose
(seed, sample) was seen before is a duplicate line and is counted once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gra_graph.config import Dedup, GraphConfig, GraphConfigError
from gra_graph.evaluation.agreement import Agreement, Level, RatingTable
from gra_graph.evaluation.cost import CostBreakdown, PerSampleBreakdown
from gra_graph.evaluation.diversity import (
    Embed,
    Lexical,
    Sample,
    Semantic,
    batched,
    lexical,
    semantic,
)
from gra_graph.evaluation.metrics import rate
from gra_graph.export import dedup_rank, reason_kind
from gra_graph.rundirs import ResumeRequest, RunDir, RunInfo, RunInfoError
from gra_graph.state import CallRecord, Record
from gra_graph.vocabulary import CHECK_CRITERIA, DOMAINS, SCORE_DIMENSIONS

LENGTH_UNIT = "words"
"""What lengths are counted in: words as :func:`gra_graph.evaluation.metrics.words` splits
them (runs of letters and digits), not model tokens, so runs on different models compare."""

COMPOSITE = "composite"
"""The agreement row over each review's mean score (the committee's mu is their mean)."""


class IterationOutcome(BaseModel):
    """One iteration's records and how many were accepted."""

    seed_samples: int
    accepted: int


class Outcome(BaseModel):
    """Counts and rates over the run's records (one per finished seed-sample)."""

    status: str
    expected: int
    """seed-samples known so far (:attr:`gra_graph.rundirs.RunInfo.total`: later iterations
    add the samples earlier ones kept)"""
    iterations: int
    """iterations planned (``--iterations``)"""
    seed_samples: int
    accepted: int
    rejected: int
    kept_after_dedup: int | None
    """rows in accepted.jsonl (written when a run ends; ``None`` before)"""
    adjudicated: int
    revised: int
    checked: int
    """seed-samples whose instruction the committee checked"""
    check_passed: int
    """of those, how many passed the check and went on to be scored"""
    abstentions: int
    acceptance_rate: float | None
    adjudication_rate: float | None
    revision_rate: float | None
    check_pass_rate: float | None
    rejection_reasons: dict[str, int]
    by_iteration: dict[int, IterationOutcome]
    """seed-samples and acceptances of each iteration that has records"""


class TextFigures(BaseModel):
    """Diversity and lengths of one set of samples."""

    samples: int
    lexical: Lexical
    semantic: Semantic


class DomainCount(BaseModel):
    accepted: int
    all: int


class RunEvaluation(BaseModel):
    """Everything ``gra eval`` reports about one run (also its ``--json`` form)."""

    run_dir: str
    graph: str
    length_unit: str = LENGTH_UNIT
    outcome: Outcome
    accepted: TextFigures
    """samples the committee (or adjudicator) accepted, before the near-duplicate pass"""
    generated: TextFigures
    """every sample that has an instruction and a response, accepted or not"""
    domains: dict[str, DomainCount]
    score_agreement: dict[str, Agreement]
    """Krippendorff's alpha (interval) per score dimension, and over the composite; a unit
    is one response in one round, its raters the reviewers that scored it"""
    check_agreement: dict[str, Agreement]
    """Krippendorff's alpha (nominal) per instruction-check criterion; a unit is one
    seed-sample's instruction"""
    cost: CostBreakdown
    cost_per_accepted: PerSampleBreakdown | None
    notes: list[str]


class RecordTally:
    """What the records add up to, collected as they stream by."""

    def __init__(self) -> None:
        self.records = 0
        self.duplicates = 0
        self.unreadable = 0
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.domains_all: Counter[str] = Counter()
        self.domains_accepted: Counter[str] = Counter()
        self.iteration_records: Counter[int] = Counter()
        self.iteration_accepted: Counter[int] = Counter()
        self.accepted: list[Sample] = []
        self.generated: list[Sample] = []
        # the method's names are always reported, with why alpha is undefined where it is
        self.scores = {d: RatingTable() for d in (*SCORE_DIMENSIONS, COMPOSITE)}
        self.checks = {c: RatingTable() for c in CHECK_CRITERIA}
        self.cost = CostBreakdown()

    @classmethod
    def read(cls, run_dir: RunDir) -> RecordTally:
        """Stream the run's records (each (seed, sample) once) and its annotation calls."""
        tally = cls()
        seen: set[tuple[int, int]] = set()
        for row in run_dir.journal_rows(run_dir.records_path):
            try:
                record = Record.model_validate(row)
            except ValidationError:
                tally.unreadable += 1
                continue
            if record.key in seen:
                tally.duplicates += 1
                continue
            seen.add(record.key)
            tally.add(record)
        for row in run_dir.journal_rows(run_dir.annotations_path):
            try:
                tally.cost.add([CallRecord.model_validate(row.get("call"))])
            except ValidationError:
                tally.unreadable += 1
        return tally

    def outcome(self, info: RunInfo, kept: int | None) -> Outcome:
        """The counts and their rates."""
        c = self.counts
        return Outcome(
            status=info.status,
            expected=info.total,
            iterations=info.iterations,
            seed_samples=self.records,
            accepted=c["accepted"],
            rejected=c["rejected"],
            kept_after_dedup=kept,
            adjudicated=c["adjudicated"],
            revised=c["revised"],
            checked=c["checked"],
            check_passed=c["check_passed"],
            abstentions=c["abstentions"],
            acceptance_rate=_round(rate(c["accepted"], self.records)),
            adjudication_rate=_round(rate(c["adjudicated"], self.records)),
            revision_rate=_round(rate(c["revised"], self.records)),
            check_pass_rate=_round(rate(c["check_passed"], c["checked"])),
            rejection_reasons=dict(self.reasons.most_common()),
            by_iteration={
                i: IterationOutcome(
                    seed_samples=self.iteration_records[i], accepted=self.iteration_accepted[i]
                )
                for i in sorted(self.iteration_records)
            },
        )

    def add(self, record: Record) -> None:
        self.records += 1
        accepted = record.status == "accepted"
        self.counts["accepted" if accepted else "rejected"] += 1
        self.iteration_records[record.iteration] += 1
        self.iteration_accepted[record.iteration] += accepted
        if not accepted:
            self.reasons[reason_kind(record.reason)] += 1
        self.counts["adjudicated"] += record.adjudication is not None
        self.counts["revised"] += bool(record.revisions)
        self.counts["checked"] += bool(record.checks)
        self.counts["check_passed"] += bool(record.checks) and bool(record.reviews)
        self.counts["abstentions"] += sum(c.abstained for c in record.checks)
        self.counts["abstentions"] += sum(r.abstained for r in record.reviews)
        self.counts["abstentions"] += bool(record.adjudication and record.adjudication.abstained)
        self.domains_all[record.domain] += 1
        self.cost.add(record.calls)
        if record.instruction and record.response:
            sample = Sample(
                instruction=record.instruction, response=record.response, rank=dedup_rank(record)
            )
            self.generated.append(sample)
            if accepted:
                self.accepted.append(sample)
        if accepted:
            self.domains_accepted[record.domain] += 1
        self._ratings(record)

    def _ratings(self, record: Record) -> None:
        for review in record.reviews:
            if review.abstained or not review.scores:
                continue  # an abstention is a missing value, never a score
            unit = (*record.key, review.round)
            for dimension, score in review.scores.items():
                self.scores.setdefault(dimension, RatingTable()).add(unit, review.reviewer, score)
            composite = review.composite
            if composite is not None:
                table = self.scores.setdefault(COMPOSITE, RatingTable())
                table.add(unit, review.reviewer, composite)
        for check in record.checks:
            if check.abstained:
                continue
            for criterion, passed in check.criteria.items():
                table = self.checks.setdefault(criterion, RatingTable())
                table.add(record.key, check.reviewer, float(passed))


def dedup_threshold(
    run_dir: RunDir, manifest: dict[str, Any], override: float | None
) -> tuple[float, str]:
    """The near-duplicate threshold to evaluate at, and where it came from.

    ``override`` if given; else the run's graph file, when run.json names it (runs started
    from the command line) and it still has the settings the run was started with (the same
    fingerprint); else the default.
    """
    if override is not None:
        return override, "given with --threshold"
    default = Dedup().threshold
    try:
        request = ResumeRequest.model_validate(manifest.get("command"))
    except ValidationError:
        return default, "the default (run.json names no graph file: started from the Python API)"
    try:
        config = GraphConfig.from_file(request.graph)
    except GraphConfigError as exc:
        return default, f"the default (the run's graph file is unusable now: {exc})"
    if request.engine:  # the run's fingerprint was taken with its engine in place
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": request.engine})}
        )
    if config.fingerprint() != manifest.get("graph_fingerprint"):
        return default, f"the default (the graph file {request.graph} changed since the run)"
    return config.dedup.threshold, f"the run's graph file {request.graph}"


def _ordered(
    tables: dict[str, RatingTable], known: tuple[str, ...], level: Level
) -> dict[str, Agreement]:
    """Alpha per table: the method's names in their order first, then any others by name."""
    names = [n for n in known if n in tables] + sorted(n for n in tables if n not in known)
    return {n: tables[n].alpha(level) for n in names}


def _texts(
    samples: list[Sample], embed: Embed | None, threshold: float, unavailable: str
) -> TextFigures:
    if embed is None or not samples:
        figures = Semantic(unavailable=unavailable or "no samples", threshold=threshold)
    else:
        vectors = batched(embed, [f"{s.instruction}\n{s.response}" for s in samples])
        figures = semantic(samples, vectors, threshold)
    return TextFigures(samples=len(samples), lexical=lexical(samples), semantic=figures)


def minilm_embedder() -> tuple[Embed | None, str]:
    """The MiniLM embedder, or ``None`` and the one-line reason it cannot be loaded."""
    from gra_graph.minilm import EmbedderUnavailable, load_minilm

    try:
        model = load_minilm()
    except EmbedderUnavailable as exc:
        return None, f"unavailable: {exc}"
    except (ImportError, OSError, ValueError) as exc:  # its weights or libraries are broken
        return None, f"unavailable: the MiniLM embedder did not load ({type(exc).__name__}: {exc})"
    return model.encode, ""


def evaluate_run(
    path: str | Path,
    threshold: float | None = None,
    embedder: Callable[[], tuple[Embed | None, str]] | None = minilm_embedder,
) -> RunEvaluation:
    """Evaluate the run in ``path``.

    Args:
        path: a run directory (it may still be running).
        threshold: the near-duplicate threshold; default: the run's (see
            :func:`dedup_threshold`).
        embedder: returns an embedder and, when it has none, why; ``None`` skips the
            embedding figures.

    Raises:
        RunInfoError: ``path`` is not a readable run directory.
    """
    run_dir = RunDir(path)
    manifest = run_dir.manifest()
    notes: list[str] = []
    tally = RecordTally.read(run_dir)
    kept = (
        sum(1 for _ in run_dir.journal_rows(run_dir.accepted_path))
        if run_dir.accepted_path.is_file()
        else None
    )
    if tally.unreadable:
        notes.append(f"{tally.unreadable} journal row(s) are not records of this version: skipped")
    if tally.duplicates:
        notes.append(f"{tally.duplicates} duplicate record line(s) counted once")
    limit, source = dedup_threshold(run_dir, manifest, threshold)
    notes.append(f"near-duplicate threshold {limit}: {source}")
    embed, unavailable = embedder() if embedder else (None, "skipped: --no-embeddings")
    if unavailable:
        notes.append(f"embedding figures {unavailable}")
    try:
        info = run_dir.info()  # status, and the seed-samples known (iterations add some)
    except RunInfoError:
        raise
    except (TypeError, ValueError) as exc:  # a wrong type in run.json
        raise RunInfoError(f"{run_dir.run_file} is damaged: {exc}") from None
    if info.status != "complete":
        notes.append(f"status {info.status}: the figures cover the records written so far")
    outcome = tally.outcome(info, kept)
    domains = [d for d in DOMAINS if d in tally.domains_all]
    domains += sorted(d for d in tally.domains_all if d not in DOMAINS)
    return RunEvaluation(
        run_dir=str(run_dir.path),
        graph=str(manifest.get("graph", "?")),
        outcome=outcome,
        accepted=_texts(tally.accepted, embed, limit, unavailable),
        generated=_texts(tally.generated, embed, limit, unavailable),
        domains={
            d: DomainCount(accepted=tally.domains_accepted[d], all=tally.domains_all[d])
            for d in domains
        },
        score_agreement=_ordered(tally.scores, (*SCORE_DIMENSIONS, COMPOSITE), "interval"),
        check_agreement=_ordered(tally.checks, CHECK_CRITERIA, "nominal"),
        cost=tally.cost.ordered(),
        cost_per_accepted=tally.cost.ordered().per(outcome.accepted),
        notes=notes,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
