"""The run directory: one owner for its layout, manifest, lock, status and journals.

:class:`RunDir` is how everything reads and writes a run directory: the runner while it runs,
``gra runs`` listing runs (possibly while they run), ``gra resume`` finding out how a run was
started. No other module spells a file name of the layout.

Layout::

    run.json            what was run (graph, prompts and seeds fingerprints, settings), the
                        typed request to resume it (``command``), and the run's status
    run.lock            held (flock) by the live run; names its pid and host
    checkpoints.sqlite  LangGraph checkpoints, one thread per seed-sample (pruned once recorded)
    annotations.jsonl   seeds annotated by a member (keywords/summary/domain were missing)
    records.jsonl       one provenance record per seed-sample, in finishing order
    iterations.jsonl    one line per finished iteration: its counts, the near-duplicate
                        decisions and the kept samples (the next iteration's seeds)
    dedup.jsonl         the near-duplicate decision for each accepted record
    accepted.jsonl      the kept training rows
    summary.json        counts, tokens, seconds
    answers.jsonl       people's answers to conflicts waiting for them (adjudication: human),
                        appended and fsynced before the thread they answer resumes
    forks.jsonl         records of samples re-run from a checkpoint (``gra rerun``), each
                        linking to its parent; records.jsonl and accepted.jsonl stay as they were

``run.json`` ``status`` (see :data:`STATUSES`): ``running`` while a run holds the directory,
``complete``, ``incomplete`` (some seed-samples failed with an error; run again), ``paused``
(some seed-samples stopped on purpose, at an interrupt, and wait to be resumed) or
``interrupted`` (stopped early: Ctrl-C, SIGTERM, or the caller stopped reading). A ``running``
run whose lock is free was killed: it is listed as ``crashed``.

Iterations (``--iterations N``, docs/method.md section 8): ``iterations.jsonl`` is the only
record of which iterations are finished; the iteration in progress is the one after its last
line. A line is appended (and fsynced) once an iteration's every seed-sample has its record and
its near-duplicate pass is done, so a kill before the append redoes only that pass, and a kill
after it starts the next iteration from the kept samples the line names.

Reading never repairs: a listing may run while a run is writing (a torn last line of a journal
is skipped, not cut off; the lock is only probed). Only the run holding the lock repairs.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gra_graph import runlock
from gra_graph.checkpoints import database_bytes
from gra_graph.inputs import MAX_MANIFEST_BYTES, InputFileError, file_kind, read_bounded_text
from gra_graph.output import (
    JournalRepair,
    append_jsonl,
    append_jsonl_exclusive,
    iter_lines,
    repair_journal,
    write_json_atomic,
    write_jsonl_atomic,
)

MANIFEST_VERSION = 1
RUN_FILE = "run.json"
LOCK_FILE = runlock.LOCK_FILE
CHECKPOINTS_FILE = "checkpoints.sqlite"
ANNOTATIONS_FILE = "annotations.jsonl"
RECORDS_FILE = "records.jsonl"
ITERATIONS_FILE = "iterations.jsonl"
DEDUP_FILE = "dedup.jsonl"
ACCEPTED_FILE = "accepted.jsonl"
FORKS_FILE = "forks.jsonl"
SUMMARY_FILE = "summary.json"
ANSWERS_FILE = "answers.jsonl"
LAYOUT = (
    RUN_FILE,
    LOCK_FILE,
    CHECKPOINTS_FILE,
    f"{CHECKPOINTS_FILE}-wal",
    f"{CHECKPOINTS_FILE}-shm",
    f"{CHECKPOINTS_FILE}-journal",
    ANNOTATIONS_FILE,
    RECORDS_FILE,
    ITERATIONS_FILE,
    DEDUP_FILE,
    ACCEPTED_FILE,
    SUMMARY_FILE,
    ANSWERS_FILE,
    FORKS_FILE,
)
"""Every file a run writes (the ``*.corrupt.jsonl`` side files come from :meth:`corrupt_path`)."""

STATUSES = ("running", "complete", "incomplete", "paused", "interrupted", "crashed")
"""``running``: a live process holds the directory; ``crashed``: run.json says running but no
process holds the lock (killed, or died of an error); the others as in run.json."""

_MANIFEST_MEANING = {
    "graph_fingerprint": "the graph file's settings changed",
    "prompts_fingerprint": "a prompt file changed",
    "seeds_fingerprint": "the seeds changed, or --limit",
    "seeds": "the number of seeds",
    "iterations": "--iterations",
    "version": "written by another gra-graph version",
}

_MANIFEST_DEFAULTS: dict[str, Any] = {"iterations": 1}
"""What a manifest written before a setting existed means by its absence (runs made before
``--iterations`` ran one iteration, and resume as such)."""


class RunInfoError(ValueError):
    """A directory that is not a readable run directory."""


class RunDirectoryError(RuntimeError):
    """The output directory cannot hold this run (another run's files, not writable)."""


class ResumeRequest(BaseModel):
    """How a run was started from the CLI, stored typed in ``run.json`` so that ``gra resume``
    can start it again without parsing arguments back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    graph: str
    seeds: str
    limit: int | None = None
    samples_per_seed: int = 1
    concurrency: int = 4
    seed: int = 0
    engine: str | None = None
    iterations: int = 1
    seed_columns: dict[str, str] = Field(default_factory=dict, description="--map")
    domain_map: dict[str, str | None] = Field(default_factory=dict, description="--domain-map")
    split: str | None = Field(None, description="--split")


class FinishedIteration(BaseModel):
    """One line of ``iterations.jsonl``: an iteration whose every seed-sample has its record
    and whose near-duplicate pass is done. Appending it is the iteration's commit point.

    Iteration ``k + 1``'s seeds are the records named by ``kept``, in that order (key order),
    numbered from :attr:`next_seed_base`; so seed index ``next_seed_base + p`` is ``kept[p]``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    iteration: int = Field(ge=1)
    seed_base: int = Field(ge=0, description="the run-wide index of the iteration's first seed")
    seeds: int = Field(ge=0)
    seed_samples: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    kept: list[tuple[int, int]] = Field(
        description="(seed_index, sample_index) of each accepted sample the near-duplicate "
        "pass kept, in key order"
    )
    dedup: list[dict[str, Any]] = Field(
        default_factory=list, description="the pass's decisions, as dedup.jsonl lists them"
    )

    @property
    def next_seed_base(self) -> int:
        """The run-wide index of the next iteration's first seed."""
        return self.seed_base + self.seeds


@dataclass(frozen=True)
class RunInfo:
    """One run directory at a glance (``total``: the seed-samples known so far, which grows
    as each iteration's kept samples become the next one's seeds)."""

    path: str
    status: str
    done: int
    total: int
    accepted: int
    graph: str
    started: str
    checkpoint_bytes: int
    holder: str
    iteration: int = 1
    iterations: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunDir:
    """A run directory (see the module docstring for its layout).

    The write side (:meth:`open_for_run`, the journals, :meth:`set_status`) is for the one
    process holding the lock; the read side (:meth:`manifest`, :meth:`status`, :meth:`info`,
    :meth:`resume_request`) works from anywhere, at any time.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: runlock.RunLock | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ---- layout
    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def checkpoints_path(self) -> Path:
        return self.path / CHECKPOINTS_FILE

    @property
    def annotations_path(self) -> Path:
        return self.path / ANNOTATIONS_FILE

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS_FILE

    @property
    def iterations_path(self) -> Path:
        return self.path / ITERATIONS_FILE

    @property
    def dedup_path(self) -> Path:
        return self.path / DEDUP_FILE

    @property
    def accepted_path(self) -> Path:
        return self.path / ACCEPTED_FILE

    @property
    def forks_path(self) -> Path:
        return self.path / FORKS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def answers_path(self) -> Path:
        """People's answers to waiting conflicts (see :mod:`gra_graph.human`)."""
        return self.path / ANSWERS_FILE

    def is_run(self) -> bool:
        """Whether the directory holds a run (a ``run.json``)."""
        return self.run_file.is_file()

    # ---- read side
    def manifest(self) -> dict[str, Any]:
        """``run.json``, or :class:`RunInfoError` saying why not."""
        if not self.run_file.exists() and not self.run_file.is_symlink():
            raise RunInfoError(f"{self.path} is not a gra run directory (no run.json)")
        try:  # a regular file of bounded size: run.json at /dev/zero must not read forever
            text = read_bounded_text(
                self.run_file, MAX_MANIFEST_BYTES, "run.json", "MAX_MANIFEST_BYTES"
            )
            data = json.loads(text)
        except (InputFileError, ValueError) as exc:
            raise RunInfoError(f"{self.run_file} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise RunInfoError(f"{self.run_file} is not a JSON object")
        return data

    def status(self, manifest: dict[str, Any] | None = None) -> str:
        """One of :data:`STATUSES`."""
        if runlock.is_held(self.path):
            return "running"
        status = str((manifest if manifest is not None else self.manifest()).get("status"))
        return "crashed" if status in ("running", "None") else status

    def journal_rows(self, path: Path) -> Iterator[dict[str, Any]]:
        """The complete rows of a journal, streamed, read-only: a torn tail is skipped, and so
        is any line that does not parse (the run that holds the lock repairs them)."""
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                return  # not a journal a run wrote (a directory, a device): nothing to list
            fh = path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            return
        with fh:
            for _, line in iter_lines(fh):
                if line is None or not line.endswith(b"\n"):
                    return  # the part after the last newline is still being written
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row

    def journal_rows_after(
        self, path: Path, offset: int = 0
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The complete rows of a journal that start at byte ``offset`` or later, each with the
        offset just past its line, read-only; for readers that follow a running journal (the
        viewer) and read only what was appended since their last look. A torn tail is left for
        the next look; an offset past the end (the journal was rewritten) reads from 0."""
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                return
            fh = path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            return
        with fh:
            if offset > os.fstat(fh.fileno()).st_size:
                offset = 0
            fh.seek(offset)
            for _, line in iter_lines(fh):
                if line is None:
                    continue  # an over-long line: skipped, as journal_rows does
                if not line.endswith(b"\n"):
                    return  # the part after the last newline is still being written
                offset = fh.tell()
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield offset, row

    def finished_iterations(self) -> list[FinishedIteration]:
        """The finished iterations, read-only, in order; a line that does not validate or
        breaks the sequence 1, 2, 3... ends the list (the run holding the lock repairs it)."""
        finished: list[FinishedIteration] = []
        for row in self.journal_rows(self.iterations_path):
            try:
                line = FinishedIteration.model_validate(row)
            except ValidationError:
                break
            if line.iteration != len(finished) + 1:
                break
            finished.append(line)
        return finished

    def info(self) -> RunInfo:
        """Status, progress and outcome, streaming the records (memory stays flat)."""
        manifest = self.manifest()
        status = self.status(manifest)
        done: set[tuple[Any, Any]] = set()
        accepted = 0
        for row in self.journal_rows(self.records_path):
            done.add((row.get("seed_index"), row.get("sample_index")))
            accepted += row.get("status") == "accepted"
        # a wrong type here (ValueError, TypeError) means run.json is damaged: listings say so
        per_seed = int(manifest.get("samples_per_seed", 1))
        planned = int(manifest.get("iterations", 1))
        total = int(manifest.get("seeds", 0)) * per_seed
        finished = self.finished_iterations()
        for line in finished:  # each finished iteration's kept samples seed the next one
            if line.iteration < planned:
                total += len(line.kept) * per_seed
        current = min(len(finished) + 1, planned)
        if finished and not finished[-1].kept:  # kept nothing: the run ended there
            current = finished[-1].iteration
        who = runlock.holder(self.path) if status == "running" else {}
        return RunInfo(
            path=str(self.path),
            status=status,
            done=len(done),
            total=total,
            accepted=accepted,
            graph=str(manifest.get("graph", "?")),
            started=str(manifest.get("created", "?")),
            checkpoint_bytes=database_bytes(self.checkpoints_path),
            holder=f"pid {who.get('pid')} on {who.get('host')}" if who else "",
            iteration=current,
            iterations=planned,
        )

    def resume_request(self, **overrides: Any) -> ResumeRequest:
        """How the run was started, with ``overrides`` (``concurrency``, a moved ``graph`` or
        ``seeds`` file) applied; whether the graph and seeds still match is checked by the
        runner against the fingerprints.

        Raises:
            RunInfoError: no run here, none started from the CLI, or an input file is gone.
        """
        command = self.manifest().get("command")
        try:
            request = ResumeRequest.model_validate(command)
        except ValidationError:
            raise RunInfoError(
                f"{self.run_file} does not record the command that started the run (it was "
                "started from the Python API); resume it with the same run_seeds(...) call"
            ) from None
        changes = {k: str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
        request = request.model_copy(update={k: v for k, v in changes.items() if v is not None})
        for key in ("graph", "seeds"):
            place = getattr(request, key)
            if key == "seeds" and (place.startswith("hf:") or Path(place).is_dir()):
                continue  # a cached dataset name, or a saved datasets directory
            if not Path(place).is_file():
                raise RunInfoError(
                    f"the {key} file {place} recorded in {self.run_file} is "
                    f"gone; pass its new place with gra resume {self.path} --{key} PATH"
                )
        return request

    # ---- write side
    def corrupt_path(self, journal: Path) -> Path:
        """Where :meth:`repair` moves a journal's unreadable lines (``records.corrupt.jsonl``)."""
        return journal.with_name(f"{journal.stem}.corrupt.jsonl")

    def check_files(self) -> None:
        """Refuse a run directory whose files a run would write through a link or into
        something that is not a regular file (a directory, a device, a FIFO).

        ``lstat`` sees the link itself; the writers also open with ``O_NOFOLLOW``, so a link
        planted between this check and the write fails the write instead of following it.
        """
        names = [*LAYOUT]
        journals = (RECORDS_FILE, ANNOTATIONS_FILE, ITERATIONS_FILE, ANSWERS_FILE)
        names += [self.corrupt_path(self.path / n).name for n in journals]
        names += [
            f".{n}.tmp"
            for n in (RUN_FILE, RECORDS_FILE, ITERATIONS_FILE, DEDUP_FILE, ACCEPTED_FILE)
        ]
        names += [f".{SUMMARY_FILE}.tmp"]
        for name in names:
            path = self.path / name
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise RunDirectoryError(f"cannot inspect {path}: {exc.strerror}") from None
            if stat.S_ISLNK(mode):
                raise RunDirectoryError(
                    f"{path} is a symbolic link; a run never writes through a link. Remove it "
                    "(the file it points to is untouched) or choose a new --out"
                )
            if not stat.S_ISREG(mode):
                raise RunDirectoryError(
                    f"{path} is {file_kind(mode)}, not a file gra-graph wrote; a run only reads "
                    "and writes its own regular files there. Move it aside, or choose a new --out"
                )

    def repair(self, journal: Path, key: Any) -> JournalRepair:
        """Repair one journal (lock holder only): see :func:`gra_graph.output.repair_journal`;
        ``key(row)`` validates a row and returns its identity."""
        return repair_journal(journal, self.corrupt_path(journal), key)

    def set_aside(self, journal: Path, rows: list[dict[str, Any]], reason: str) -> None:
        """Move valid ``rows`` that cannot stay in ``journal`` to its side file, with
        ``reason`` (lock holder only; the caller rewrites the journal without them)."""
        if rows:
            side = [{"line": None, "reason": reason, "text": json.dumps(r)} for r in rows]
            append_jsonl(self.corrupt_path(journal), side)

    def check_writable(self) -> None:
        """Fail before any model loads if the directory cannot be created or written.

        Probes the directory (or, when it does not exist yet, its nearest existing parent) by
        creating and removing a temporary file, which works for permissions, read-only file
        systems and paths through a regular file alike; nothing is left behind.
        """
        probe = self.path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise RunDirectoryError(f"cannot create {self.path}: {probe} is not a directory")
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot write to {self.path}: {exc.strerror or exc} (in {probe})"
            ) from None

    def check_matches(self, manifest: dict[str, Any]) -> None:
        """Refuse a directory that holds another run, or files that are not a run's."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirectoryError(f"{self.path} exists and is not a directory")
        if self.run_file.exists():
            try:
                previous = self.manifest()
            except RunInfoError as exc:
                raise RunDirectoryError(str(exc)) from None
            mismatched = [
                k for k, v in manifest.items() if previous.get(k, _MANIFEST_DEFAULTS.get(k)) != v
            ]
            if mismatched:
                what = "; ".join(f"{k} ({_MANIFEST_MEANING.get(k, 'setting')})" for k in mismatched)
                raise RunDirectoryError(
                    f"{self.path} holds a different run: differs in {what}. Resume it with "
                    "its original graph, prompts, seeds and settings, or choose a new --out"
                )
        elif self.path.exists() and any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise RunDirectoryError(
                f"{self.path} is not empty and holds no gra run; choose a new --out"
            )

    def lock(self) -> None:
        """Take the directory's lock (see :mod:`gra_graph.runlock`), or refuse naming the
        holder."""
        if self._lock is not None:
            return
        self.check_files()  # before the lock file is opened: it may be a planted link
        try:
            self._lock = runlock.acquire(self.path)
        except runlock.RunLockedError as exc:
            raise RunDirectoryError(str(exc)) from None
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot lock {self.path / LOCK_FILE}: {exc.strerror}"
            ) from None

    def unlock(self) -> None:
        """Let the lock go (last: nothing of the run writes after this)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def open_for_run(self, manifest: dict[str, Any], request: ResumeRequest | None = None) -> None:
        """Create (or take over) the directory for the run ``manifest`` describes.

        Takes the lock, checks again under it that the directory holds this run or nothing,
        then writes ``run.json`` (new run) or sets its status to ``running`` (resume).
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.lock()
            # again under the lock: another process may have started a run here meanwhile
            self.check_matches(manifest)
            if not self.run_file.exists():
                write_json_atomic(
                    self.run_file,
                    {
                        **manifest,
                        "created": datetime.now(UTC).isoformat(timespec="seconds"),
                        "command": request.model_dump() if request else {},
                        "status": "running",
                    },
                )
            else:
                self.set_status("running")
        except OSError as exc:
            raise RunDirectoryError(f"cannot write to {self.path}: {exc.strerror}") from None

    def set_status(self, status: str) -> None:
        """Write ``status`` into ``run.json`` (atomically; nothing if it is already that)."""
        data = json.loads(self.run_file.read_text(encoding="utf-8"))
        if data.get("status") != status:
            data["status"] = status
            write_json_atomic(self.run_file, data)

    def append(self, path: Path, row: dict[str, Any]) -> None:
        """Append one row to one of this run's journals, fsynced."""
        append_jsonl(path, [row])

    def append_answer(self, row: dict[str, Any], check: Callable[[], None] | None = None) -> None:
        """Append one answer to the answers journal, fsynced, under the journal's own lock
        (``check()`` runs under it first and may refuse): answers come from other processes
        than the run's (``gra review``, a viewer), possibly while the run holds the
        directory."""
        append_jsonl_exclusive(self.answers_path, [row], check)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.summary_path, summary)

    def replace_rows(self, path: Path, rows: Iterator[dict[str, Any]]) -> int:
        """Replace a derived file (accepted, dedup) with ``rows`` in one rename."""
        return write_jsonl_atomic(path, rows)


def run_status(run_dir: Path, manifest: dict[str, Any]) -> str:
    """One of :data:`STATUSES` for the run in ``run_dir`` whose ``run.json`` is ``manifest``."""
    return RunDir(run_dir).status(manifest)


def run_info(run_dir: Path) -> RunInfo:
    """Status, progress and outcome of one run directory."""
    return RunDir(run_dir).info()


def run_dirs(parent: Path) -> list[Path]:
    """The run directories ``gra runs`` lists: ``parent`` if it is one, and those under it."""
    if not parent.is_dir():
        raise RunInfoError(f"{parent} is not a directory")
    candidates = [parent] if RunDir(parent).is_run() else []
    candidates += sorted(p for p in parent.iterdir() if p.is_dir() and RunDir(p).is_run())
    return candidates


def list_runs(parent: Path) -> list[RunInfo]:
    """Every readable run directory directly under ``parent`` (and ``parent`` if it is one)."""
    infos = []
    for run_dir in run_dirs(parent):
        try:
            infos.append(RunDir(run_dir).info())
        except (RunInfoError, ValueError, TypeError):
            continue  # an unreadable or damaged run.json is not a run to list
    return infos


def run_rows(parent: Path) -> list[dict[str, Any]]:
    """One row per run directory for a listing; a directory that cannot be read is a row
    saying why (status ``unreadable``), so one damaged run.json never hides the others."""
    rows: list[dict[str, Any]] = []
    for run_dir in run_dirs(parent):
        try:
            rows.append(RunDir(run_dir).info().as_dict())
        except Exception as exc:  # any damage at all: this row says so, the rest still list
            rows.append(
                {
                    "path": str(run_dir),
                    "status": "unreadable",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
    return rows
