"""The ``gra`` command: a thin shell over the runner and the graph."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.llm.bundled import BundledModelError
from gra_graph.llm.engine import ModelLoadError
from gra_graph.llm.gguf import ModelFileError
from gra_graph.rundirs import ResumeRequest, RunInfoError
from gra_graph.runner import RunDirectoryError, Runner, RunWriteError
from gra_graph.seeds import SeedFile, SeedFileError

EXIT_INPUT = 2
EXIT_INCOMPLETE = 3
EXIT_WRITE = 4
EXIT_INTERRUPTED = 130

USER_ERRORS = (
    GraphConfigError,
    SeedFileError,
    ModelFileError,
    ModelLoadError,
    BundledModelError,
    RunDirectoryError,
    RunInfoError,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gra",
        description="Synthesize instruction data with a peer-review committee of small local "
        "LLMs (GRA: Generator, Reviewers, Adjudicator).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run seeds through a graph file into an output directory (resumable)",
        description="Run seeds through a GRA graph. Writes OUT/records.jsonl (one provenance "
        "record per seed-sample) and OUT/accepted.jsonl (the kept rows). Interrupted? Run the "
        "same command again: finished seed-samples are kept, the rest resume from their last "
        "checkpoint.",
    )
    run.add_argument("graph", type=Path, help="graph file, e.g. graphs/gra.yaml")
    run.add_argument("--seeds", type=Path, required=True, help="seeds JSONL file")
    run.add_argument("--out", type=Path, required=True, help="run directory (created)")
    run.add_argument(
        "--samples-per-seed",
        type=int,
        default=1,
        metavar="N",
        help="new samples to synthesize from each seed (default: 1)",
    )
    run.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="K",
        help="seed-samples in flight at once (default: 4)",
    )
    run.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="run seed: fixes role draws, few-shot picks and sampling (default: 0)",
    )
    run.add_argument(
        "--limit", type=int, default=None, metavar="M", help="use only the first M seeds"
    )
    run.add_argument(
        "--engine",
        choices=["batched", "simple"],
        default=None,
        help="llama.cpp engine; overrides the graph file's engine.kind (default there: "
        "batched, which decodes concurrent calls together; simple runs one call at a time)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    resume = sub.add_parser(
        "resume",
        help="resume a run directory with the arguments it was started with",
        description="Resume the run in RUN_DIR without retyping its arguments: the graph file, "
        "seeds file and settings come from RUN_DIR/run.json. Refused if the graph file, its "
        "prompts or the seeds changed since the run started (their fingerprints are in "
        "run.json), or if a live process still runs in RUN_DIR. A complete run just prints "
        "its summary again.",
    )
    resume.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory")
    resume.add_argument(
        "--concurrency", type=int, default=None, metavar="K", help="change the concurrency"
    )
    resume.add_argument(
        "--graph", type=Path, default=None, help="the graph file, if it moved (same content)"
    )
    resume.add_argument(
        "--seeds", type=Path, default=None, help="the seeds file, if it moved (same content)"
    )
    resume.add_argument("--quiet", action="store_true", help="no progress bar")

    runs = sub.add_parser(
        "runs",
        help="list the runs under a directory with their status and progress",
        description="List every run directory under DIR (a subdirectory with run.json): "
        "status, seed-samples done/total, accepted by review, graph, start time and checkpoint "
        "database size. Status is running (a live process holds it), complete, incomplete "
        "(some seed-samples failed: resume it), interrupted (stopped with Ctrl-C) or crashed "
        "(killed without a chance to clean up: resume it).",
    )
    runs.add_argument(
        "dir",
        type=Path,
        metavar="DIR",
        nargs="?",
        default=Path("runs"),
        help="the directory holding run directories (default: runs)",
    )
    runs.add_argument("--json", action="store_true", help="one JSON object per run")

    check = sub.add_parser(
        "check", help="validate a graph file and its prompts and model files (and a seeds file)"
    )
    check.add_argument("graph", type=Path)
    check.add_argument(
        "--seeds", type=Path, default=None, help="also validate this seeds file (streamed)"
    )

    draw = sub.add_parser("draw", help="print the graph as Mermaid (default) or ASCII, offline")
    draw.add_argument("--format", choices=["mermaid", "ascii"], default="mermaid")

    bench = sub.add_parser(
        "bench-review",
        help="measure how well the graph's reviewers tell sound samples from defective ones",
        description="Judge labelled pairs (PAIRS: JSONL with instruction, response, domain, "
        "label sound|defective, defect) with the graph's review stages on its members: each "
        "member alone, the committee as the graph sets it, and the committee with its "
        "adjudicator. Reports AUROC of the score, accuracy of the accept/reject decision, "
        "abstentions, calls and seconds, per defect kind and per domain. Every judge call is "
        "cached in SQLite: run the same command again after a kill and only the missing calls "
        "are made.",
    )
    bench.add_argument("graph", type=Path, help="graph file, e.g. graphs/gra.yaml")
    bench.add_argument("--pairs", type=Path, required=True, help="labelled pairs JSONL file")
    bench.add_argument("--json", type=Path, default=None, metavar="FILE", help="write JSON")
    bench.add_argument(
        "--markdown", type=Path, default=None, metavar="FILE", help="write Markdown tables"
    )
    bench.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="FILE",
        help="SQLite file of judge calls (default: next to --json or --markdown, as "
        "NAME.cache.sqlite; else bench-review.cache.sqlite here)",
    )
    bench.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only the first N pairs"
    )
    bench.add_argument(
        "--members", default=None, metavar="A,B", help="bench only these members (comma-separated)"
    )
    bench.add_argument(
        "--seed", type=int, default=0, metavar="S", help="fixes committee draws and call seeds"
    )
    bench.add_argument(
        "--concurrency", type=int, default=8, metavar="K", help="judge calls in flight (default: 8)"
    )
    bench.add_argument("--engine", choices=["batched", "simple"], default=None)
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gra`` console script."""
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.command == "run":
            return asyncio.run(_run(args, console))
        if args.command == "resume":
            return _resume(args, console)
        if args.command == "runs":
            return _runs(args, console)
        if args.command == "check":
            return _check(args, console)
        if args.command == "bench-review":
            return asyncio.run(_bench_review(args, console))
        return _draw(args)
    except USER_ERRORS as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return EXIT_INPUT
    except RunWriteError as exc:  # a full disk mid-run: written records are intact, resumable
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_WRITE
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED


