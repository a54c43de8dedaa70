"""Red-team probes for every defect class of issue 14 ("Hardening"), against the real command.

Each probe builds its own hostile file, link or directory in a fresh temporary folder, runs the
``gra`` command line in a child process, and compares what happened with what the issue
requires. Nothing is mocked except, by default, the models: where a probe needs a run but not
what a model says, the run uses scripted members (``tests/support/cli_fake.py``, the same CLI
with every member answering from a script); ``--members bundled`` runs those probes on the two
bundled GGUF models instead (much slower). Probes that fail before any model loads always run
``python -m gra_graph.cli`` itself.

Classes (``--only`` takes the numbers or names):

  1 symlinks     writes must not follow symlinks planted in a run directory
  2 prompts      prompt paths stay inside the graph's folders (absolute, .., symlink)
  3 tokens       seed text never becomes chat-template control tokens
  4 terminal     no raw ESC/OSC or Rich markup from names, keys, paths
  5 seeds        a seeds file rewritten mid-run stops the run cleanly; restored, it resumes
  6 journal      a damaged records.jsonl is repaired: bad lines set aside, the rest kept
  7 reads        /dev/zero, FIFOs, over-long lines and big runs are read with bounds
  8 concurrency  --concurrency 1000000000 keeps memory bounded
  9 relations    settings that cannot work together are refused by gra check
  10 errors      no tracebacks: corrupt database, NUL in paths, a directory for a journal
  11 sigterm     SIGTERM stops cleanly (exit 143, interrupted) and the run resumes

Prints a table (probe, expected, observed, verdict); ``--json`` prints JSON instead. Exits 1 if
any probe found a defect or could not run.

Example::

    python evals/redteam.py                 # every probe, scripted members (a few minutes)
    python evals/redteam.py --only 2 4 10   # a subset
    python evals/redteam.py --only sigterm --members bundled
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.helpers import scripted_graph_text  # noqa: E402

CLASSES = {
    1: "symlinks",
    2: "prompts",
    3: "tokens",
    4: "terminal",
    5: "seeds",
    6: "journal",
    7: "reads",
    8: "concurrency",
    9: "relations",
    10: "errors",
    11: "sigterm",
}
MEMORY_CAP = 2 << 30
"""Address-space limit of every child that might read without bound: a defect then shows as a
failed probe instead of taking the machine's memory."""
SEEDS = [json.loads(line) for line in (ROOT / "examples" / "seeds.jsonl").read_text().splitlines()]
HOSTILE = "x[/]\x1b]0;pwned\x07\x1b[2J"
SMALL_BUDGETS = (  # bundled members: shorter free text, structured stages as shipped
    "budgets: {compose_keywords: 48, write_instruction: 64, write_response: 64, revise: 64}\n"
)


@dataclass
class Result:
    """A finished child process."""

    rc: int
    out: str
    err: str
    max_rss_mb: float
    seconds: float
    timed_out: bool = False

    @property
    def text(self) -> str:
        return " ".join((self.out + " " + self.err).split())

    def brief(self) -> str:
        """The exit code and the message that matters: the error (its first line and what
        follows it) or, for a run that worked, nothing."""
        text = " ".join(self.err.split())
        start = max(text.find("error:"), text.find("terminated"), text.find("warning:"))
        tail = text[start : start + 110] if start >= 0 else ""
        return (
            f"exit {self.rc}"
            + (" (timed out)" if self.timed_out else "")
            + (f": {tail}" if tail else "")
        )


@dataclass
class Outcome:
    """What a probe observed, and whether that is what the issue requires."""

    observed: str
    ok: bool


@dataclass
class Probe:
    cls: int
    name: str
    expected: str
    run: Callable[[Ctx], Outcome]


@dataclass
class Row:
    cls: int
    klass: str
    probe: str
    expected: str
    observed: str
    verdict: str
    seconds: float


