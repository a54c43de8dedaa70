"""``gra export``: the command-line side of :mod:`gra_graph.exports`.

Kept apart from ``cli.py``, which only registers this parser and hands the parsed arguments
here. Problems end in one line and exit 2 (nothing written), as everywhere in ``gra``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from gra_graph.exports.export import FORMATS, ExportResult, export_run
from gra_graph.exports.source import STATUSES
from gra_graph.exports.writers import ExportError
from gra_graph.terminal import safe

EXIT_INPUT = 2  # as cli.EXIT_INPUT (cli imports this module, not the other way round)
EXIT_PUSH = 5  # the dataset is written, but the upload to the Hub failed
COMMAND = "export"


def _path(text: str) -> Path:
    """An argparse type: a path, refused up front if it holds a NUL byte (as cli._path)."""
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: a path cannot contain a NUL byte")
    return Path(text)


def add_command(sub: argparse._SubParsersAction) -> None:
    """Add ``export`` to the ``gra`` parser's subcommands."""
    export = sub.add_parser(
        COMMAND,
        help="export a run's samples as a training dataset (JSONL, Parquet, datasets, chat "
        "formats, DPO pairs) with a dataset card",
        description="Write a run's records as a dataset: jsonl, parquet and hf (a datasets "
        "dataset saved with save_to_disk) hold GRA's five fields, a messages column and the "
        "metadata (status, scores, seed index, domain...); sharegpt, alpaca, chatml and openai "
        "are the usual fine-tuning JSONL shapes; dpo writes preference pairs (prompt, chosen, "
        "rejected) from revisions, people's edits and samples of one seed. A directory --out "
        "(the default) also gets a dataset card, README.md.",
    )
    export.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="a run directory")
    export.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    export.add_argument(
        "--out",
        type=_path,
        default=None,
        metavar="PATH",
        help="a directory for the data and its card (default: RUN_DIR-FORMAT beside the run), "
        "or a .jsonl / .parquet file for the data alone",
    )
    export.add_argument(
        "--status",
        choices=STATUSES,
        default="accepted",
        help="accepted: the rows of accepted.jsonl (accepted and kept by the near-duplicate "
        "filter; default); rejected: every other record; all: every record (dpo reads all)",
    )
    export.add_argument(
        "--seed-pairs",
        choices=("same", "any"),
        default="same",
        help="dpo: pair accepted and rejected samples of one seed only when they answer the "
        "same instruction (same, default), or always (any: the accepted instruction is the "
        "prompt)",
    )
    export.add_argument(
        "--min-margin",
        type=float,
        default=0.0,
        metavar="M",
        help="dpo: leave out a pair whose margin (chosen mu minus rejected mu, both scored) is "
        "below M (default 0: a revision that scored lower than what it replaced is left out); "
        "-10 keeps every pair",
    )
    export.add_argument(
        "--eval",
        type=_path,
        default=None,
        metavar="REPORT",
        help="a gra eval --json report whose figures of this run go into the card",
    )
    export.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export at --out"
    )
    export.add_argument(
        "--push-to-hub",
        default=None,
        metavar="REPO",
        help="hf only: also upload the dataset and its card to the Hugging Face Hub as REPO "
        "(needs network and a token with write access: HF_TOKEN or hf auth login)",
    )
    export.add_argument("--private", action="store_true", help="with --push-to-hub: private")


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Run ``gra export`` with parsed ``args``; returns the exit code."""
    if args.push_to_hub and args.format != "hf":
        return _error(console, "--push-to-hub uploads a datasets dataset: use --format hf")
    try:
        result = export_run(
            args.run_dir,
            args.format,
            args.out,
            args.status,
            overwrite=args.overwrite,
            eval_report=args.eval,
            seed_pairs=args.seed_pairs,
            min_margin=args.min_margin,
        )
    except ExportError as exc:
        return _error(console, str(exc))
    _report(result, args.format, console)
    if args.push_to_hub:
        return _push(args, result, console)
    return 0


def _report(result: ExportResult, fmt: str, console: Console) -> None:
    if result.pairs is not None:
        console.print(result.pairs.summary(), highlight=False, soft_wrap=True)
        for why in result.pairs.notes:
            console.print(f"  {safe(why)}", highlight=False, soft_wrap=True)
    console.print(
        f"wrote {result.rows} {fmt} row(s) to {safe(result.out)}", highlight=False, soft_wrap=True
    )
    if result.card:
        console.print(f"card: {safe(result.card)}", highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {safe(note)}", highlight=False, soft_wrap=True)


def _error(console: Console, message: str) -> int:
    console.print(
        f"[red]error:[/] {safe(message, multiline=True)}", highlight=False, soft_wrap=True
    )
    return EXIT_INPUT


def _push(args: argparse.Namespace, result: ExportResult, console: Console) -> int:
    """Upload the written dataset; a failure leaves it written and says so."""
    from gra_graph.exports.writers import push_to_hub

    try:
        push_to_hub(result.out, args.push_to_hub, args.private)
    except Exception as exc:  # network, token, permissions: the library's own words
        console.print(
            f"[red]error:[/] the dataset is written at {safe(result.out)}, but the upload to "
            f"{safe(args.push_to_hub)} failed: {safe(type(exc).__name__)}: {safe(exc)}",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_PUSH
    console.print(f"pushed to the Hub as {safe(args.push_to_hub)}", highlight=False)
    return 0
