"""The bench itself: judge every pair with every reviewer, then decide it in every setting.

Each reviewer-eligible member checks and scores every pair once; the settings share those
calls (a member's review of a pair is the same call whether it sits alone or on a committee).
Committees are drawn per pair exactly as a run draws a sample's roles
(:func:`~gra_graph.roles.draw_roles` with the pair's index as seed index and sample 0), so the
committee's members come from the same calls. Conflicts the committee cannot settle are sent
to the drawn adjudicator in a second wave. A graph with executable verifiers has each pair of a
verified domain verified in the first wave, by members drawn as a run draws them
(:func:`~gra_graph.nodes.verify.verifier_members`), for one more setting: the committee the
graph runs, with the verifier's verdict. Everything goes through
:class:`~gra_graph.bench.judge.Judge`, so a re-run makes only the calls not yet cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gra_graph.bench.cache import JudgeCache
from gra_graph.bench.judge import Judge, Judged
from gra_graph.bench.pairs import BenchPair
from gra_graph.bench.settings import (
    ScoreView,
    SettingKind,
    as_sampled,
    as_sampled_adjudication,
    decide,
    decide_verified,
    needs_adjudication,
    verifier_kind,
    with_vote,
)
from gra_graph.bench.summary import SettingResult, compare_to_best_single, summarize
from gra_graph.config import GraphConfig, GraphConfigError, Role
from gra_graph.context import GraContext
from gra_graph.llm.faults import with_faults
from gra_graph.llm.members import (
    MemberHandle,
    Members,
    MemberSource,
    check_member_models,
    load_members,
)
from gra_graph.nodes.verify import verifier_calls, verifier_members
from gra_graph.roles import draw_roles, eligible, sample_rng
from gra_graph.state import (
    Adjudication,
    CallRecord,
    GraState,
    InstructionCheck,
    Review,
    RoleDraw,
    Verification,
)


class BenchObserver:
    """Hooks for a progress display; every method is optional."""

    def on_planned(self, calls: int) -> None:
        """``calls`` more judge calls are about to be asked for (cached or not)."""

    def on_call(self, cached: bool) -> None:
        """One judge call was answered, from the cache or by its member."""


@dataclass
class BenchReport:
    """Everything the bench found, ready for JSON (:meth:`as_json`) and tables."""

    graph: str
    pairs_file: str
    seed: int
    config: GraphConfig
    settings: list[dict[str, Any]]
    skipped: list[str]
    per_pair: list[dict[str, Any]]
    cache: str
    new_calls: int = 0
    cached_calls: int = 0
    wall_seconds: float = 0.0
    members: list[str] = field(default_factory=list)
    committee_vs_best_single: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        t = self.config.thresholds
        return {
            "graph": self.graph,
            "pairs_file": self.pairs_file,
            "pairs": len(self.per_pair),
            "seed": self.seed,
            "members": self.members,
            "committee_size": self.config.committee_size,
            "thresholds": {
                "tau": t.tau,
                "delta": t.delta,
                "min_valid_reviews": t.min_valid_reviews,
            },
            "calls": {
                "total": self.new_calls + self.cached_calls,
                "new": self.new_calls,
                "cached": self.cached_calls,
            },
            "wall_seconds": round(self.wall_seconds, 2),
            "cache": self.cache,
            "settings": self.settings,
            "committee_vs_best_single": self.committee_vs_best_single,
            "skipped": self.skipped,
            "per_pair": self.per_pair,
        }


class LoadOnFirstCall:
    """Loads every member (as a run does, faults included) when the first call not in the
    cache needs one, so a bench answered wholly from its cache loads no model at all."""

    def __init__(self, config: GraphConfig) -> None:
        self._config = config
        self._lock = asyncio.Lock()
        self._loaded: Members | None = None
        self._handles: Mapping[str, MemberHandle] = {}

    async def resolve(self, name: str) -> MemberHandle:
        async with self._lock:
            if self._loaded is None:
                self._loaded = await asyncio.to_thread(load_members, self._config)
                self._handles = with_faults(self._loaded, self._config)
        return self._handles[name]

    def close(self) -> None:
        if self._loaded is not None:
            self._loaded.close()


@contextmanager
def open_judge(
    config: GraphConfig,
    cache_path: str | Path,
    members: Mapping[str, MemberHandle] | None,
    seed: int,
    concurrency: int,
    observer: BenchObserver,
) -> Iterator[Judge]:
    """A :class:`Judge` of ``config``'s members over the call cache at ``cache_path``.

    ``members`` are loaded from the graph file when not given (tests pass scripted ones), and
    only once a call is not found in the cache; a missing model file fails at once.
    """
    source: MemberSource
    if members is None:
        check_member_models(config)  # a missing file fails now, not at the first uncached call
        source = LoadOnFirstCall(config)
    else:
        source = Members.from_handles(with_faults(members, config))
    try:
        ctx = GraContext.create(config, source, seed)
        with JudgeCache(cache_path) as cache:
            yield Judge(ctx, cache, concurrency=concurrency, on_call=observer.on_call)
    finally:
        if isinstance(source, LoadOnFirstCall):
            source.close()


def restrict_members(config: GraphConfig, names: Sequence[str]) -> GraphConfig:
    """The graph with only the members named (``--members``), in graph-file order.

    The result is not validated as a graph file: it may be too small for a committee, which the
    bench then reports as skipped instead of refusing the single-member settings.

    Raises:
        GraphConfigError: a name is not a member of the graph.
    """
    known = [m.name for m in config.members]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GraphConfigError(
            f"--members: no member {unknown} in graph '{config.name}'; its members are {known}"
        )
    keep = tuple(m for m in config.members if m.name in set(names))
    return config.model_copy(update={"members": keep})


def with_verifiers(config: GraphConfig, mode: Literal["veto", "vote", "off"]) -> GraphConfig:
    """The graph with its verifiers in ``mode`` (on, in the graph's domains) or ``off``
    (``--verifiers``)."""
    if mode == "off":
        update: dict[str, Any] = {"enabled": False}
    else:
        update = {"enabled": True, "mode": mode}
    return config.model_copy(update={"verifiers": config.verifiers.model_copy(update=update)})


def _draws(
    config: GraphConfig, pairs: Sequence[BenchPair], seed: int
) -> tuple[dict[str, RoleDraw], str | None]:
    """Each pair's role draw as a run would make it, or why no committee can be drawn."""
    try:
        draws = {p.id: draw_roles(config, sample_rng(seed, p.index, 0, "roles")) for p in pairs}
    except ValueError as exc:
        return {}, f"committee settings skipped: {exc}"
    return draws, None


async def run_bench(
    config: GraphConfig,
    pairs: Sequence[BenchPair],
    cache_path: str | Path,
    *,
    members: Mapping[str, MemberHandle] | None = None,
    seed: int = 0,
    concurrency: int = 8,
    observer: BenchObserver | None = None,
    pairs_file: str = "",
) -> BenchReport:
    """Judge ``pairs`` with ``config``'s reviewers in every setting; see the module docstring.

    ``members`` are loaded from the graph file when not given (tests pass scripted ones), and
    only once a call is not found in the cache.

    Raises:
        GraphConfigError: the graph has no reviewer, or its prompts are invalid.
        ModelFileError, ModelLoadError: a member's model cannot be loaded.
        BenchCacheError: the cache file cannot be used.
    """
    observer = observer or BenchObserver()
    reviewers = eligible(config, Role.REVIEWER)
    if not reviewers:
        raise GraphConfigError(f"graph '{config.name}': no member may review")
    draws, skipped_committee = _draws(config, pairs, seed)
    skipped = [skipped_committee] if skipped_committee else []
    if draws and not config.model_adjudicates:
        skipped.append("committee+adjudicator skipped: the graph has no model adjudication")
    started = time.perf_counter()
    with open_judge(config, cache_path, members, seed, concurrency, observer) as judge:
        results, verifications = await _judge_all(judge, config, pairs, reviewers, draws, observer)
        report = BenchReport(
            graph=config.name,
            pairs_file=pairs_file,
            seed=seed,
            config=config,
            settings=[summarize(r, pairs, config) for r in results],
            skipped=skipped,
            per_pair=_per_pair(pairs, draws, results, verifications),
            committee_vs_best_single=compare_to_best_single(results, pairs),
            cache=str(cache_path),
            new_calls=judge.new_calls,
            cached_calls=judge.cached_calls,
            members=[m.name for m in config.members],
        )
    report.wall_seconds = time.perf_counter() - started
    return report


@dataclass
class _Judgements:
    """What the first wave found: every reviewer's check and review of every pair, keyed by
    (member, pair id), and the verification of each pair of a verified domain."""

    checks: dict[tuple[str, str], Judged[InstructionCheck]]
    reviews: dict[tuple[str, str], Judged[Review]]
    verifications: dict[str, Judged[Verification]]

    @property
    def views(self) -> list[ScoreView]:
        """How scores are read: as the graph reads them, and as written when that differs."""
        expected = any(r.value.scoring == "expected" for r in self.reviews.values())
        return ["graph", "sampled"] if expected else ["graph"]

    def checks_of(self, names: Sequence[str], p: BenchPair) -> list[InstructionCheck]:
        return [self.checks[n, p.id].value for n in names]

    def reviews_of(self, names: Sequence[str], p: BenchPair, view: ScoreView) -> list[Review]:
        found = [self.reviews[n, p.id].value for n in names]
        return [as_sampled(r) for r in found] if view == "sampled" else found

    def calls_of(self, names: Sequence[str], p: BenchPair) -> list[CallRecord]:
        return [c for n in names for c in self.checks[n, p.id].calls + self.reviews[n, p.id].calls]

    def verification_of(self, p: BenchPair) -> Verification | None:
        found = self.verifications.get(p.id)
        return None if found is None else found.value

    def record(self, setting: SettingResult, names: Sequence[str], p: BenchPair) -> None:
        """Keep ``names``' checks, reviews (as the graph reads them) and calls on ``p``."""
        checks, reviews = self.checks_of(names, p), self.reviews_of(names, p, "graph")
        setting.record(p.id, checks, reviews, self.calls_of(names, p))


async def _judge_all(
    judge: Judge,
    config: GraphConfig,
    pairs: Sequence[BenchPair],
    reviewers: list[str],
    draws: dict[str, RoleDraw],
    observer: BenchObserver,
) -> tuple[list[SettingResult], dict[str, Verification]]:
    """Wave 1: every reviewer checks and scores every pair, and the verifiers check the pairs of
    their domains. Wave 2: adjudicate conflicts. Returns the settings and the verifications, by
    pair id.

    Each setting is decided with the scores as the graph reads them and, when it reads them
    ``expected``, again with the integers the same calls wrote (``sampled``); a pair that
    conflicts either way is adjudicated once, and that call serves both.
    """
    found = await _first_wave(judge, pairs, draws, observer)
    verifications = {pair_id: v.value for pair_id, v in found.verifications.items()}
    results = [_single(found, config, pairs, m) for m in reviewers]
    if not draws:
        return results, verifications
    results.append(_committee(found, config, pairs, draws))
    adjudicated: dict[str, Judged[Adjudication]] = {}
    if config.model_adjudicates:  # a person's adjudication is not benched
        conflicts = [p for p in pairs if _conflicts(found, config, p, draws[p.id].reviewers)]
        adjudicated = await _adjudicate(judge, found, conflicts, draws, observer)
        results.append(_committee(found, config, pairs, draws, adjudicated))
    if config.verifiers.enabled:
        results.append(_committee(found, config, pairs, draws, adjudicated, verified=True))
    return results, verifications


async def _first_wave(
    judge: Judge, pairs: Sequence[BenchPair], draws: dict[str, RoleDraw], observer: BenchObserver
) -> _Judgements:
    """Every reviewer's check and review of every pair, and the verifications, concurrently."""
    config = judge.ctx.config
    reviewers = eligible(config, Role.REVIEWER)
    jobs = [(m, p) for p in pairs for m in reviewers]
    verified = [p for p in pairs if p.id in draws and config.verifiers.applies(p.pair.domain)]
    observer.on_planned(2 * len(jobs) + len(verified))
    answers, verifications = await asyncio.gather(
        asyncio.gather(
            *(judge.check(m, p) for m, p in jobs), *(judge.score(m, p) for m, p in jobs)
        ),
        asyncio.gather(*(_verify(judge, p, draws[p.id]) for p in verified)),
    )
    found = _Judgements({}, {}, dict(zip((p.id for p in verified), verifications, strict=True)))
    for (m, p), check, review in zip(jobs, answers[: len(jobs)], answers[len(jobs) :], strict=True):
        found.checks[m, p.id] = check  # type: ignore[assignment]
        found.reviews[m, p.id] = review  # type: ignore[assignment]
    return found


async def _verify(judge: Judge, p: BenchPair, draw: RoleDraw) -> Judged[Verification]:
    """The pair's verification, by the members a run would draw for it (never the Generator
    its roles drew, as in a run)."""
    config = judge.ctx.config
    pair = p.pair
    count = verifier_calls(pair.domain, pair.instruction, pair.response, config.verifiers)
    state: GraState = {"roles": draw.model_dump(), "seed_index": p.index, "sample_index": 0}
    return await judge.verify(verifier_members(config, judge.ctx.run_seed, state, count), p)


def _single(
    found: _Judgements, config: GraphConfig, pairs: Sequence[BenchPair], member: str
) -> SettingResult:
    single = SettingResult(f"single:{member}", "single", [member])
    for p in pairs:
        for view in found.views:
            single.outcome(view)[p.id] = decide(
                found.checks_of([member], p),
                found.reviews_of([member], p, view),
                config,
                kind="single",
            )
        found.record(single, [member], p)
    return single


def _conflicts(found: _Judgements, config: GraphConfig, p: BenchPair, names: list[str]) -> bool:
    """Whether the committee conflicts on ``p`` when its scores are read either way, with the
    verifier's vote too when the graph's verifiers vote (a vote can make a conflict)."""
    checks = found.checks_of(names, p)
    verification = found.verification_of(p)
    for view in found.views:
        reviews = found.reviews_of(names, p, view)
        voted = with_vote(reviews, verification, config)  # a vote only under vote, never a veto
        if needs_adjudication(checks, reviews, config) or (
            len(voted) > len(reviews) and needs_adjudication(checks, voted, config)
        ):
            return True
    return False


async def _adjudicate(
    judge: Judge,
    found: _Judgements,
    conflicts: Sequence[BenchPair],
    draws: dict[str, RoleDraw],
    observer: BenchObserver,
) -> dict[str, Judged[Adjudication]]:
    """The drawn adjudicator's call on each conflict, reading the reviewers' reviews as a run's
    adjudicator does (a verifier's vote is not a review it reads)."""
    observer.on_planned(len(conflicts))
    answers = await asyncio.gather(
        *(
            judge.adjudicate(
                draws[p.id].adjudicator or "",
                p,
                draws[p.id].reviewers,
                found.reviews_of(draws[p.id].reviewers, p, "graph"),
            )
            for p in conflicts
        )
    )
    return {p.id: a for p, a in zip(conflicts, answers, strict=True)}


def _committee(
    found: _Judgements,
    config: GraphConfig,
    pairs: Sequence[BenchPair],
    draws: dict[str, RoleDraw],
    adjudicated: dict[str, Judged[Adjudication]] | None = None,
    *,
    verified: bool = False,
) -> SettingResult:
    """The committee setting: without an adjudicator (``adjudicated`` is ``None``), with one,
    or (``verified``) as the graph runs it, with its verifier."""
    if verified:
        kind: SettingKind = verifier_kind(config)
    else:
        kind = "committee" if adjudicated is None else "committee+adjudicator"
    setting = SettingResult(kind, kind, sorted(eligible(config, Role.REVIEWER)))
    for p in pairs:
        names = draws[p.id].reviewers
        a = (adjudicated or {}).get(p.id)
        for view in found.views:
            adjudication = None
            if a is not None:
                adjudication = as_sampled_adjudication(a.value) if view == "sampled" else a.value
            checks, reviews = found.checks_of(names, p), found.reviews_of(names, p, view)
            if verified:
                setting.outcome(view)[p.id] = decide_verified(
                    checks, reviews, found.verification_of(p), config, adjudication=adjudication
                )
            else:
                setting.outcome(view)[p.id] = decide(
                    checks, reviews, config, kind=kind, adjudication=adjudication
                )
        found.record(setting, names, p)
        if verified and p.id in found.verifications:
            setting.calls += found.verifications[p.id].calls
        if a is not None and any(setting.outcome(v)[p.id].adjudicated for v in found.views):
            setting.calls += a.calls  # not for a pair a veto rejected, nor one only a vote split
    return setting


def _per_pair(
    pairs: Sequence[BenchPair],
    draws: dict[str, RoleDraw],
    results: list[SettingResult],
    verifications: dict[str, Verification],
) -> list[dict[str, Any]]:
    """One row per pair: its label, its committee, its verification (``null`` where none ran),
    and each setting's score and decision."""
    rows = []
    for p in pairs:
        draw = draws.get(p.id)
        v = verifications.get(p.id)
        rows.append(
            {
                "id": p.id,
                "line": p.line,
                "domain": p.pair.domain,
                "label": p.pair.label,
                "defect": p.pair.defect,
                "reviewers": draw.reviewers if draw else None,
                "adjudicator": draw.adjudicator if draw else None,
                "verification": None
                if v is None
                else {"outcome": v.outcome, "score": v.score, "reason": v.reason},
                "results": {
                    r.name: {
                        "score": None
                        if (o := r.outcomes[p.id]).score is None
                        else round(o.score, 4),
                        "accepted": o.accepted,
                        "check_failed": o.check_failed,
                        "undecided": o.undecided,
                        "adjudicated": o.adjudicated,
                        **{
                            f"score_{view}": None if (s := v[p.id].score) is None else round(s, 4)
                            for view, v in r.views.items()
                        },
                    }
                    for r in results
                },
            }
        )
    return rows
