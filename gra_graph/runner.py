"""Seeds in, records out: concurrency, checkpoints, resume, output files and accounting.

One LangGraph thread per seed-sample (``thread_id`` = ``"{seed_index}-{sample_index}"``) is
checkpointed to ``checkpoints.sqlite`` after every step (durability ``sync``). A record is
appended to ``records.jsonl`` (and fsynced) once its thread ends; running the same command
again skips every seed-sample that has a record, finishes threads that have a final checkpoint
but no record, and continues the others from their last checkpoint. ``accepted.jsonl`` is
derived from the records at the end, after the near-duplicate filter, in one atomic rename.
A thread's checkpoints are deleted once its record is fsynced (``checkpoints.prune_finished``).
One process at a time may run in a directory (``run.lock``, see :mod:`gra_graph.runlock`).

``run.json`` ``status``: ``running`` while a run holds the directory (a ``running`` run whose
lock is free was killed: crashed), ``complete``, ``incomplete`` (some seed-samples failed with
an error; run again) or ``interrupted`` (stopped early: Ctrl-C, or the caller stopped reading).

Run directory layout::

    run.json            what was run (graph and seeds fingerprints, settings) and its status
    run.lock            held (flock) by the live run; names its pid and host
    checkpoints.sqlite  LangGraph checkpoints, one thread per seed-sample (pruned once recorded)
    annotations.jsonl   seeds annotated by a member (keywords/summary/domain were missing)
    records.jsonl       one provenance record per seed-sample, in finishing order
    dedup.jsonl         the near-duplicate decision for each accepted record
    accepted.jsonl      the kept training rows: instruction, response, domain, keywords, summary
    summary.json        counts, tokens, seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gra_graph import checkpoints, runlock
from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.crashpoints import crash_point
from gra_graph.dedup import EMBEDDERS, near_duplicate_filter
from gra_graph.graph import build_graph
from gra_graph.llm.faults import with_faults
from gra_graph.llm.members import Members, check_member_models, load_members
from gra_graph.nodes.annotate import annotate_seed
from gra_graph.output import (
    append_jsonl,
    is_out_of_space,
    iter_jsonl,
    read_jsonl_repairing,
    write_json_atomic,
    write_jsonl_atomic,
)
from gra_graph.pools import FewShotPools
from gra_graph.prompts import PromptTemplate, load_prompts
from gra_graph.records import build_record, failed_record
from gra_graph.roles import sample_rng
from gra_graph.seeds import SeedFile, seeds_fingerprint
from gra_graph.state import CallRecord, PoolEntry, Record, Seed

MANIFEST_VERSION = 1
LOCK_FILE = runlock.LOCK_FILE


_MANIFEST_MEANING = {
    "graph_fingerprint": "the graph file's settings changed",
    "prompts_fingerprint": "a prompt file changed",
    "seeds_fingerprint": "the seeds changed, or --limit",
    "seeds": "the number of seeds",
    "version": "written by another gra-graph version",
}


class RunDirectoryError(RuntimeError):
    """The output directory cannot hold this run (another run's files, not writable)."""


class RunWriteError(RuntimeError):
    """Writing the run's files failed mid-run (a full disk); what was written is intact.

    The run stops taking new seed-samples; records written before are complete lines, and the
    seed-samples without a record resume from their checkpoints when the same command runs
    again.
    """


class RunSummary(BaseModel):
    """Totals of a run (also written to ``summary.json``)."""

    seed_samples: int = 0
    resumed_records: int = 0
    accepted: int = 0
    rejected: int = 0
    kept_after_dedup: int = 0
    near_duplicates: int = 0
    adjudicated: int = 0
    revised: int = 0
    abstentions: int = 0
    errors: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    wall_seconds: float = 0.0
    generated_tokens_per_second: float = 0.0
    seconds_per_seed_sample: float | None = None
    checkpoint_db_bytes: int = 0
    rejection_reasons: dict[str, int] = {}
    faults: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="failed call attempts per member and fault kind (exception, timeout, empty, "
        "invalid_json, schema), seed annotation included",
    )

    def count_faults(self, calls: Iterable[CallRecord]) -> None:
        """Add the failed attempts of ``calls`` to :attr:`faults`."""
        for call in calls:
            for kind in call.faults:
                per_member = self.faults.setdefault(call.member, {})
                per_member[kind] = per_member.get(kind, 0) + 1

    @property
    def complete(self) -> bool:
        return self.errors == 0 and self.accepted + self.rejected == self.seed_samples


