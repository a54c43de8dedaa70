"""Crash-consistency harness: SIGKILL `gra run` at random and targeted moments, resume, verify.

For each round the harness starts `python -m gra_graph.cli run` on the bundled models in a
fresh directory, kills it with SIGKILL, runs the same command again, and so on until the run
completes; then it checks the invariants below and starts another round, until ``--kills``
kills have been delivered. Kills are of two kinds, drawn from a seeded RNG:

* timed: SIGKILL after a random delay spread over the run's expected remaining time (loading,
  annotation, generation, the review fan-out, checkpoint writes, the end-of-run outputs);
* targeted: the run kills itself at a named crash point (``GRA_CRASH_AT``, see
  ``gra_graph/crashpoints.py``): just before or after a checkpoint commit, half-way through a
  record or annotation line, before ``accepted.jsonl``/``dedup.jsonl`` are renamed into place,
  before ``run.json`` says complete. (The points between a person's answer and its record,
  ``crashpoints.HUMAN_POINTS``, need a run that waits for a person; they are drawn by
  ``tests/test_human_durability.py`` on scripted members, not here.)

Invariants checked when a round completes:

* exit code 0 and ``run.json`` status ``complete``;
* every seed-sample has exactly one record (no duplicate, none lost), no torn line anywhere in
  ``records.jsonl``, ``annotations.jsonl`` or ``accepted.jsonl``, no duplicate accepted row;
* no checkpoint rows left for finished threads (when ``checkpoints.prune_finished`` is on);
* every model call an unfinished thread had checkpointed when a kill landed is in that
  thread's final record unchanged (the resume continued the thread, it did not redo it);
* ``gra runs`` lists the directory as ``crashed`` after each kill (or ``complete`` when the run
  had completed before the kill landed) and ``complete`` at the end;
* the records, annotations, accepted rows, dedup decisions and summary counts equal those of an
  uninterrupted reference run of the same command, with timing fields (``seconds``, a call's
  ``finished_at`` stamp, wall time, tokens per second) removed. ``--tolerate-engine-divergence``
  relaxes this one to what was on disk before each round's first kill, for as long as a model's
  output can depend on the calls that ran before it on the same loaded model (see README,
  "Crash safety").

Prints a JSON summary (and writes it with ``--json-out``); exits 1 if any invariant failed.

``--iterations N`` runs ``gra run --iterations N`` (docs/method.md, section 8): kills then also
land between iterations and in later ones, and ``iterations.jsonl`` (each iteration's commit:
its counts, near-duplicate decisions and kept samples) must equal the reference's too. The
seed-samples a round must end with are the reference run's, since later iterations grow from
what earlier ones kept. The bundled 135M/270M models keep almost nothing, so iteration 2 would
never start; ``--lenient`` makes them keep samples: one reviewer, tau 0, and an instruction
check prompt (``evals/prompts/approve_instruction.txt``) that asks the reviewer to pass the
task. Every model call is still real; only the decisions are made easy. It tests durability,
never data quality.

Example (a soak of 50 kills; about 15-30 minutes on 2 cores)::

    python evals/crash_harness.py --kills 50 --json-out crash-soak.json

Across iterations, on the bundled models::

    python evals/crash_harness.py --kills 6 --iterations 2 --lenient --seed-lines 0,5 \
        --samples-per-seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gra_graph.crashpoints import ENV_VAR, HUMAN_POINTS, POINTS  # noqa: E402
from gra_graph.rundirs import run_info  # noqa: E402

# Smaller generation budgets than graphs/gra.yaml, so a round takes less time; the structured
# stages keep budgets that fit their JSON (a cut-off JSON would only test abstentions).
SMALL_BUDGETS = {
    "compose_keywords": 40,
    "write_instruction": 64,
    "write_response": 64,
    "revise": 64,
    "enrich": 80,
}
LENIENT = {"committee_size": 1, "thresholds": {"tau": 0.0, "delta": 10.0, "min_valid_reviews": 1}}
APPROVE_PROMPT = ROOT / "evals" / "prompts" / "approve_instruction.txt"
TIMING_FIELDS = {"seconds", "finished_at"}  # a call's duration and wall-clock stamp
SUMMARY_FIELDS = (
    "seed_samples",
    "accepted",
    "rejected",
    "kept_after_dedup",
    "near_duplicates",
    "adjudicated",
    "revised",
    "abstentions",
    "errors",
    "completion_tokens",
    "prompt_tokens",
    "rejection_reasons",
)


def small_graph(source: Path, dest: Path, lenient: bool = False) -> Path:
    """A copy of ``source`` with smaller budgets and prompt paths that work from ``dest``;
    ``lenient``: decisions that keep samples (see ``--lenient``)."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw.setdefault("budgets", {}).update(SMALL_BUDGETS)
    base = source.parent.resolve()
    prompts = raw.get("prompts") or {}
    raw["prompts"] = {k: str((base / v).resolve()) for k, v in prompts.items()}
    if lenient:
        raw.update(LENIENT)
        approve = dest.parent / APPROVE_PROMPT.name  # prompts may come from the graph's folder
        shutil.copyfile(APPROVE_PROMPT, approve)
        raw["prompts"]["check_instruction"] = str(approve)
    for member in raw.get("members", []):
        model = str(member.get("model", ""))
        if model.endswith(".gguf") and not Path(model).is_absolute():
            member["model"] = str((base / model).resolve())
    dest.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return dest