def _numbers_ok(args: argparse.Namespace) -> None:
    for flag, value in (
        ("--samples-per-seed", args.samples_per_seed),
        ("--concurrency", args.concurrency),
    ):
        if value < 1:
            raise GraphConfigError(f"{flag} must be at least 1, got {value}")
    if args.limit is not None and args.limit < 1:
        raise GraphConfigError(f"--limit must be at least 1, got {args.limit}")


async def _run(args: argparse.Namespace, console: Console) -> int:
    _numbers_ok(args)
    request = ResumeRequest(  # everything `gra resume` needs to start the same run again
        graph=str(args.graph.resolve()),
        seeds=str(args.seeds.resolve()),
        limit=args.limit,
        samples_per_seed=args.samples_per_seed,
        concurrency=args.concurrency,
        seed=args.seed,
        engine=args.engine,
    )
    return await _start(request, args.out, args.quiet, console)


async def _start(request: ResumeRequest, out: Path, quiet: bool, console: Console) -> int:
    """Run (or resume) what ``request`` describes into ``out``."""
    from gra_graph.progress import RichProgress, summary_table

    config = GraphConfig.from_file(request.graph)
    if request.engine:
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": request.engine})}
        )
    request = request.model_copy(update={"engine": config.engine.kind})
    # streams; fails before any model loads
    seeds = SeedFile.scan(Path(request.seeds), limit=request.limit)
    _warn_duplicates(console, seeds)
    progress = RichProgress(console)
    runner = Runner(
        config,
        seeds,
        out,
        samples_per_seed=request.samples_per_seed,
        concurrency=request.concurrency,
        seed=request.seed,
        observer=None if quiet else progress,
        command=request,
    )
    console.print(f"loading {len(config.members)} members of graph '{config.name}'...")
    async with runner:
        if quiet:
            async for _ in runner.records():
                pass
        else:
            with progress:
                async for _ in runner.records():
                    pass
    console.print(summary_table(runner.summary))
    console.print(f"records:  {runner.records_path}\naccepted: {runner.accepted_path}")
    if runner.paused:
        console.print(
            f"{len(runner.paused)} seed-sample(s) paused at an interrupt; run the same command "
            "again to resume them"
        )
    return 0 if runner.summary.complete else EXIT_INCOMPLETE


def _warn_duplicates(console: Console, seeds: SeedFile) -> None:
    if seeds.duplicates.count:
        text = escape(seeds.duplicates.message(seeds.path))
        console.print(f"[yellow]warning:[/] {text}", highlight=False)


def _resume(args: argparse.Namespace, console: Console) -> int:
    from gra_graph.rundirs import RunDir

    request = RunDir(args.run_dir).resume_request(
        concurrency=args.concurrency, graph=args.graph, seeds=args.seeds
    )
    console.print(
        f"resuming {escape(str(args.run_dir))}: graph {escape(request.graph)}, "
        f"seeds {escape(request.seeds)}",
        highlight=False,
    )
    if request.concurrency < 1:
        raise GraphConfigError(f"--concurrency must be at least 1, got {request.concurrency}")
    return asyncio.run(_start(request, args.run_dir, args.quiet, console))