class RunObserver:
    """Hooks for progress displays; every method is optional."""

    def on_start(self, total: int, already_done: int) -> None: ...
    def on_tokens(self, completion_tokens: int) -> None: ...
    def on_record(self, record: Record, resumed: bool) -> None: ...
    def on_error(self, key: tuple[int, int], error: BaseException) -> None: ...


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


class Runner:
    """Runs seeds through the GRA graph into a run directory.

    Use as an async context manager; :meth:`records` yields each seed-sample's record as it
    finishes. Everything that can be wrong with the inputs (prompts, model files, the output
    directory) fails in ``__aenter__``, before any model call and before anything is written.

    Example:
        >>> async with Runner(config, seeds, "runs/demo") as runner:  # doctest: +SKIP
        ...     async for record in runner.records():
        ...         print(record.status, record.reason)
    """

    def __init__(
        self,
        config: GraphConfig,
        seeds: Sequence[Seed] | SeedFile,
        out_dir: str | Path,
        *,
        samples_per_seed: int = 1,
        concurrency: int = 4,
        seed: int = 0,
        members: Members | None = None,
        observer: RunObserver | None = None,
        command: dict[str, Any] | None = None,
    ) -> None:
        if samples_per_seed < 1:
            raise ValueError("samples_per_seed must be >= 1")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not seeds:
            raise ValueError("no seeds")
        self.config = config
        # a SeedFile is read lazily (twice: annotation and pools, then sampling); a list as is
        self.seeds: Sequence[Seed] | SeedFile = (
            seeds if isinstance(seeds, SeedFile) else list(seeds)
        )
        self.out_dir = Path(out_dir)
        self.samples_per_seed = samples_per_seed
        self.concurrency = concurrency
        self.seed = seed
        self.observer = observer or RunObserver()
        self.command = command or {}
        self._members = members
        self._owns_members = members is None
        self._stack = AsyncExitStack()
        self._write_lock = asyncio.Lock()
        self.summary = RunSummary(seed_samples=len(self.seeds) * samples_per_seed)
        self.run_id = ""
        self._resumed_tokens = 0
        self._write_error: BaseException | None = None
        self._lock: runlock.RunLock | None = None
        self._prepared = False  # run.json is ours to update
        self._finished = False
        self._generators: list[AsyncIterator[Record]] = []
        self._prompts: dict[Any, PromptTemplate] = {}

    # ---- paths
    @property
    def records_path(self) -> Path:
        return self.out_dir / "records.jsonl"

    @property
    def accepted_path(self) -> Path:
        return self.out_dir / "accepted.jsonl"

    @property
    def checkpoints_path(self) -> Path:
        return self.out_dir / "checkpoints.sqlite"

    def _manifest(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "graph": self.config.name,
            "graph_fingerprint": self.config.fingerprint(),
            "prompts_fingerprint": prompts_fingerprint(self._prompts),
            "seeds_fingerprint": seeds_fingerprint(self.seeds),
            "seeds": len(self.seeds),
            "samples_per_seed": self.samples_per_seed,
            "seed": self.seed,
        }

    # ---- lifecycle
    async def __aenter__(self) -> Runner:
        self._prompts = prompts = load_prompts(self.config)
        if self.config.dedup.enabled and self.config.dedup.embedder == "minilm":
            from gra_graph.minilm import model_dir

            model_dir()  # fail now, not after the run, if the embedder is missing
        manifest = self._manifest()
        self._check_writable()
        if self._members is None:
            check_member_models(self.config)
        try:
            if (self.out_dir / "run.json").is_file():
                self._take_lock()  # a live run here is the first thing to refuse
            self._check_out_dir(manifest)
            if self._members is None:
                self._members = await asyncio.to_thread(load_members, self.config)
            self._prepare_out_dir(manifest)
            self.run_id = (
                f"{self.config.name}-{manifest['graph_fingerprint'][:6]}-"
                f"{manifest['seeds_fingerprint'][:6]}-s{self.seed}"
            )
            members = with_faults(self._members, self.config)  # as is, unless faults are set
            self.context = GraContext(self.config, members, prompts, self.seed)
            self.saver = await self._stack.enter_async_context(
                checkpoints.open_checkpointer(self.checkpoints_path)
            )
            self.graph = build_graph(checkpointer=self.saver)
        except BaseException:
            await self._close()  # `async with` skips __aexit__ on failure
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            for gen in self._generators:  # a caller that stopped reading: cancel in-flight work
                await gen.aclose()  # type: ignore[attr-defined]
            stopped = exc_type is None or issubclass(
                exc_type, asyncio.CancelledError | KeyboardInterrupt
            )
            if self._prepared and not self._finished and stopped:
                self._set_status("interrupted")  # any other exception leaves it "running"
        finally:
            await self._close()

    async def _close(self) -> None:
        try:
            await self._stack.aclose()
            if self._owns_members and self._members is not None:
                self._members.close()
        finally:
            if self._lock is not None:
                self._lock.release()  # last: nothing of this run writes after this
                self._lock = None

    def _take_lock(self) -> None:
        if self._lock is None:
            try:
                self._lock = runlock.acquire(self.out_dir)
            except runlock.RunLockedError as exc:
                raise RunDirectoryError(str(exc)) from None
            except OSError as exc:
                raise RunDirectoryError(
                    f"cannot lock {self.out_dir / LOCK_FILE}: {exc.strerror}"
                ) from None

    def _check_out_dir(self, manifest: dict[str, Any]) -> None:
        run_file = self.out_dir / "run.json"
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise RunDirectoryError(f"{self.out_dir} exists and is not a directory")
        if run_file.exists():
            try:
                previous = json.loads(run_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RunDirectoryError(f"{run_file} is unreadable: {exc}") from None
            mismatched = [k for k, v in manifest.items() if previous.get(k) != v]
            if mismatched:
                what = "; ".join(f"{k} ({_MANIFEST_MEANING.get(k, 'setting')})" for k in mismatched)
                raise RunDirectoryError(
                    f"{self.out_dir} holds a different run: differs in {what}. Resume it with "
                    "its original graph, prompts, seeds and settings, or choose a new --out"
                )
        elif self.out_dir.exists() and any(p.name != LOCK_FILE for p in self.out_dir.iterdir()):
            raise RunDirectoryError(
                f"{self.out_dir} is not empty and holds no gra run; choose a new --out"
            )

    def _check_writable(self) -> None:
        """Fail before any model loads if the run directory cannot be created or written.

        Probes the directory (or, when it does not exist yet, its nearest existing parent) by
        creating and removing a temporary file, which works for permissions, read-only file
        systems and paths through a regular file alike; nothing is left behind.
        """
        probe = self.out_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise RunDirectoryError(
                f"cannot create {self.out_dir}: {probe} is not a directory"
            )
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot write to {self.out_dir}: {exc.strerror or exc} (in {probe})"
            ) from None

    def _append(self, path: Path, row: dict[str, Any]) -> bool:
        """Append one journal row; on a full disk remember the error and return ``False``."""
        if self._write_error is not None:
            return False
        try:
            append_jsonl(path, [row])
        except OSError as exc:
            self._write_error = exc
            return False
        return True

    def _raise_write_error(self) -> None:
        exc = self._write_error
        if exc is not None:
            what = getattr(exc, "strerror", None) or str(exc)
            raise RunWriteError(
                f"cannot write to {self.out_dir}: {what}. The run stopped; every record already "
                "written is complete. Free some space and run the same command again to resume."
            ) from exc

    def _prepare_out_dir(self, manifest: dict[str, Any]) -> None:
        run_file = self.out_dir / "run.json"
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            # again under the lock: another process may have started a run here meanwhile
            self._check_out_dir(manifest)
            if not run_file.exists():
                write_json_atomic(
                    run_file,
                    {
                        **manifest,
                        "created": datetime.now(UTC).isoformat(timespec="seconds"),
                        "command": self.command,
                        "status": "running",
                    },
                )
            else:
                self._set_status("running")
        except OSError as exc:
            raise RunDirectoryError(f"cannot write to {self.out_dir}: {exc.strerror}") from None
        self._prepared = True

    def _set_status(self, status: str) -> None:
        run_file = self.out_dir / "run.json"
        data = json.loads(run_file.read_text(encoding="utf-8"))
        if data.get("status") != status:
            data["status"] = status
            write_json_atomic(run_file, data)

    # ---- the run
    def records(self) -> AsyncIterator[Record]:
        """Run every unfinished seed-sample; yield each record as its thread ends.

        Records that an earlier, interrupted run already wrote are yielded first. Leaving the
        ``async with`` block before the last record cancels the seed-samples in flight (their
        checkpoints are kept) and marks the run ``interrupted``.
        """
        gen = self._records()
        self._generators.append(gen)
        return gen

    async def _records(self) -> AsyncIterator[Record]:
        started = time.perf_counter()
        previous = [Record.model_validate(r) for r in read_jsonl_repairing(self.records_path)]
        done = {r.key for r in previous}
        if self.config.checkpoints.prune_finished:
            # a kill between a record's fsync and its prune leaves rows behind: drop them now
            left = await checkpoints.finished_threads_left(
                self.saver, (checkpoints.thread_id(k) for k in done)
            )
            await checkpoints.prune_threads(self.saver, left)
        self.observer.on_start(self.summary.seed_samples, len(done))
        self._resumed_tokens = sum(r.completion_tokens for r in previous)
        for record in previous:
            self.summary.resumed_records += 1
            self._count(record, resumed=True)
            yield record

        annotations = await self._annotate_seeds()
        pools = self._pools(annotations)

        def pending() -> Iterator[tuple[tuple[int, int], Seed, Seed | None]]:
            # lazy: workers pull one seed-sample at a time, so the seeds file is never held whole
            for i, original in enumerate(self.seeds):
                filled = original if original.annotated else annotations.get(i)
                for j in range(self.samples_per_seed):
                    if (i, j) not in done:
                        yield (i, j), original, filled

        queue: asyncio.Queue[Record | None] = asyncio.Queue()
        keys = pending()
        todo = self.summary.seed_samples - len(done)

        async def worker() -> None:
            for key, original, filled in keys:
                if self._write_error is not None:
                    return  # the disk is full: take no new work; the rest resumes next run
                try:
                    record = await self._run_one(key, original, filled, pools)
                except Exception as exc:  # counted and reported; the thread resumes next run
                    if is_out_of_space(exc):  # a checkpoint write failed: stop, as above
                        self._write_error = self._write_error or exc
                        return
                    self.summary.errors += 1
                    self.observer.on_error(key, exc)
                    continue
                async with self._write_lock:
                    if not self._append(self.records_path, record.model_dump(mode="json")):
                        return
                crash_point("after-records-append")
                if self.config.checkpoints.prune_finished:
                    # only now, with the record durable, are the thread's checkpoints garbage
                    try:
                        await checkpoints.prune_threads(self.saver, [checkpoints.thread_id(key)])
                    except Exception as exc:  # the record is safe; the prune is redone at start
                        if is_out_of_space(exc):
                            self._write_error = self._write_error or exc
                            return
                        raise
                self._count(record, resumed=False)
                await queue.put(record)

        async def supervise() -> None:
            try:
                await asyncio.gather(
                    *(worker() for _ in range(max(1, min(self.concurrency, todo))))
                )
            finally:
                await queue.put(None)

        supervisor = asyncio.create_task(supervise())
        try:
            while (record := await queue.get()) is not None:
                yield record
            await supervisor
        finally:
            if not supervisor.done():
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
        self._raise_write_error()
        self.summary.wall_seconds = round(time.perf_counter() - started, 3)
        try:
            await self._finish()
        except OSError as exc:
            self._write_error = exc
            self._raise_write_error()

    async def _run_one(
        self,
        key: tuple[int, int],
        original: Seed,
        seed: Seed | None,
        pools: FewShotPools,
    ) -> Record:
        seed_index, sample_index = key
        if seed is None:
            return failed_record(
                self.run_id,
                seed_index,
                sample_index,
                original.domain or "unknown",
                "seed annotation failed: no member produced usable keywords/summary for this seed",
            )
        thread_id = checkpoints.thread_id(key)
        thread = {"configurable": {"thread_id": thread_id}}
        snapshot = await self.graph.aget_state(thread)
        # A thread that has a checkpoint is always resumed, never judged finished from
        # `snapshot.next`: that lists only the tasks of the checkpoint's step still without
        # writes, so a kill after a step's writes were saved but before the next checkpoint
        # was committed shows `next == ()` on a thread that has steps left. Resuming a thread
        # that did finish runs nothing.
        start = None if snapshot.values else self._initial_state(key, seed, pools)
        async for chunk in self.graph.astream(
            start, thread, context=self.context, stream_mode="updates", durability="sync"
        ):
            self._observe(chunk)
        snapshot = await self.graph.aget_state(thread)
        if snapshot.next:
            raise RuntimeError(f"thread {thread_id} stopped with steps left: {snapshot.next}")
        return build_record(snapshot.values, self.run_id, self.context.members)

    def _initial_state(
        self, key: tuple[int, int], seed: Seed, pools: FewShotPools
    ) -> dict[str, Any]:
        seed_index, sample_index = key
        assert seed.domain and seed.keywords and seed.summary
        own = PoolEntry(keywords=seed.keywords, summary=seed.summary)
        others = [p for p in pools.domain(seed.domain) if p != own]
        rng = sample_rng(self.seed, seed_index, sample_index, "pool")
        picks = rng.sample(others, min(len(others), self.config.generation.few_shot - 1))
        return {
            "run_id": self.run_id,
            "seed_index": seed_index,
            "sample_index": sample_index,
            "seed": seed.model_dump(),
            "domain": seed.domain,
            "pool": [p.model_dump() for p in [own, *picks]],
        }

    def _observe(self, chunk: dict[str, Any]) -> None:
        for update in chunk.values():
            if isinstance(update, dict):
                tokens = sum(c.get("completion_tokens", 0) for c in update.get("calls", []))
                if tokens:
                    self.observer.on_tokens(tokens)

    # ---- seed annotation and pools
    async def _annotate_seeds(self) -> dict[int, Seed | None]:
        """Annotate every seed that lacks metadata (once per run); only those are returned.

        Streams the seeds with at most ``concurrency`` annotations in flight. The annotations
        (one small seed each) are kept in memory for the run; seeds that arrive annotated are
        not, they are read again from the file when their turn comes.
        """
        path = self.out_dir / "annotations.jsonl"
        cached = {row["seed_index"]: row for row in read_jsonl_repairing(path)}
        result: dict[int, Seed | None] = {}

        def todo() -> Iterator[tuple[int, Seed]]:
            for i, seed in enumerate(self.seeds):
                if seed.annotated:
                    continue
                row = cached.pop(i, None)
                if row is None:
                    yield i, seed
                else:
                    result[i] = Seed.model_validate(row["seed"]) if row["seed"] else None
                    self.summary.count_faults([CallRecord.model_validate(row["call"])])

        queue = todo()

        async def annotate() -> None:
            for i, seed in queue:
                if self._write_error is not None:
                    return
                filled, out = await annotate_seed(self.context, seed, i)
                result[i] = filled
                row = {
                    "seed_index": i,
                    "seed": filled.model_dump() if filled else None,
                    "error": out.error,
                    "call": out.record.model_dump(),
                }
                async with self._write_lock:
                    if not self._append(path, row):
                        return
                self.summary.count_faults([out.record])
                self.observer.on_tokens(out.record.completion_tokens)

        await asyncio.gather(*(annotate() for _ in range(self.concurrency)))
        self._raise_write_error()
        return result

    def _pools(self, annotations: dict[int, Seed | None]) -> FewShotPools:
        """The few-shot pools, from one more streaming pass over the seeds."""
        pools = FewShotPools(self.seed)
        for i, seed in enumerate(self.seeds):
            filled = seed if seed.annotated else annotations.get(i)
            if filled is not None:
                pools.add(filled)
        return pools

    # ---- accounting and the end of a run
    def _count(self, record: Record, resumed: bool) -> None:
        s = self.summary
        if record.status == "accepted":
            s.accepted += 1
        else:
            s.rejected += 1
            kind = _reason_kind(record.reason)
            s.rejection_reasons[kind] = s.rejection_reasons.get(kind, 0) + 1
        s.adjudicated += record.adjudication is not None
        s.revised += bool(record.revisions)
        s.abstentions += sum(c.abstained for c in record.checks)
        s.abstentions += sum(r.abstained for r in record.reviews)
        s.completion_tokens += record.completion_tokens
        s.prompt_tokens += sum(c.prompt_tokens for c in record.calls)
        s.count_faults(record.calls)
        self.observer.on_record(record, resumed)

    async def _finish(self) -> None:
        # streamed: only accepted records are held, for the near-duplicate filter
        accepted = sorted(
            (
                Record.model_validate(row)
                for row in iter_jsonl(self.records_path)
                if row["status"] == "accepted"
            ),
            key=lambda r: r.key,
        )
        kept = self._write_accepted(accepted)
        s = self.summary
        s.kept_after_dedup = len(kept)
        s.near_duplicates = len(accepted) - len(kept)
        s.rejection_reasons = dict(Counter(s.rejection_reasons).most_common())
        s.faults = {m: dict(sorted(k.items())) for m, k in sorted(s.faults.items())}
        fresh_tokens = s.completion_tokens - self._resumed_tokens
        if s.wall_seconds:
            s.generated_tokens_per_second = round(fresh_tokens / s.wall_seconds, 2)
            fresh = s.accepted + s.rejected - s.resumed_records
            if fresh:
                s.seconds_per_seed_sample = round(s.wall_seconds / fresh, 2)
        if s.complete and self.config.checkpoints.prune_finished:
            await checkpoints.compact(self.saver)
        s.checkpoint_db_bytes = checkpoints.database_bytes(self.checkpoints_path)
        write_json_atomic(self.out_dir / "summary.json", s.model_dump())
        crash_point("before-status-write")
        self._set_status("complete" if s.complete else "incomplete")
        self._finished = True

    def _write_accepted(self, accepted: list[Record]) -> list[Record]:
        if self.config.dedup.enabled and accepted:
            decisions = near_duplicate_filter(
                [f"{r.instruction}\n{r.response}" for r in accepted],
                [_rank(r) for r in accepted],
                self.config.dedup.threshold,
                embed=EMBEDDERS[self.config.dedup.embedder],
            )
        else:
            decisions = []
        dropped = {d.index for d in decisions if not d.kept}
        write_jsonl_atomic(
            self.out_dir / "dedup.jsonl",
            (
                {
                    "seed_index": accepted[d.index].seed_index,
                    "sample_index": accepted[d.index].sample_index,
                    "kept": d.kept,
                    "similarity": d.similarity,
                    "nearest": (list(accepted[d.nearest].key) if d.nearest is not None else None),
                }
                for d in decisions
            ),
        )
        kept = [r for i, r in enumerate(accepted) if i not in dropped]
        write_jsonl_atomic(self.accepted_path, (r.accepted_row() for r in kept))
        return kept