def strip_timing(obj: Any) -> Any:
    """``obj`` without timing fields, recursively."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_FIELDS}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def journal(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a JSONL file and the problems found (torn or unparsable lines)."""
    if not path.exists():
        return [], []
    data = path.read_bytes()
    problems = []
    if data and not data.endswith(b"\n"):
        problems.append(f"{path.name}: torn last line")
    rows = []
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            problems.append(f"{path.name}: line {number} is not JSON")
    return rows, problems


def keyed(rows: list[dict[str, Any]], *fields: str) -> dict[tuple[Any, ...], Any]:
    return {tuple(r[f] for f in fields): strip_timing(r) for r in rows}


def snapshot(run_dir: Path) -> dict[str, Any]:
    """Everything the comparison looks at, read from a finished run directory."""
    records, p1 = journal(run_dir / "records.jsonl")
    annotations, p2 = journal(run_dir / "annotations.jsonl")
    accepted, p3 = journal(run_dir / "accepted.jsonl")
    dedup, p4 = journal(run_dir / "dedup.jsonl")
    iterations, p5 = journal(run_dir / "iterations.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return {
        "records": records,
        "annotations": annotations,
        "accepted": accepted,
        "dedup": dedup,
        "iterations": iterations,
        "summary": {k: summary.get(k) for k in SUMMARY_FIELDS},
        "problems": p1 + p2 + p3 + p4 + p5,
        "status": json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("status"),
    }


async def _in_flight(run_dir: Path) -> tuple[Counter[str], dict[str, list[dict[str, Any]]]]:
    """Next graph nodes of the unfinished threads of a killed run, and each thread's calls."""
    from gra_graph.checkpoints import open_checkpointer, stored_threads
    from gra_graph.graph import build_graph

    nodes: Counter[str] = Counter()
    calls: dict[str, list[dict[str, Any]]] = {}
    async with open_checkpointer(run_dir / "checkpoints.sqlite") as saver:
        graph = build_graph(checkpointer=saver)
        for tid in sorted(await stored_threads(saver)):
            state = await graph.aget_state({"configurable": {"thread_id": tid}})
            nodes.update(set(state.next) or {"(steps saved, next checkpoint not)"})
            calls[tid] = list(state.values.get("calls", []))
    return nodes, calls


def after_kill(
    run_dir: Path, total: int, iterations: int = 1
) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """Where a kill landed, judged from the run directory, and the calls checkpointed so far
    (with several iterations, prefixed by the iteration in progress)."""
    if not (run_dir / "run.json").exists():
        return "start-up (before run.json)", {}
    records, _ = journal(run_dir / "records.jsonl")
    if not (run_dir / "checkpoints.sqlite").exists():
        return "start-up", {}
    nodes, calls = asyncio.run(_in_flight(run_dir))
    finished = len(journal(run_dir / "iterations.jsonl")[0])
    where = f"iteration {min(finished + 1, iterations)}: " if iterations > 1 else ""
    if len(records) >= total:
        return "end of run (dedup, accepted.jsonl, summary)", calls
    if not nodes:
        return f"{where}annotation, between samples or between iterations", calls
    stages = {"compose_keywords", "write_instruction", "write_response", "draw_roles"}
    review = {"check_instruction", "gather_checks", "score_response", "decide"}
    kinds = []
    if nodes.keys() & stages:
        kinds.append("generation")
    if nodes.keys() & review:
        kinds.append("review fan-out")
    if nodes.keys() - stages - review:
        kinds.append("+".join(sorted(nodes.keys() - stages - review)))
    return where + " & ".join(kinds), calls