@dataclass
class Ctx:
    """Shared settings and helpers; ``tmp`` is a fresh folder per probe."""

    members: str
    keep: bool
    tmp: Path = field(default=Path("."))

    # ---- running the command
    def gra(
        self,
        *args: str,
        scripted: bool = False,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cap: int | None = MEMORY_CAP,
    ) -> Result:
        """``gra ARGS``; with ``scripted`` (and ``--members scripted``) on scripted members."""
        module = (
            "tests.support.cli_fake"
            if scripted and self.members == "scripted"
            else ("gra_graph.cli")
        )
        return self.spawn(
            [sys.executable, "-m", module, *args], env=env, timeout=timeout, cap=cap
        ).finish()

    def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cap: int | None = MEMORY_CAP,
    ) -> Child:
        return Child(argv, {**os.environ, "COLUMNS": "200", **(env or {})}, timeout, cap, self.tmp)

    def run_args(self, *args: str) -> list[str]:
        """``gra run ...`` arguments for a run module chosen by ``--members``."""
        module = "tests.support.cli_fake" if self.members == "scripted" else "gra_graph.cli"
        return [sys.executable, "-m", module, "run", *args]

    # ---- inputs
    def graph(self, name: str = "redteam", extra: str = "", folder: Path | None = None) -> Path:
        folder = folder or self.tmp
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "graph.yaml"
        budgets = SMALL_BUDGETS if self.members == "bundled" else ""
        path.write_text(scripted_graph_text(name=name, extra=budgets + extra), encoding="utf-8")
        return path

    def seeds(self, n: int = 4, *, unannotated: int = 0, name: str = "seeds.jsonl") -> Path:
        """The first ``n`` example seeds with metadata; the last ``unannotated`` stripped."""
        rows = [s for s in SEEDS if "keywords" in s][:n]
        for row in rows[len(rows) - unannotated :]:
            for key in ("domain", "keywords", "summary"):
                row.pop(key, None)
        path = self.tmp / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    def finished_run(
        self, n: int = 4, samples: int = 1, unannotated: int = 0
    ) -> tuple[list[str], Path]:
        """A complete run made by the CLI; the argv that made it (to run it again)."""
        graph, seeds = self.graph(), self.seeds(n, unannotated=unannotated)
        out = self.tmp / "runs" / "run"
        argv = self.run_args(
            str(graph),
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--samples-per-seed",
            str(samples),
            "--limit",
            str(n),
            "--quiet",
        )
        result = self.spawn(argv, timeout=1800).finish()
        if result.rc != 0:
            raise RuntimeError(f"setting up a run failed: {result.brief()}")
        return argv, out


class Child:
    """A child process with its output in files, a timeout, a memory cap and its peak RSS."""

    def __init__(
        self, argv: list[str], env: dict[str, str], timeout: float, cap: int | None, tmp: Path
    ) -> None:
        self.timeout = timeout
        fd_out, out = tempfile.mkstemp(dir=tmp, prefix="out-")
        fd_err, err = tempfile.mkstemp(dir=tmp, prefix="err-")
        self.paths = (Path(out), Path(err))

        def limit() -> None:
            if cap is not None:
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=fd_out,
            stderr=fd_err,
            stdin=subprocess.DEVNULL,
            preexec_fn=limit,
        )
        os.close(fd_out)
        os.close(fd_err)
        self.rusage: resource.struct_rusage | None = None
        self.status: int | None = None

    def poll(self) -> bool:
        """True once the child has ended."""
        if self.status is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.status, self.rusage = status, usage
                self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def signal(self, sig: int) -> None:
        if not self.poll():
            self.proc.send_signal(sig)

    def finish(self) -> Result:
        timed_out = False
        while not self.poll():
            if time.monotonic() - self.started > self.timeout:
                timed_out = True
                self.proc.kill()
                while not self.poll():
                    time.sleep(0.05)
                break
            time.sleep(0.05)
        out, err = (p.read_text(encoding="utf-8", errors="backslashreplace") for p in self.paths)
        rss = (self.rusage.ru_maxrss / 1024) if self.rusage else 0.0
        rc = os.waitstatus_to_exitcode(self.status or 0)
        return Result(rc, out, err, rss, time.monotonic() - self.started, timed_out)


# ---- helpers for probes