def prompts_fingerprint(prompts: dict[Any, PromptTemplate]) -> str:
    """A short hash of every stage's prompt text: editing a prompt changes a run's results."""
    digest = hashlib.sha256()
    for stage in sorted(prompts):
        digest.update(f"{stage}\0{prompts[stage].text}\0".encode())
    return digest.hexdigest()[:16]


def _rank(record: Record) -> float:
    """Dedup order: the committee mean, or the adjudicator's composite when it decided."""
    if record.adjudication is not None and record.adjudication.composite is not None:
        return record.adjudication.composite
    return record.mu or 0.0


async def run_seeds(
    config: GraphConfig,
    seeds: Sequence[Seed] | SeedFile,
    out_dir: str | Path,
    *,
    samples_per_seed: int = 1,
    concurrency: int = 4,
    seed: int = 0,
    members: Members | None = None,
    observer: RunObserver | None = None,
) -> AsyncIterator[Record]:
    """Run seeds through the GRA graph, yielding each seed-sample's record as it finishes.

    Example:
        >>> config = GraphConfig.from_file("graphs/gra.yaml")  # doctest: +SKIP
        >>> async for record in run_seeds(config, read_seeds("examples/seeds.jsonl"),
        ...                               "runs/api"):  # doctest: +SKIP
        ...     print(record.status, record.reason)
    """
    async with Runner(
        config,
        seeds,
        out_dir,
        samples_per_seed=samples_per_seed,
        concurrency=concurrency,
        seed=seed,
        members=members,
        observer=observer,
    ) as runner:
        async for record in runner.records():
            yield record


__all__ = [
    "RunDirectoryError",
    "RunObserver",
    "RunSummary",
    "RunWriteError",
    "Runner",
    "run_seeds",
]