def compare(
    reference: dict[str, Any],
    got: dict[str, Any],
    expected: set[tuple[int, int]],
    before_first_kill: dict[str, set[Any]] | None = None,
) -> dict[str, Any]:
    """Invariant violations of a finished round against the reference run.

    With ``before_first_kill`` (``--tolerate-engine-divergence``), only what was on disk
    before the round's first kill must equal the reference; records and annotations computed
    after a resume may differ (counted in ``diverged_after_resume``), and the aggregates are
    compared only when no record diverged.
    """
    issues: list[str] = list(got["problems"])
    keys = [(r["seed_index"], r["sample_index"]) for r in got["records"]]
    counts = Counter(keys)
    duplicates = sum(c - 1 for c in counts.values())
    lost = len(expected - set(keys))
    if duplicates:
        issues.append(f"{duplicates} duplicate record(s)")
    if lost:
        issues.append(f"{lost} seed-sample(s) without a record")
    if set(keys) - expected:
        issues.append(f"records for unknown seed-samples {sorted(set(keys) - expected)}")
    accepted_lines = [json.dumps(r, sort_keys=True) for r in got["accepted"]]
    if len(accepted_lines) != len(set(accepted_lines)):
        issues.append("duplicate rows in accepted.jsonl")
    if got["status"] != "complete":
        issues.append(f"run.json status {got['status']!r}")
    ref = keyed(reference["records"], "seed_index", "sample_index")
    mine = keyed(got["records"], "seed_index", "sample_index")
    mismatched = sorted(k for k in ref if k in mine and ref[k] != mine[k])
    diverged: list[str] = []
    for key in mismatched:
        fields = sorted(f for f in ref[key] if ref[key][f] != mine[key].get(f))
        line = f"record {key} differs from the reference in {fields}"
        tolerated = before_first_kill is not None and key not in before_first_kill["records"]
        (diverged if tolerated else issues).append(line)
    ref_ann = keyed(reference["annotations"], "seed_index")
    my_ann = keyed(got["annotations"], "seed_index")
    for key in sorted(set(ref_ann) | set(my_ann)):
        if ref_ann.get(key) != my_ann.get(key):
            line = f"annotation of seed {key[0]} differs from the reference"
            tolerated = before_first_kill is not None and key[0] not in before_first_kill["seeds"]
            (diverged if tolerated else issues).append(line)
    if not diverged:
        if reference["iterations"] != got["iterations"]:
            issues.append("iterations.jsonl differs from the reference")
        if reference["accepted"] != got["accepted"]:
            issues.append("accepted.jsonl differs from the reference")
        if reference["dedup"] != got["dedup"]:
            issues.append("dedup.jsonl differs from the reference")
        if reference["summary"] != got["summary"]:
            issues.append(f"summary counts differ: {reference['summary']} vs {got['summary']}")
    return {
        "issues": issues,
        "duplicates": duplicates,
        "lost": lost,
        "mismatches": len(mismatched),
        "diverged_after_resume": diverged,
    }


def checkpointed_calls_kept(
    snapshots: list[dict[str, list[dict[str, Any]]]], records: list[dict[str, Any]]
) -> list[str]:
    """Calls an unfinished thread had checkpointed at a kill must all be in its final record.

    The proof that a resume continued the thread instead of redoing it; exact, durations and
    ``finished_at`` stamps included, since the record is built from the checkpointed state.
    """
    final = {f"{r['seed_index']}-{r['sample_index']}": r["calls"] for r in records}
    problems = []
    for number, snapshot in enumerate(snapshots, start=1):
        for tid, calls in snapshot.items():
            missing = [c for c in calls if c not in final.get(tid, [])]
            if missing:
                problems.append(
                    f"kill {number}: {len(missing)} checkpointed call(s) of thread {tid} are not "
                    "in its final record (redone or lost)"
                )
    return problems


