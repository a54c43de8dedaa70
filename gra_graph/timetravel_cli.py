"""``gra inspect`` and ``gra rerun``: the command-line side of :mod:`gra_graph.timetravel`.

Kept apart from ``cli.py``, which only registers these parsers and hands the parsed
arguments here. Problems end in one line and exit 2, as everywhere in ``gra``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gra_graph.rundirs import ACCEPTED_FILE, FORKS_FILE, RECORDS_FILE, RunDir
from gra_graph.terminal import safe
from gra_graph.timetravel import (
    ROLE_OF_NODE,
    TimeTravelError,
    parse_settings,
    rerun_sample,
    sample_history,
)

EXIT_INPUT = 2  # as cli.EXIT_INPUT (cli imports this module, not the other way round)
COMMANDS = ("inspect", "rerun")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``inspect`` and ``rerun`` to the ``gra`` parser's subcommands."""
    inspect = sub.add_parser(
        "inspect",
        help="show a sample's checkpoint history: node, time and what changed",
        description="Show the checkpoints of one seed-sample: at each step the node(s) that "
        "ran, when, and the state keys they changed (short values). Needs the checkpoints of "
        "finished samples, which a run keeps only with checkpoints.prune_finished: false in "
        "its graph file. Reads only; works on a live run.",
    )
    inspect.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory")
    inspect.add_argument(
        "sample", metavar="SAMPLE", help="SEED/SAMPLE (3/0) or a thread id (3-0, 3-0.fork1)"
    )
    inspect.add_argument("--json", action="store_true", help="one JSON object per checkpoint")

    rerun = sub.add_parser(
        "rerun",
        help="fork a finished sample from a checkpoint and run the fork to its end",
        description="Fork SAMPLE from the checkpoint before NODE first ran, optionally with "
        "another member in NODE's role or changed settings, and run the fork to its end on "
        "the run's graph file. The fork's record, linked to its parent, is appended to "
        f"RUN_DIR/{FORKS_FILE}; {RECORDS_FILE} and {ACCEPTED_FILE} are never changed. Needs "
        "checkpoints.prune_finished: false in the run's graph file.",
    )
    rerun.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory")
    rerun.add_argument("sample", metavar="SAMPLE", help="SEED/SAMPLE (3/0) or a thread id (3-0)")
    rerun.add_argument(
        "--from",
        dest="node",
        required=True,
        metavar="NODE",
        help="the node to run again, e.g. score_response, decide, adjudicate",
    )
    rerun.add_argument(
        "--member",
        default=None,
        metavar="NAME|OLD=NEW",
        help=f"a member to play NODE's role instead (nodes with a role: {', '.join(ROLE_OF_NODE)}"
        "); OLD=NEW for one of several reviewers",
    )
    rerun.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a graph-file setting for the fork, e.g. thresholds.tau=7.5 (repeatable)",
    )
    rerun.add_argument(
        "--graph",
        type=Path,
        default=None,
        help="the run's graph file, if it moved or the run started from Python (same content)",
    )


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Run ``gra inspect`` or ``gra rerun``; a :class:`TimeTravelError` is one line, exit 2."""
    try:
        if args.command == "inspect":
            return _inspect(args)
        return _rerun(args, console)
    except TimeTravelError as exc:
        console.print(f"[red]error:[/] {safe(exc)}", highlight=False, soft_wrap=True)
        return EXIT_INPUT


def _inspect(args: argparse.Namespace) -> int:
    steps = asyncio.run(sample_history(args.run_dir, args.sample))
    if args.json:
        for step in steps:
            sys.stdout.write(json.dumps(step.as_dict()) + "\n")
        return 0
    table = Table(title=f"{safe(args.run_dir)} sample {safe(args.sample)}: checkpoints")
    for column in ("step", "time", "node", "changed"):
        table.add_column(column, overflow="fold")
    for step in steps:
        changed = "\n".join(safe(f"{key}: {value}") for key, value in step.changes.items())
        counts = Counter(step.nodes)  # a fan-out ran one task per reviewer
        nodes = ", ".join(f"{n} x{k}" if k > 1 else n for n, k in counts.items())
        table.add_row(str(step.step), step.created_at[11:23], safe(nodes), changed)
    out = Console(emoji=False) if sys.stdout.isatty() else Console(emoji=False, width=160)
    out.print(table)
    return 0


def _rerun(args: argparse.Namespace, console: Console) -> int:
    settings = parse_settings(args.settings)
    fork = asyncio.run(
        rerun_sample(
            args.run_dir,
            args.sample,
            args.node,
            member=args.member,
            settings=settings,
            graph=args.graph,
        )
    )
    how = [f"{old} -> {new}" for old, new in fork.member_swap.items()]
    how += [f"{key}={value}" for key, value in fork.settings.items()]
    console.print(
        f"fork {safe(fork.fork_thread)} of {safe(fork.parent.thread_id)} from {safe(args.node)}"
        + (f" ({safe(', '.join(how))})" if how else "")
        + f": {fork.status}: {safe(fork.reason)}\n"
        f"parent: {safe(fork.parent.status)}: {safe(fork.parent.reason)}\n"
        f"written to {safe(RunDir(args.run_dir).forks_path)} (the run's records and accepted "
        "rows are unchanged)",
        highlight=False,
        soft_wrap=True,
    )
    return 0
