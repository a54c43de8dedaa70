"""Run each graph of an ablation on the same seeds and bench it on the same pairs.

Every graph gets its own run directory (``OUT/<name>/run``, resumable like ``gra run``) and
its bench result (``OUT/<name>/bench.json``). The judge-call cache is shared by all graphs
(``OUT/bench.cache.sqlite``): its keys carry the member, prompt, settings and seed of each
call, so graphs that judge alike (the same members, prompts and ``judging:``) reuse each
other's calls, and a killed ablation resumes where it stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gra_graph.bench.bench import BenchObserver, run_bench
from gra_graph.bench.pairs import BenchPair, read_pairs
from gra_graph.bench.settings import verifier_kind
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.evaluation.evaluate import evaluate_run
from gra_graph.llm.members import Members, check_member_models
from gra_graph.runner import Runner, RunObserver
from gra_graph.seeds import SeedFile, SeedOptions

RunProgress = Callable[[], RunObserver]
BenchProgress = Callable[[], BenchObserver]
MembersFor = Callable[[GraphConfig], Members]
"""Members for a graph instead of its model files (tests, served models)."""


@dataclass
class AblationRow:
    """What one graph of the ablation did on the shared seeds and pairs."""

    graph_file: str
    name: str
    seed_samples: int
    accepted: int
    acceptance_rate: float | None
    kept_after_dedup: int | None
    bench_setting: str | None
    """the bench setting that decides as the graph does (``committee``,
    ``committee+adjudicator``, or either with ``+verifiers``); ``None`` for a graph without
    reviewers"""
    auroc: float | None
    auroc_check_zero: float | None
    accuracy: float | None
    calls_per_accepted: float | None
    tokens_per_accepted: float | None
    model_seconds_per_accepted: float | None
    note: str = ""
    auroc_low: float | None = None
    auroc_high: float | None = None
    """the 95% bootstrap interval of ``auroc`` (the bench's ``auroc_ci``)"""


@dataclass
class AblationPlan:
    """The inputs every graph shares."""

    seeds: Path
    pairs: Path
    out: Path
    samples_per_seed: int = 1
    limit: int | None = None
    pairs_limit: int | None = None
    seed: int = 0
    concurrency: int = 4
    bench: bool = True
    cache: Path | None = None
    """the judge-call cache shared by every graph's bench (default ``OUT/bench.cache.sqlite``);
    a ``gra bench-review`` cache may be given, and its calls are reused"""
    seed_options: SeedOptions | None = None
    """how the seeds' columns become seed fields (``--map``, ``--domain-map``, ``--split``)"""

    @property
    def cache_path(self) -> Path:
        return self.cache or self.out / "bench.cache.sqlite"


def graph_dir_name(config: GraphConfig, path: Path, taken: set[str]) -> str:
    """A folder name for one graph's outputs: its ``name``, made safe and unique."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", config.name).strip("-.") or path.stem
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def load_graphs(
    paths: Sequence[Path], *, check_models: bool = True
) -> list[tuple[Path, GraphConfig]]:
    """Every graph file, validated with its model files checked, before any work starts.

    Raises:
        GraphConfigError: a graph file is invalid or named twice.
        ModelFileError: a member's model file is missing or not a GGUF file.
    """
    if len({p.resolve() for p in paths}) != len(paths):
        raise GraphConfigError("gra ablate: a graph file is named twice")
    graphs = [(p, GraphConfig.from_file(p)) for p in paths]
    for _, config in graphs if check_models else ():
        check_member_models(config)
    return graphs


def bench_setting(config: GraphConfig) -> str | None:
    """The bench setting whose decisions are this graph's (``None`` with no reviewers)."""
    if config.committee_size == 0:
        return None
    if config.verifiers.enabled:
        return verifier_kind(config)
    return "committee+adjudicator" if config.model_adjudicates else "committee"


async def ablate(
    graph_files: Sequence[Path],
    plan: AblationPlan,
    *,
    on_graph: Callable[[str, str], None] = lambda name, what: None,
    run_progress: RunProgress | None = None,
    bench_progress: BenchProgress | None = None,
    members: MembersFor | None = None,
) -> list[AblationRow]:
    """Run and bench every graph of ``graph_files`` on ``plan``'s inputs, in order.

    ``on_graph(name, what)`` is told when a graph's run (``what`` = "run") or bench ("bench")
    starts. Progress observers are made per graph by ``run_progress``/``bench_progress``
    (a context manager observer is entered around its work). ``members`` gives each graph
    its members instead of loading its model files.

    Raises:
        GraphConfigError, ModelFileError: a graph file or model file is unusable (before any
            work starts).
        SeedFileError, PairsFileError: the seeds or pairs file is unusable (before any work).
    """
    graphs = load_graphs(graph_files, check_models=members is None)
    seeds = SeedFile.scan(plan.seeds, limit=plan.limit, options=plan.seed_options)
    pairs = read_pairs(plan.pairs, limit=plan.pairs_limit) if plan.bench else []
    plan.out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    rows = []
    for path, config in graphs:
        folder = plan.out / graph_dir_name(config, path, taken)
        given = members(config) if members else None
        on_graph(config.name, "run")
        await _run(config, seeds, folder / "run", plan, run_progress, given)
        bench = None
        if plan.bench and config.committee_size:
            on_graph(config.name, "bench")
            bench = await _bench(config, pairs, folder, plan, bench_progress, given)
        rows.append(_row(path, config, folder / "run", bench, pairs))
    return rows


async def _run(
    config: GraphConfig,
    seeds: SeedFile,
    out: Path,
    plan: AblationPlan,
    progress: RunProgress | None,
    members: Members | None,
) -> None:
    observer = progress() if progress else None
    runner = Runner(
        config,
        seeds,
        out,
        samples_per_seed=plan.samples_per_seed,
        concurrency=plan.concurrency,
        seed=plan.seed,
        members=members,
        observer=observer,
    )
    async with runner:
        with _entered(observer):
            async for _ in runner.records():
                pass


async def _bench(
    config: GraphConfig,
    pairs: list[BenchPair],
    folder: Path,
    plan: AblationPlan,
    progress: BenchProgress | None,
    members: Members | None,
) -> dict[str, Any]:
    observer = progress() if progress else None
    with _entered(observer):
        report = await run_bench(
            config,
            pairs,
            plan.cache_path,
            members=members,
            seed=plan.seed,
            observer=observer,
            pairs_file=str(plan.pairs),
        )
    found = report.as_json()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    return found


def _entered(observer: object) -> AbstractContextManager[object]:
    return observer if isinstance(observer, AbstractContextManager) else nullcontext()


def _row(
    path: Path,
    config: GraphConfig,
    run_dir: Path,
    bench: dict[str, Any] | None,
    pairs: list[BenchPair],
) -> AblationRow:
    evaluation = evaluate_run(run_dir, embedder=None)
    outcome = evaluation.outcome
    per = evaluation.cost_per_accepted
    setting_name = bench_setting(config)
    setting = next(
        (s for s in (bench or {}).get("settings", []) if s["name"] == setting_name), None
    )
    note = ""
    accuracy = setting["accuracy"] if setting else None
    if config.committee_size == 0 and pairs:
        # keeping everything ranks nothing (AUROC 0.5 by construction) and is right on the
        # sound pairs only
        accuracy = round(sum(p.pair.sound for p in pairs) / len(pairs), 3)
        note = "no reviewers: every pair kept, so no AUROC"
    return AblationRow(
        graph_file=str(path),
        name=config.name,
        seed_samples=outcome.seed_samples,
        accepted=outcome.accepted,
        acceptance_rate=outcome.acceptance_rate,
        kept_after_dedup=outcome.kept_after_dedup,
        bench_setting=setting_name if setting else None,
        auroc=setting["auroc"] if setting else None,
        auroc_check_zero=setting.get("auroc_check_zero") if setting else None,
        accuracy=accuracy,
        calls_per_accepted=per.total.calls if per else None,
        tokens_per_accepted=per.total.tokens if per else None,
        model_seconds_per_accepted=per.total.seconds if per else None,
        note=note,
        auroc_low=interval[0] if (interval := setting and setting.get("auroc_ci")) else None,
        auroc_high=interval[1] if interval else None,
    )


def rows_as_json(rows: Sequence[AblationRow]) -> list[dict[str, Any]]:
    """The rows as plain dicts, in order."""
    return [asdict(r) for r in rows]
