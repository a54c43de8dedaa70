"""``gra calibrate-check``: per-criterion instruction-check thresholds from labelled pairs.

The measuring is :mod:`gra_graph.bench.calibrate`; this module reads the arguments and shows
the result, so the main CLI module only registers the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gra_graph.terminal import safe

COMMAND = "calibrate-check"


def add_command(sub: argparse._SubParsersAction) -> None:
    """Register ``gra calibrate-check`` on the CLI's subparsers."""
    cal = sub.add_parser(
        COMMAND,
        help="measure per-criterion thresholds for the instruction check on labelled pairs",
        description="Check the instructions of labelled pairs (the bench-review PAIRS format) "
        "with every reviewer of the graph, reading each criterion's P(pass), and choose per "
        "criterion the highest threshold that still passes TARGET of the sound instructions. "
        "Prints the thresholds, how they split sound and defective instructions, and the "
        "judging lines to paste into the graph file. Calibrate on pairs you do not report "
        "on: --skip keeps the first N pairs (the ones a bench reports) out. Calls are cached "
        "as bench-review caches them.",
    )
    cal.add_argument("graph", type=Path, help="graph file, e.g. graphs/gra_qwen.yaml")
    cal.add_argument("--pairs", type=Path, required=True, help="labelled pairs JSONL file")
    cal.add_argument("--skip", type=int, default=0, metavar="N", help="leave out the first N pairs")
    cal.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use at most N pairs after --skip"
    )
    cal.add_argument(
        "--sound-limit",
        type=int,
        default=None,
        metavar="N",
        help="of those, use only the first N pairs whose instruction is sound; every pair with "
        "a defective instruction stays (they are few)",
    )
    cal.add_argument(
        "--target",
        type=float,
        default=0.9,
        metavar="P",
        help="share of sound instructions that must pass (default: 0.9)",
    )
    cal.add_argument(
        "--cache",
        type=Path,
        default=Path("bench-review.cache.sqlite"),
        metavar="FILE",
        help="SQLite file of judge calls, shared with bench-review (default: "
        "bench-review.cache.sqlite here)",
    )
    cal.add_argument("--json", type=Path, default=None, metavar="FILE", help="write JSON")
    cal.add_argument("--seed", type=int, default=0, metavar="S", help="fixes call seeds")
    cal.add_argument(
        "--concurrency", type=int, default=8, metavar="K", help="judge calls in flight (default: 8)"
    )
    cal.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Run ``gra calibrate-check``; user errors propagate to the CLI's handler."""
    return asyncio.run(_calibrate(args, console))


async def _calibrate(args: argparse.Namespace, console: Console) -> int:
    from gra_graph.bench.calibrate import calibrate_checks, limit_sound
    from gra_graph.bench.report import BenchProgress, interval_text
    from gra_graph.cli import (  # cli imports this module first
        _at_least_one,
        _pairs_window,
        _tables_console,
    )
    from gra_graph.config import GraphConfig, GraphConfigError
    from gra_graph.output import write_json_atomic

    _at_least_one(
        ("--limit", args.limit),
        ("--sound-limit", args.sound_limit),
        ("--concurrency", args.concurrency),
    )
    if not 0.0 < args.target <= 1.0:
        raise GraphConfigError(f"--target must be in (0, 1], got {args.target}")
    config = GraphConfig.from_file(args.graph)
    pairs = limit_sound(_pairs_window(args.pairs, args.skip, args.limit), args.sound_limit)
    console.print(
        f"checking the instructions of {len(pairs)} pairs with graph '{config.name}'; "
        f"cache {safe(args.cache)}",
        highlight=False,
    )
    progress = None if args.quiet else BenchProgress(console)
    with progress or contextlib.nullcontext():
        result = await calibrate_checks(
            config,
            pairs,
            args.cache,
            target=args.target,
            seed=args.seed,
            concurrency=args.concurrency,
            observer=progress,
        )
    table = Table(
        title=f"instruction check, calibrated on {result.sound} sound and "
        f"{result.defective} defective instructions"
    )
    for column in ("criterion", "threshold", "median P(pass), sound", "sound pass", "defect fail"):
        table.add_column(column)
    for criterion, row in result.by_criterion.items():
        table.add_row(
            criterion,
            *(
                _cell(row[k])
                for k in ("threshold", "median_sound", "sound_pass_rate", "defective_fail_rate")
            ),
        )
    table.add_row(
        "all together",
        "",
        "",
        _cell(result.sound_pass_rate),
        _cell(result.defective_fail_rate),
    )
    out = _tables_console()
    out.print(table)
    current = config.judging.criterion_thresholds
    console.print(
        f"at the graph's thresholds {current}: sound pass {_cell(result.unchanged_sound_pass_rate)}"
        f", defect fail {_cell(result.unchanged_defective_fail_rate)}; AUROC of the check "
        f"(smallest margin, sound against defective) {_cell(result.unchanged_auroc)}"
        + (f", 95% CI {interval_text(ci)}" if (ci := result.unchanged_auroc_ci) else ""),
        highlight=False,
    )
    out.print(result.yaml_snippet(), highlight=False, markup=False)
    console.print(
        f"judge calls: {result.new_calls} new, {result.cached_calls} from the cache",
        highlight=False,
    )
    if args.json:
        write_json_atomic(args.json, result.as_json())
        console.print(f"json: {safe(args.json)}", highlight=False)
    return 0


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