def sha(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b"<missing>"


def status_of(out: Path) -> str:
    try:
        return str(json.loads((out / "run.json").read_text(encoding="utf-8")).get("status"))
    except (OSError, ValueError):
        return "<no run.json>"


def record_keys(out: Path) -> list[tuple[int, int]]:
    keys = []
    for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            keys.append((row["seed_index"], row["sample_index"]))
        except (ValueError, KeyError, TypeError):
            keys.append((-1, -1))
    return keys


def wait_for_records(child: Child, out: Path, n: int, timeout: float) -> bool:
    records = out / "records.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll():
            return False
        if records.exists() and records.read_bytes().count(b"\n") >= n:
            return True
        time.sleep(0.05)
    return False


def no_traceback(result: Result) -> bool:
    return "Traceback" not in result.out + result.err


def refused(result: Result, *needles: str) -> bool:
    """Exit 2, each needle in the output, no traceback."""
    return result.rc == 2 and no_traceback(result) and all(n in result.text for n in needles)


# ---- 1 symlinks


def _symlink_probe(
    ctx: Ctx, name: str, prepare: Callable[[Path], None] | None = None, unannotated: int = 0
) -> Outcome:
    argv, out = ctx.finished_run(n=3, unannotated=unannotated)
    if prepare:
        prepare(out)
    target = out / name
    victim = ctx.tmp / f"victim-{name}"
    if target.exists():
        shutil.move(target, victim)
    else:
        victim.write_text("precious\n", encoding="utf-8")
    target.symlink_to(victim)
    before = sha(victim)
    result = ctx.spawn(argv, timeout=1800).finish()
    untouched = sha(victim) == before
    ok = result.rc == 2 and untouched and no_traceback(result)
    return Outcome(f"{result.brief()}; target {'untouched' if untouched else 'WRITTEN'}", ok)


def _drop_last_record(out: Path) -> None:
    lines = (out / "records.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "records.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")


def probe_lock_symlink(ctx: Ctx) -> Outcome:
    return _symlink_probe(ctx, "run.lock")


def probe_records_symlink(ctx: Ctx) -> Outcome:
    return _symlink_probe(ctx, "records.jsonl", _drop_last_record)


def probe_checkpoints_symlink(ctx: Ctx) -> Outcome:
    return _symlink_probe(ctx, "checkpoints.sqlite", _drop_last_record)


def probe_annotations_symlink(ctx: Ctx) -> Outcome:
    def prepare(out: Path) -> None:
        _drop_last_record(out)
        (out / "annotations.jsonl").write_text("", encoding="utf-8")

    return _symlink_probe(ctx, "annotations.jsonl", prepare, unannotated=1)


# ---- 2 prompt paths


def _prompt_probe(ctx: Ctx, annotate: str, folder: Path | None = None) -> Outcome:
    graph = ctx.graph(folder=folder)
    shipped = f"  annotate: {ROOT / 'prompts' / 'annotate.txt'}\n"
    graph.write_text(graph.read_text().replace(shipped, f"  annotate: {annotate}\n"), "utf-8")
    check = ctx.gra("check", str(graph))
    out = ctx.tmp / "out"
    run = ctx.gra("run", str(graph), "--seeds", str(ctx.seeds(1)), "--out", str(out), "--quiet")
    leaked = "root:" in check.text + run.text
    ok = (
        refused(check, "prompts.annotate", "/etc/passwd")
        and run.rc == 2
        and not out.exists()
        and not leaked
    )
    return Outcome(
        f"check {check.brief()}; run exit {run.rc}, out dir "
        f"{'created' if out.exists() else 'not created'}",
        ok,
    )


def probe_prompt_absolute(ctx: Ctx) -> Outcome:
    return _prompt_probe(ctx, "/etc/passwd")


def probe_prompt_dotdot(ctx: Ctx) -> Outcome:
    depth = len(ctx.tmp.resolve().parts) + 2
    return _prompt_probe(ctx, "../" * depth + "etc/passwd", folder=ctx.tmp / "g" / "h")


def probe_prompt_symlink(ctx: Ctx) -> Outcome:
    folder = ctx.tmp / "g"
    folder.mkdir()
    (folder / "annotate.txt").symlink_to("/etc/passwd")
    return _prompt_probe(ctx, "annotate.txt", folder=folder)


# ---- 3 control tokens


def probe_control_tokens(ctx: Ctx) -> Outcome:
    """Through the engine's own completion path: does seed text add a control token?"""
    code = r"""
import json
from gra_graph.llm.bundled import bundled_path
from gra_graph.llm.engine import BatchSettings, CompletionRequest, LoadSettings
from gra_graph.llm.loader import load_engine
settings = LoadSettings(bundled_path("smollm2-135m"), "chatml", 512, 2, 0, "batched",
                        BatchSettings(1, 0, 64, 32))
engine = load_engine(settings)
def tokens(text):
    request = CompletionRequest(messages=(("user", text),), max_tokens=1, temperature=0.0)
    return engine.complete_sync(request).prompt_tokens
base = tokens("Hello")
print(json.dumps({c: tokens("Hello" + c) - base
                  for c in ("<|im_end|>", "<|im_start|>", "<|endoftext|>")}))
engine.close()
"""
    result = ctx.spawn([sys.executable, "-c", code], timeout=300, cap=None).finish()
    try:
        extra = json.loads(result.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Outcome(f"probe failed: {result.brief()}", False)
    single = [c for c, n in extra.items() if n <= 1]
    observed = ", ".join(f"{c} -> {n} token(s)" for c, n in extra.items())
    return Outcome(
        observed + ("; became control tokens: " + " ".join(single) if single else ""), not single
    )


# ---- 4 terminal escapes


def _clean(result: Result) -> bool:
    raw = result.out + result.err
    return "\x1b" not in raw and "\x07" not in raw and no_traceback(result)


def probe_escape_graph_name(ctx: Ctx) -> Outcome:
    graph = ctx.graph(name=HOSTILE)
    out = ctx.tmp / "runs" / "r"
    run = ctx.gra(
        "run",
        str(graph),
        "--seeds",
        str(ctx.seeds(1)),
        "--out",
        str(out),
        "--quiet",
        scripted=True,
        timeout=1800,
        cap=None,
    )
    listing = ctx.gra("runs", str(ctx.tmp / "runs"))
    ok = run.rc == 0 and _clean(run) and listing.rc == 0 and _clean(listing)
    return Outcome(
        f"run {run.brief()}, raw ESC {'no' if _clean(run) else 'YES'}; runs exit "
        f"{listing.rc}, raw ESC {'no' if _clean(listing) else 'YES'}",
        ok,
    )


def probe_escape_member_name(ctx: Ctx) -> Outcome:
    graph = ctx.graph()
    text = graph.read_text().replace("name: gen,", 'name: "g\\e]0;t\\a[/]",', 1)
    graph.write_text(text, encoding="utf-8")
    result = ctx.gra("check", str(graph))
    return Outcome(
        f"{result.brief()}; raw ESC {'no' if _clean(result) else 'YES'}",
        result.rc == 2 and _clean(result),
    )


def probe_escape_seed_key(ctx: Ctx) -> Outcome:
    seeds = ctx.tmp / "seeds.jsonl"
    seeds.write_text(json.dumps({**SEEDS[0], HOSTILE: 1, "[/]": 2}) + "\n", encoding="utf-8")
    result = ctx.gra("check", str(ctx.graph()), "--seeds", str(seeds))
    return Outcome(
        f"{result.brief()}; raw ESC {'no' if _clean(result) else 'YES'}",
        result.rc == 2 and _clean(result),
    )


# ---- 5 seeds rewritten mid-run


def probe_seeds_rewritten(ctx: Ctx) -> Outcome:
    # 12 seeds of about 3 KB: more than a read buffer, so the end of the file is read late
    rows = [s for s in SEEDS if "keywords" in s]
    padded = []
    for i in range(12):
        row = rows[i % len(rows)]
        padded.append({**row, "response": f"{row['response']} ({i}) " + "z" * 3000})
    seeds = ctx.tmp / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(r) + "\n" for r in padded), encoding="utf-8")
    graph, original = ctx.graph(), seeds.read_bytes()
    out = ctx.tmp / "run"
    argv = ctx.run_args(
        str(graph), "--seeds", str(seeds), "--out", str(out), "--concurrency", "1", "--quiet"
    )
    child = ctx.spawn(argv, env={"GRA_FAKE_DELAY": "0.1"}, timeout=1800)
    if not wait_for_records(child, out, 1, 1800):
        return Outcome(f"no record before the rewrite: {child.finish().brief()}", False)
    # one letter of the last seed's instruction changes case: same inode, same size, and a
    # line the run has not read yet
    at = original.rfind(b'"instruction": "') + len(b'"instruction": "')
    with seeds.open("r+b") as fh:
        fh.seek(at)
        fh.write(original[at : at + 1].swapcase())
    first = child.finish()
    status = status_of(out)
    seeds.write_bytes(original)
    again = ctx.spawn(argv, timeout=1800).finish()
    keys = record_keys(out)
    complete = again.rc == 0 and sorted(keys) == [(i, 0) for i in range(12)]
    ok = first.rc == 2 and status == "interrupted" and no_traceback(first) and complete
    return Outcome(
        f"mid-run: {first.brief()}, status {status}; restored: exit {again.rc}, "
        f"{len(keys)} records, {len(set(keys))} distinct",
        ok,
    )


# ---- 6 journal repair


def _journal_probe(ctx: Ctx, damage: str) -> Outcome:
    argv, out = ctx.finished_run(n=4)
    records = out / "records.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines(keepends=True)
    kept_after = lines[1:3]
    if damage == "garbage":
        new = [lines[0], "this is {not json\n", *lines[1:3]]
    elif damage == "empty-object":
        new = [lines[0], "{}\n", *lines[1:3]]
    else:  # duplicate
        new = [lines[0], lines[1], lines[1], lines[2]]
    records.write_text("".join(new), encoding="utf-8")  # the 4th record is gone: it reruns
    result = ctx.spawn(argv, timeout=1800).finish()
    final = records.read_text(encoding="utf-8").splitlines(keepends=True)
    keys = record_keys(out)
    once = sorted(keys) == [(i, 0) for i in range(4)]
    final_rows = [json.loads(line) for line in final if line.strip().startswith("{")]
    kept = all(json.loads(line) in final_rows for line in kept_after)
    corrupt = out / "records.corrupt.jsonl"
    if damage == "duplicate":
        warned = any(
            "warning" in line.lower() and "duplicate" in line.lower()
            for line in result.err.splitlines()
        )
        ok = result.rc == 0 and once and kept and warned
        return Outcome(f"{result.brief()}; each record once: {once}; warned: {warned}", ok)
    moved = corrupt.exists() and "2" in corrupt.read_text(encoding="utf-8", errors="replace")
    ok = result.rc == 0 and once and kept and moved and no_traceback(result)
    return Outcome(
        f"{result.brief()}; later lines kept: {kept}; each record once: {once}; "
        f"records.corrupt.jsonl with line 2: {moved}",
        ok,
    )


def probe_journal_garbage(ctx: Ctx) -> Outcome:
    return _journal_probe(ctx, "garbage")


def probe_journal_empty_object(ctx: Ctx) -> Outcome:
    return _journal_probe(ctx, "empty-object")


def probe_journal_duplicate(ctx: Ctx) -> Outcome:
    return _journal_probe(ctx, "duplicate")


# ---- 7 bounded reads


def _bounded(result: Result, *needles: str) -> Outcome:
    ok = refused(result, *needles) and not result.timed_out
    return Outcome(f"{result.brief()}; peak RSS {result.max_rss_mb:.0f} MB", ok)


def probe_zero_graph(ctx: Ctx) -> Outcome:
    return _bounded(ctx.gra("check", "/dev/zero", timeout=60), "/dev/zero")


def probe_zero_prompt(ctx: Ctx) -> Outcome:
    graph = ctx.graph(extra="prompt_root: /dev\n")
    shipped = f"  annotate: {ROOT / 'prompts' / 'annotate.txt'}\n"
    graph.write_text(graph.read_text().replace(shipped, "  annotate: /dev/zero\n"), "utf-8")
    return _bounded(ctx.gra("check", str(graph), timeout=60), "prompts.annotate", "/dev/zero")


def probe_zero_seeds(ctx: Ctx) -> Outcome:
    result = ctx.gra("check", str(ctx.graph()), "--seeds", "/dev/zero", timeout=60)
    return _bounded(result, "/dev/zero")


def probe_fifo_seeds(ctx: Ctx) -> Outcome:
    fifo = ctx.tmp / "seeds.fifo"
    os.mkfifo(fifo)
    return _bounded(
        ctx.gra("check", str(ctx.graph()), "--seeds", str(fifo), timeout=30), "seeds.fifo"
    )


def probe_long_seed_line(ctx: Ctx) -> Outcome:
    seeds = ctx.tmp / "long.jsonl"
    with seeds.open("wb") as fh:
        fh.write(json.dumps(SEEDS[0]).encode() + b"\n")
        fh.write(b'{"instruction": "' + b"a" * (64 << 20) + b'", "response": "x"}\n')
    result = ctx.gra("check", str(ctx.graph()), "--seeds", str(seeds), timeout=120)
    outcome = _bounded(result, "line 2")
    outcome.ok = outcome.ok and result.max_rss_mb < 200
    return outcome


def probe_runs_big_journal(ctx: Ctx) -> Outcome:
    _, out = ctx.finished_run(n=1)
    row = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()[0]
    block = (row + "\n") * max(1, (1 << 20) // (len(row) + 1))
    with (out / "records.jsonl").open("a", encoding="utf-8") as fh:
        for _ in range(384):  # about 384 MB of records
            fh.write(block)
    result = ctx.gra("runs", str(out.parent), timeout=300, cap=4 << 30)
    ok = result.rc == 0 and no_traceback(result) and result.max_rss_mb < 250
    return Outcome(
        f"exit {result.rc}; peak RSS {result.max_rss_mb:.0f} MB for a 384 MB journal", ok
    )


# ---- 8 concurrency


def probe_huge_concurrency(ctx: Ctx) -> Outcome:
    graph, seeds = ctx.graph(), ctx.seeds(1, unannotated=1)  # annotation runs too
    out = ctx.tmp / "run"
    argv = ctx.run_args(
        str(graph),
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--concurrency",
        "1000000000",
        "--limit",
        "1",
        "--quiet",
    )
    cap = MEMORY_CAP if ctx.members == "scripted" else 6 << 30
    result = ctx.spawn(argv, timeout=600, cap=cap).finish()
    ok = result.rc == 0 and result.max_rss_mb < 600 and not result.timed_out
    return Outcome(
        f"{result.brief()}; peak RSS {result.max_rss_mb:.0f} MB in {result.seconds:.0f} s", ok
    )


# ---- 9 cross-field relations


def _relation_probe(
    ctx: Ctx, extra: str, *fields: str, replace: tuple[str, str] | None = None
) -> Outcome:
    graph = ctx.graph(extra=extra)
    if replace:
        graph.write_text(graph.read_text().replace(*replace, 1), encoding="utf-8")
    result = ctx.gra("check", str(graph))
    return Outcome(result.brief(), refused(result, *fields))


def probe_min_valid_reviews(ctx: Ctx) -> Outcome:
    return _relation_probe(
        ctx,
        "committee_size: 3\nthresholds: {min_valid_reviews: 5}\n",
        "min_valid_reviews",
        "committee_size",
    )


def probe_n_threads(ctx: Ctx) -> Outcome:
    return _relation_probe(
        ctx, "", "n_threads", "CPU", replace=("n_ctx: 2048,", "n_ctx: 2048, n_threads: 100000,")
    )


def probe_score_floor(ctx: Ctx) -> Outcome:
    return _relation_probe(
        ctx, "revise: {max_rounds: 2, score_floor: 9.0}\n", "revise.score_floor", "thresholds.tau"
    )


# ---- 10 no tracebacks


def probe_corrupt_database(ctx: Ctx) -> Outcome:
    argv, out = ctx.finished_run(n=2)
    _drop_last_record(out)
    for suffix in ("", "-wal", "-shm"):
        (out / f"checkpoints.sqlite{suffix}").unlink(missing_ok=True)
    (out / "checkpoints.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    result = ctx.spawn(argv, timeout=1800).finish()
    early = "loading" not in result.text
    return Outcome(
        f"{result.brief()}; before models load: {early}",
        refused(result, "checkpoints.sqlite") and early,
    )


def probe_nul_in_paths(ctx: Ctx) -> Outcome:
    _, out = ctx.finished_run(n=1)
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    manifest["command"]["graph"] = "graphs/gra\x00.yaml"
    (out / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    resume = ctx.gra("resume", str(out), "--quiet")
    graph = ctx.graph()
    text = graph.read_text().replace("model: smollm2-135m", 'model: "a\\0b.gguf"', 1)
    graph.write_text(text, encoding="utf-8")
    check = ctx.gra("check", str(graph))
    ok = refused(resume) and refused(check, "NUL")
    return Outcome(f"resume {resume.brief()}; check {check.brief()}", ok)


def probe_journal_directory(ctx: Ctx) -> Outcome:
    argv, out = ctx.finished_run(n=2)
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").mkdir()
    result = ctx.spawn(argv, timeout=1800).finish()
    return Outcome(result.brief(), refused(result, "records.jsonl"))


def probe_bad_run_json(ctx: Ctx) -> Outcome:
    _, out = ctx.finished_run(n=1)
    for name, manifest in (
        ("bad", {"seeds": "many"}),
        ("markup", {"graph": "x[/]", "seeds": 1}),
        ("list", ["not", "an", "object"]),
    ):
        (out.parent / name).mkdir()
        (out.parent / name / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    table = ctx.gra("runs", str(out.parent))
    listed = ctx.gra("runs", str(out.parent), "--json")
    names = {Path(json.loads(line)["path"]).name for line in listed.out.splitlines() if line}
    ok = table.rc == 0 and no_traceback(table) and listed.rc == 0 and {"run", "markup"} <= names
    return Outcome(f"table exit {table.rc}; --json exit {listed.rc}, listed {sorted(names)}", ok)


def probe_markup_crash(ctx: Ctx) -> Outcome:
    graph = ctx.graph(name="x[/]")
    out = ctx.tmp / "run"
    run = ctx.gra(
        "run",
        str(graph),
        "--seeds",
        str(ctx.seeds(1)),
        "--out",
        str(out),
        "--quiet",
        scripted=True,
        timeout=1800,
        cap=None,
    )
    seeds = ctx.tmp / "key.jsonl"
    seeds.write_text(json.dumps({**SEEDS[0], "[/]": 1}) + "\n", encoding="utf-8")
    check = ctx.gra("check", str(graph), "--seeds", str(seeds))
    ok = run.rc == 0 and no_traceback(run) and refused(check, "[/]")
    return Outcome(f"run {run.brief()}; seed key {check.brief()}", ok)


# ---- 11 SIGTERM


def probe_sigterm(ctx: Ctx) -> Outcome:
    graph, seeds = ctx.graph(), ctx.seeds(3)
    out = ctx.tmp / "run"
    argv = ctx.run_args(
        str(graph),
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--samples-per-seed",
        "2",
        "--concurrency",
        "1",
        "--quiet",
    )
    child = ctx.spawn(argv, env={"GRA_FAKE_DELAY": "0.3"}, timeout=1800, cap=None)
    if not wait_for_records(child, out, 1, 1800):
        return Outcome(f"no record before the signal: {child.finish().brief()}", False)
    child.signal(signal.SIGTERM)
    first = child.finish()
    status = status_of(out)
    again = ctx.spawn(argv, timeout=1800, cap=None).finish()
    keys = record_keys(out)
    complete = again.rc == 0 and sorted(keys) == [(i, j) for i in range(3) for j in range(2)]
    ok = first.rc == 143 and status == "interrupted" and no_traceback(first) and complete
    return Outcome(
        f"signal: {first.brief()}, status {status}; again: exit {again.rc}, "
        f"{len(keys)} records, {len(set(keys))} distinct",
        ok,
    )


PROBES = [
    Probe(1, "run.lock is a symlink", "refused (exit 2), target untouched", probe_lock_symlink),
    Probe(
        1,
        "records.jsonl is a symlink on resume",
        "refused (exit 2), target untouched",
        probe_records_symlink,
    ),
    Probe(
        1,
        "checkpoints.sqlite is a symlink",
        "refused (exit 2), target untouched",
        probe_checkpoints_symlink,
    ),
    Probe(
        1,
        "annotations.jsonl is a symlink on resume",
        "refused (exit 2), target untouched",
        probe_annotations_symlink,
    ),
    Probe(
        2,
        "prompt path /etc/passwd",
        "check and run refuse (exit 2) naming prompts.annotate and the path; nothing written",
        probe_prompt_absolute,
    ),
    Probe(2, "prompt path ../../../etc/passwd", "refused as above", probe_prompt_dotdot),
    Probe(2, "prompt symlink to /etc/passwd", "refused as above", probe_prompt_symlink),
    Probe(
        3,
        "control-token text in a seed",
        "tokenized as plain text (more than 1 token)",
        probe_control_tokens,
    ),
    Probe(
        4,
        "ESC/OSC/[/] in the graph name",
        "run and gra runs work; no raw ESC",
        probe_escape_graph_name,
    ),
    Probe(4, "ESC/OSC/[/] in a member name", "exit 2; no raw ESC", probe_escape_member_name),
    Probe(4, "ESC/OSC/[/] in a seed key", "exit 2; no raw ESC", probe_escape_seed_key),
    Probe(
        5,
        "seeds file rewritten in place mid-run",
        "exit 2, status interrupted; restored, it resumes to completion",
        probe_seeds_rewritten,
    ),
    Probe(
        6,
        "garbage line in the middle of records.jsonl",
        "later lines kept, bad line in records.corrupt.jsonl with its number, run completes",
        probe_journal_garbage,
    ),
    Probe(6, "a {} line in records.jsonl", "as above", probe_journal_empty_object),
    Probe(
        6,
        "a duplicated line in records.jsonl",
        "deduplicated with a warning, run completes",
        probe_journal_duplicate,
    ),
    Probe(7, "/dev/zero as the graph file", "exit 2 naming it, memory flat", probe_zero_graph),
    Probe(
        7, "/dev/zero as a prompt file (prompt_root: /dev)", "exit 2 naming it", probe_zero_prompt
    ),
    Probe(7, "/dev/zero as the seeds file", "exit 2 naming it", probe_zero_seeds),
    Probe(7, "a FIFO as the seeds file", "exit 2 naming it, no hang", probe_fifo_seeds),
    Probe(7, "a 64 MB seed line", "exit 2 naming line 2, under 200 MB RSS", probe_long_seed_line),
    Probe(
        7, "gra runs on a 384 MB records.jsonl", "exit 0, under 250 MB RSS", probe_runs_big_journal
    ),
    Probe(
        8,
        "--concurrency 1000000000 --limit 1",
        "completes, under 600 MB RSS",
        probe_huge_concurrency,
    ),
    Probe(
        9,
        "min_valid_reviews 5 > committee_size 3",
        "gra check exit 2 naming both",
        probe_min_valid_reviews,
    ),
    Probe(9, "n_threads 100000", "gra check exit 2 naming n_threads and the CPUs", probe_n_threads),
    Probe(
        9,
        "revise.score_floor 9 >= thresholds.tau 8",
        "gra check exit 2 naming both",
        probe_score_floor,
    ),
    Probe(
        10,
        "corrupt checkpoints.sqlite",
        "exit 2 naming it, before models load, no traceback",
        probe_corrupt_database,
    ),
    Probe(
        10,
        "NUL byte in a recorded path and a model path",
        "exit 2, no traceback",
        probe_nul_in_paths,
    ),
    Probe(
        10,
        "records.jsonl is a directory",
        "exit 2 naming it, no traceback",
        probe_journal_directory,
    ),
    Probe(
        10,
        "bad run.json among good ones",
        "gra runs lists the good ones, no traceback",
        probe_bad_run_json,
    ),
    Probe(
        10,
        "[/] in a graph name and a seed key",
        "no MarkupError: run completes, key named",
        probe_markup_crash,
    ),
    Probe(
        11,
        "SIGTERM mid-run",
        "exit 143, status interrupted; the same command completes",
        probe_sigterm,
    ),
]


def run_probe(probe: Probe, ctx: Ctx, base: Path) -> Row:
    ctx.tmp = Path(tempfile.mkdtemp(prefix=f"c{probe.cls}-", dir=base))
    started = time.monotonic()
    try:
        outcome = probe.run(ctx)
        verdict = "ok" if outcome.ok else "DEFECT"
    except Exception as exc:  # the probe itself broke: reported, counted as a failure
        outcome = Outcome(f"probe error: {type(exc).__name__}: {exc}"[:300], False)
        verdict = "ERROR"
        if os.environ.get("REDTEAM_DEBUG"):
            traceback.print_exc()
    finally:
        if not ctx.keep:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    return Row(
        probe.cls,
        CLASSES[probe.cls],
        probe.name,
        probe.expected,
        outcome.observed,
        verdict,
        round(time.monotonic() - started, 1),
    )


def selected(only: list[str] | None) -> list[Probe]:
    if not only:
        return PROBES
    wanted = set()
    for item in only:
        if item.isdigit() and int(item) in CLASSES:
            wanted.add(int(item))
        else:
            matches = [n for n, name in CLASSES.items() if name == item.lower()]
            if not matches:
                raise SystemExit(f"unknown class {item!r}; known: {CLASSES}")
            wanted.update(matches)
    return [p for p in PROBES if p.cls in wanted]


def print_table(rows: list[Row]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="issue 14 red-team probes", show_lines=True)
    for column in ("class", "probe", "expected", "observed", "verdict"):
        table.add_column(column)
    colours = {"ok": "green", "DEFECT": "red", "ERROR": "magenta"}
    for row in rows:
        table.add_row(
            f"{row.cls} {row.klass}",
            escape(row.probe),
            escape(row.expected),
            escape(row.observed),
            f"[{colours[row.verdict]}]{row.verdict}[/]",
        )
    console = Console(emoji=False)
    if not console.is_terminal:
        console = Console(emoji=False, width=160)
    console.print(table)
    bad = [r for r in rows if r.verdict != "ok"]
    console.print(
        f"{len(rows) - len(bad)} of {len(rows)} probes ok; "
        f"defects in classes {sorted({r.cls for r in bad}) or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", nargs="+", metavar="CLASS", help="class numbers or names to probe (default: all)"
    )
    parser.add_argument(
        "--members",
        choices=["scripted", "bundled"],
        default="scripted",
        help="members for probes that need a run (default: scripted)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)
    ctx = Ctx(members=args.members, keep=args.keep)
    base = Path(tempfile.mkdtemp(prefix="gra-redteam-"))
    rows = []
    for probe in selected(args.only):
        rows.append(run_probe(probe, ctx, base))
        if not args.json:
            row = rows[-1]
            print(f"[{row.verdict:>6}] {row.cls:>2} {row.probe} ({row.seconds} s)", flush=True)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps({"members": args.members, "probes": [asdict(r) for r in rows]}, indent=2))
    else:
        print_table(rows)
    return 0 if all(r.verdict == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