def _runs(args: argparse.Namespace, console: Console) -> int:
    import json

    from rich.table import Table

    from gra_graph.rundirs import list_runs

    infos = list_runs(args.dir)
    if args.json:
        for info in infos:
            sys.stdout.write(json.dumps(info.as_dict()) + "\n")
        return 0
    if not infos:
        console.print(f"no runs under {args.dir}")
        return 0
    colours = {"complete": "green", "running": "cyan", "crashed": "red"}
    table = Table(title=f"runs under {args.dir}")
    for column in ("run", "status", "done", "accepted", "graph", "started", "checkpoints"):
        table.add_column(column, justify="right" if column in {"done", "accepted"} else "left")
    for info in infos:
        colour = colours.get(info.status, "yellow")
        status = f"[{colour}]{info.status}[/]" + (f" ({info.holder})" if info.holder else "")
        table.add_row(
            Path(info.path).name or info.path,
            status,
            f"{info.done}/{info.total}",
            str(info.accepted),
            info.graph,
            info.started,
            f"{info.checkpoint_bytes / 1e6:.1f} MB",
        )
    Console().print(table)
    return 0


def _check(args: argparse.Namespace, console: Console) -> int:
    from gra_graph.llm.members import check_member_models
    from gra_graph.prompts import load_prompts

    config = GraphConfig.from_file(args.graph)
    load_prompts(config)
    paths = check_member_models(config)
    console.print(
        f"{args.graph}: ok - {len(config.members)} members on "
        f"{len(set(paths.values()))} model file(s), committee of "
        f"{config.committee_size}, tau {config.thresholds.tau}, "
        f"delta {config.thresholds.delta}, revise rounds {config.revise.max_rounds}"
    )
    if args.seeds is not None:
        seeds = SeedFile.scan(args.seeds)
        console.print(f"{args.seeds}: ok - {len(seeds)} seeds", highlight=False)
        _warn_duplicates(console, seeds)
    return 0


async def _bench_review(args: argparse.Namespace, console: Console) -> int:
    """``gra bench-review``: the logic is :mod:`gra_graph.bench`; this reads the arguments."""
    import contextlib

    from gra_graph.bench.bench import restrict_members, run_bench
    from gra_graph.bench.cache import BenchCacheError
    from gra_graph.bench.pairs import PairsFileError, read_pairs
    from gra_graph.bench.report import BenchProgress, tables, write_json, write_markdown

    for flag, value in (("--limit", args.limit), ("--concurrency", args.concurrency)):
        if value is not None and value < 1:
            raise GraphConfigError(f"{flag} must be at least 1, got {value}")
    config = GraphConfig.from_file(args.graph)
    if args.engine:
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": args.engine})}
        )
    if args.members:
        config = restrict_members(config, [n.strip() for n in args.members.split(",") if n.strip()])
    try:
        pairs = read_pairs(args.pairs, limit=args.limit)
    except PairsFileError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_INPUT
    beside = args.json or args.markdown
    default_cache = Path("bench-review.cache.sqlite")
    cache = args.cache or (
        beside.with_name(f"{beside.stem}.cache.sqlite") if beside else default_cache
    )
    console.print(
        f"judging {len(pairs)} pairs with graph '{config.name}' "
        f"({len(config.members)} members); cache {escape(str(cache))}",
        highlight=False,
    )
    progress = None if args.quiet else BenchProgress(console)
    try:
        with progress or contextlib.nullcontext():
            report = await run_bench(
                config,
                pairs,
                cache,
                seed=args.seed,
                concurrency=args.concurrency,
                observer=progress,
                pairs_file=str(args.pairs),
            )
    except BenchCacheError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_INPUT
    # piped output has no terminal width to fit: keep whole setting names rather than 80 columns
    out = Console() if sys.stdout.isatty() else Console(width=160)
    for table in tables(report):
        out.print(table)
    for why in report.skipped:
        console.print(f"[yellow]note:[/] {escape(why)}", highlight=False)
    console.print(
        f"judge calls: {report.new_calls} new, {report.cached_calls} from the cache; "
        f"{report.wall_seconds:.1f} s",
        highlight=False,
    )
    if args.json:
        write_json(report, args.json)
        console.print(f"json: {escape(str(args.json))}", highlight=False)
    if args.markdown:
        write_markdown(report, args.markdown)
        console.print(f"markdown: {escape(str(args.markdown))}", highlight=False)
    return 0


def _draw(args: argparse.Namespace) -> int:
    from gra_graph.graph import build_graph

    drawable = build_graph().get_graph()
    sys.stdout.write(drawable.draw_ascii() if args.format == "ascii" else drawable.draw_mermaid())
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