def leftover_threads(run_dir: Path) -> int:
    """Threads that still have checkpoint rows after a complete run (0 when pruning works)."""
    import sqlite3

    db = run_dir / "checkpoints.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes")
        return len(rows.fetchall())


class Harness:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.graph = small_graph(args.graph, work / "graph.yaml", args.lenient)
        self.seeds = work / "seeds.jsonl"
        lines = args.seeds.read_text(encoding="utf-8").splitlines()
        self.seeds.write_text("".join(lines[i] + "\n" for i in args.seed_lines), encoding="utf-8")
        n = len(args.seed_lines)
        chosen = [json.loads(lines[i]) for i in args.seed_lines]
        self.unannotated = sum(
            not (s.get("domain") and s.get("keywords") and s.get("summary")) for s in chosen
        )
        # iteration 1's seed-samples; with more iterations, the reference run says how many
        self.total = n * args.samples_per_seed
        self.expected = {(i, j) for i in range(n) for j in range(args.samples_per_seed)}
        self.reference_seconds = 0.0
        self.log: list[dict[str, Any]] = []
        self.chosen = list(args.crash_at)

    def command(self, out: Path) -> list[str]:
        a = self.args
        if a.resume_with == "resume" and (out / "run.json").exists():
            return [sys.executable, "-m", "gra_graph.cli", "resume", str(out), "--quiet"]
        return [
            sys.executable,
            "-m",
            "gra_graph.cli",
            "run",
            str(self.graph),
            "--seeds",
            str(self.seeds),
            "--out",
            str(out),
            "--samples-per-seed",
            str(a.samples_per_seed),
            "--concurrency",
            str(a.concurrency),
            "--seed",
            str(a.run_seed),
            "--iterations",
            str(a.iterations),
            "--quiet",
        ]

    def launch(self, out: Path, crash_at: str | None, delay: float | None) -> tuple[int, float]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop(ENV_VAR, None)
        if crash_at:
            env[ENV_VAR] = crash_at
        started = time.perf_counter()
        proc = subprocess.Popen(
            self.command(out),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            if delay is None:
                _, err = proc.communicate(timeout=self.args.run_timeout)
            else:
                try:
                    _, err = proc.communicate(timeout=delay)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    _, err = proc.communicate()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"a run took over {self.args.run_timeout} s") from None
        if proc.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(f"run exited {proc.returncode}:\n{err.decode()[-3000:]}")
        return proc.returncode, time.perf_counter() - started

    def reference(self) -> dict[str, Any]:
        out = self.work / "reference"
        rc, seconds = self.launch(out, None, None)
        assert rc == 0
        self.reference_seconds = seconds
        reference = snapshot(out)
        self.expected = {(r["seed_index"], r["sample_index"]) for r in reference["records"]}
        self.total = len(self.expected)
        return reference

    def next_kill(self, out: Path) -> tuple[str | None, float | None, str]:
        """A targeted crash point or a timed delay for the next attempt.

        Three draws per kill, whatever the run's state, so the sequence of kinds and points
        depends on ``--seed`` alone. A point the rest of the run cannot pass (annotation that
        is done) gives way to the next point in the list, so few attempts run to the end.
        The kills named by ``--crash-at`` come first, in order, and draw nothing.
        """
        if self.chosen:
            chosen = self.chosen.pop(0)
            return chosen, None, f"targeted {chosen.rpartition(':')[0]}"
        u_kind, u_point, u_amount = (self.rng.random() for _ in range(3))
        records, _ = journal(out / "records.jsonl")
        remaining = max(self.total - len(records), 1)
        if u_kind < self.args.targeted_share:
            annotated = len(journal(out / "annotations.jsonl")[0])
            # the harness's runs never wait for a person: the answer -> resume -> record
            # points are killed on in tests/test_human_durability.py instead
            reachable = [
                p
                for p in POINTS
                if p not in HUMAN_POINTS
                and (p != "mid-annotations-append" or annotated < self.unannotated)
            ]
            point = reachable[int(u_point * len(reachable))]
            # how often the point is passed in the rest of the run, at least (a seed-sample
            # rejected at the instruction check commits about 15 times)
            left = max(self.args.iterations - len(journal(out / "iterations.jsonl")[0]), 1)
            passes = {
                "before-checkpoint-commit": remaining * 8,
                "after-checkpoint-commit": remaining * 8,
                "mid-records-append": remaining,
                "after-records-append": remaining,
                "mid-iterations-append": left,
                "after-iterations-append": left,
            }
            n = 1 + int(u_amount * passes.get(point, 1))
            return f"{point}:{n}", None, f"targeted {point}"
        # load time plus the model time left, as the reference run took it
        expected = self.reference_seconds * max(remaining / self.total, 0.15)
        return None, 0.3 + u_amount * max(expected - 0.3, 0.1), "timed"

    def round(self, number: int, reference: dict[str, Any]) -> dict[str, Any]:
        out = self.work / f"round-{number:03d}"
        kills: list[dict[str, Any]] = []
        snapshots: list[dict[str, list[dict[str, Any]]]] = []
        before_first_kill: dict[str, set[Any]] | None = None
        while True:
            crash_at, delay, kind = (None, None, "final")
            if len(self.log) + len(kills) < self.args.kills:
                crash_at, delay, kind = self.next_kill(out)
            rc, seconds = self.launch(out, crash_at, delay)
            if rc == 0:
                break
            entry: dict[str, Any] = {"kind": kind, "after_s": round(seconds, 2)}
            landed, calls = after_kill(out, self.total, self.args.iterations)
            snapshots.append(calls)
            if crash_at:
                entry["crash_at"] = crash_at
            else:
                entry["landed"] = landed
            if before_first_kill is None:
                records, _ = journal(out / "records.jsonl")
                annotations, _ = journal(out / "annotations.jsonl")
                before_first_kill = {
                    "records": {(r["seed_index"], r["sample_index"]) for r in records},
                    "seeds": {a["seed_index"] for a in annotations},
                }
            entry["records_at_kill"] = len(journal(out / "records.jsonl")[0])
            if (out / "run.json").exists():
                entry["listed_as"] = run_info(out).status  # what `gra runs` shows now
            kills.append(entry)
        got = snapshot(out)
        tolerate = self.args.tolerate_engine_divergence
        verdict = compare(
            reference,
            got,
            self.expected,
            (before_first_kill or {"records": set(), "seeds": set()}) if tolerate else None,
        )
        issues = verdict["issues"]
        issues += checkpointed_calls_kept(snapshots, got["records"])
        left = leftover_threads(out)
        if left:
            issues.append(f"{left} thread(s) still have checkpoints after completion")
        # a killed run is listed as crashed; as complete only if it had completed before the
        # kill (a kill after run.json said complete, or before the next start rewrote it)
        wrong = [
            (k["listed_as"], k["records_at_kill"])
            for k in kills
            if "listed_as" in k
            and not (
                k["listed_as"] == "crashed"
                or (k["listed_as"] == "complete" and k["records_at_kill"] == self.total)
            )
        ]
        if wrong:
            issues.append(f"gra runs listed killed runs as (status, records) {wrong}")
        if run_info(out).status != "complete":
            issues.append(f"gra runs lists the finished run as {run_info(out).status}")
        self.log.extend(kills)
        per_iteration = Counter(r.get("iteration", 1) for r in got["records"])
        result = {
            "round": number,
            "kills": len(kills),
            "resumes": len(kills),
            "records": len(got["records"]),
            "records_per_iteration": dict(sorted(per_iteration.items())),
            "duplicates": verdict["duplicates"],
            "lost": verdict["lost"],
            "mismatches": verdict["mismatches"],
            "diverged_after_resume": verdict["diverged_after_resume"],
            "checkpointed_calls_checked": sum(len(c) for s in snapshots for c in s.values()),
            "issues": issues,
            "kill_log": kills,
        }
        print(json.dumps({k: v for k, v in result.items() if k != "kill_log"}), file=sys.stderr)
        if not issues and not self.args.keep:
            shutil.rmtree(out)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Kills are SIGKILL to the whole process group; a run that exits with any other "
        "error stops the harness.",
    )
    parser.add_argument("--kills", type=int, default=5, help="kills to deliver in all (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="harness RNG seed (default 0)")
    parser.add_argument("--run-seed", type=int, default=0, help="gra run --seed (default 0)")
    parser.add_argument(
        "--graph",
        type=Path,
        default=ROOT / "graphs" / "gra.yaml",
        help="graph file; budgets are made smaller (default graphs/gra.yaml)",
    )
    parser.add_argument(
        "--seeds",
        type=Path,
        default=ROOT / "examples" / "seeds.jsonl",
        help="seeds file to take --seed-lines from (default examples/seeds.jsonl)",
    )
    parser.add_argument(
        "--seed-lines",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[0, 2, 5],
        help="0-based lines of --seeds to use (default 0,2,5: in examples/seeds.jsonl a coding "
        "and a math seed, and a qa seed without metadata, so annotation runs too)",
    )
    parser.add_argument("--samples-per-seed", type=int, default=2, help="(default 2)")
    parser.add_argument(
        "--iterations", type=int, default=1, help="gra run --iterations (default 1)"
    )
    parser.add_argument(
        "--crash-at",
        action="append",
        default=[],
        metavar="POINT:N",
        help="deliver this kill first (repeatable, in order; counts toward --kills): SIGKILL at "
        "the N-th pass of a crash point, e.g. after-checkpoint-commit:47",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="decisions that keep samples, so later iterations have seeds on the tiny bundled "
        "models: one reviewer, tau 0, an instruction check prompt that asks for a pass "
        "(durability, not quality)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="gra run --concurrency (default 1: see README on determinism)",
    )
    parser.add_argument(
        "--targeted-share",
        type=float,
        default=0.4,
        help="share of kills at a named crash point, the rest timed (0.4)",
    )
    parser.add_argument(
        "--resume-with",
        choices=["run", "resume"],
        default="run",
        help="resume with the same `gra run` command (default) or `gra resume`",
    )
    parser.add_argument(
        "--tolerate-engine-divergence",
        action="store_true",
        help="records and annotations computed after a resume may differ from the reference "
        "(model output that depends on the model's call history; see README); what was on disk "
        "before a round's first kill must still match, and every other invariant holds",
    )
    parser.add_argument("--run-timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--work", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep every round's directory")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    args.seeds = args.seeds.resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="gra-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    harness = Harness(args, work)
    started = time.perf_counter()
    reference = harness.reference()
    rounds = []
    while len(harness.log) < args.kills or not rounds:
        rounds.append(harness.round(len(rounds) + 1, reference))
    issues = [f"round {r['round']}: {i}" for r in rounds for i in r["issues"]]
    summary = {
        "kills": len(harness.log),
        "resumes": sum(r["resumes"] for r in rounds),
        "rounds": len(rounds),
        "records_checked": sum(r["records"] for r in rounds),
        "records_per_iteration": dict(
            sum((Counter(r["records_per_iteration"]) for r in rounds), Counter())
        ),
        "duplicates": sum(r["duplicates"] for r in rounds),
        "lost": sum(r["lost"] for r in rounds),
        "mismatches": sum(r["mismatches"] for r in rounds),
        "diverged_after_resume": [
            f"round {r['round']}: {d}" for r in rounds for d in r["diverged_after_resume"]
        ],
        "checkpointed_calls_checked": sum(r["checkpointed_calls_checked"] for r in rounds),
        "issues": issues,
        "kills_by_kind": dict(Counter(k["kind"] for k in harness.log)),
        "timed_kills_landed": dict(Counter(k["landed"] for k in harness.log if "landed" in k)),
        "reference_run_seconds": round(harness.reference_seconds, 1),
        "harness_seconds": round(time.perf_counter() - started, 1),
        "settings": {
            "seed_lines": args.seed_lines,
            "samples_per_seed": args.samples_per_seed,
            "concurrency": args.concurrency,
            "seed": args.seed,
            "iterations": args.iterations,
            "crash_at": args.crash_at,
            "lenient": args.lenient,
            "run_seed": args.run_seed,
            "graph": args.graph.name,
            "targeted_share": args.targeted_share,
            "resume_with": args.resume_with,
            "tolerate_engine_divergence": args.tolerate_engine_divergence,
        },
        "work": str(work),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")
        (args.json_out.with_suffix(".kills.jsonl")).write_text(
            "".join(json.dumps(k) + "\n" for k in harness.log), encoding="utf-8"
        )
    if not args.work and not issues and not args.keep:
        shutil.rmtree(work)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
