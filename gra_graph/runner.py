"""Seeds in, records out: the runner schedules seed-samples through the graph.

One LangGraph thread per seed-sample (``thread_id`` = ``"{seed_index}-{sample_index}"``) is
checkpointed to the run's checkpoint database after every step (durability ``sync``). A record
is appended to the records journal (and fsynced) once its thread ends; running the same command
again skips every seed-sample that has a record and continues every other thread from its last
checkpoint. A thread's checkpoints are deleted once its record is fsynced
(``checkpoints.prune_finished``).

The runner owns scheduling only. The run directory (layout, manifest, lock, status, journals)
is :class:`~gra_graph.rundirs.RunDir`'s; the summary, dedup and accepted rows are
:mod:`gra_graph.export`'s; annotation and few-shot pools are :mod:`gra_graph.seeding`'s.

A thread that stops at an interrupt (a breakpoint asked for with ``interrupt_before``, or a
node calling LangGraph's ``interrupt()``) is *paused*, not failed: it gets no record, the run
ends with status ``paused``, and running the same command again resumes it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from gra_graph import checkpoints
from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.crashpoints import crash_point
from gra_graph.export import Accounting, RunSummary, accepted_records, write_accepted
from gra_graph.graph import build_graph
from gra_graph.llm.faults import with_faults
from gra_graph.llm.members import Members, check_member_models, load_members
from gra_graph.output import is_out_of_space
from gra_graph.pools import FewShotPools
from gra_graph.prompts import PromptTemplate, load_prompts
from gra_graph.records import build_record, failed_record
from gra_graph.rundirs import (
    MANIFEST_VERSION,
    ResumeRequest,
    RunDir,
    RunDirectoryError,
)
from gra_graph.seeding import annotate_seeds, build_pools, initial_state
from gra_graph.seeds import SeedFile, SeedFileChangedError, seeds_fingerprint
from gra_graph.stages import Stage
from gra_graph.state import Record, Seed

__all__ = [
    "RunDirectoryError",
    "RunObserver",
    "RunSummary",
    "RunWriteError",
    "Runner",
    "run_seeds",
]


class RunWriteError(RuntimeError):
    """Writing the run's files failed mid-run (a full disk); what was written is intact.

    The run stops taking new seed-samples; records written before are complete lines, and the
    seed-samples without a record resume from their checkpoints when the same command runs
    again.
    """


class RunObserver:
    """Hooks for progress displays; every method is optional."""

    def on_loading(self, graph: str, members: int) -> None:
        """Every input checked out; the members' models load now (seconds to minutes)."""

    def on_start(self, total: int, already_done: int) -> None: ...
    def on_tokens(self, completion_tokens: int) -> None: ...
    def on_record(self, record: Record, resumed: bool) -> None: ...
    def on_error(self, key: tuple[int, int], error: BaseException) -> None: ...

    def on_warning(self, message: str) -> None:
        """Something the user should know that did not stop the run (a repaired journal)."""
        logging.getLogger("gra_graph").warning(message)


class _Paused(Exception):
    """A thread stopped at an interrupt: it waits to be resumed, it did not fail."""


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
        command: ResumeRequest | Mapping[str, Any] | None = None,
        interrupt_before: Sequence[str] = (),
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
        self.run_dir = RunDir(out_dir)
        self.samples_per_seed = samples_per_seed
        self.concurrency = concurrency
        self.seed = seed
        self.observer = observer or RunObserver()
        self.command = (
            ResumeRequest.model_validate(dict(command))
            if isinstance(command, Mapping) and command
            else command or None
        )
        self.interrupt_before = tuple(interrupt_before)
        self._members = members
        self._owns_members = members is None
        self._stack = AsyncExitStack()
        self._write_lock = asyncio.Lock()
        self.summary = RunSummary(seed_samples=len(self.seeds) * samples_per_seed)
        self._accounting = Accounting(self.summary)
        self.paused: list[tuple[int, int]] = []
        self.warnings: list[str] = []
        self.run_id = ""
        self._write_error: BaseException | None = None
        self._prepared = False  # run.json is ours to update
        self._finished = False
        self._generators: list[AsyncIterator[Record]] = []
        self._prompts: dict[Stage, PromptTemplate] = {}

    # ---- paths (the run directory's)
    @property
    def out_dir(self) -> Path:
        return self.run_dir.path

    @property
    def records_path(self) -> Path:
        return self.run_dir.records_path

    @property
    def accepted_path(self) -> Path:
        return self.run_dir.accepted_path

    @property
    def checkpoints_path(self) -> Path:
        return self.run_dir.checkpoints_path

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
        self._prompts = load_prompts(self.config)
        if self.config.dedup.enabled and self.config.dedup.embedder == "minilm":
            from gra_graph.minilm import model_dir

            model_dir()  # fail now, not after the run, if the embedder is missing
        manifest = self._manifest()
        self.run_dir.check_writable()
        if self.out_dir.is_dir():  # refuse now what would fail only after the models load
            self.run_dir.check_files()
            checkpoints.check_database(self.checkpoints_path)
        if self._members is None:
            check_member_models(self.config)
        try:
            if self.run_dir.is_run():
                self.run_dir.lock()  # a live run here is the first thing to refuse
            self.run_dir.check_matches(manifest)
            if self._members is None:
                self.observer.on_loading(self.config.name, len(self.config.members))
                self._members = await asyncio.to_thread(load_members, self.config)
            self.run_dir.open_for_run(manifest, self.command)
            self._prepared = True
            self.run_id = (
                f"{self.config.name}-{manifest['graph_fingerprint'][:6]}-"
                f"{manifest['seeds_fingerprint'][:6]}-s{self.seed}"
            )
            members = with_faults(self._members, self.config)  # as is, unless faults are set
            self.context = GraContext.create(self.config, members, self.seed, self._prompts)
            self.saver = await self._stack.enter_async_context(
                checkpoints.open_checkpointer(self.checkpoints_path)
            )
            self.graph = build_graph(
                checkpointer=self.saver, interrupt_before=self.interrupt_before
            )
        except BaseException:
            await self._close()  # `async with` skips __aexit__ on failure
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            for gen in self._generators:  # a caller that stopped reading: cancel in-flight work
                await gen.aclose()  # type: ignore[attr-defined]
            stopped = exc_type is None or issubclass(
                exc_type, asyncio.CancelledError | KeyboardInterrupt | SeedFileChangedError
            )
            if self._prepared and not self._finished and stopped:
                self.run_dir.set_status("interrupted")  # any other exception leaves "running"
        finally:
            await self._close()

    async def _close(self) -> None:
        try:
            await self._stack.aclose()
            if self._owns_members and self._members is not None:
                self._members.close()
        finally:
            self.run_dir.unlock()

    # ---- writing, with a full disk turned into a clean stop
    async def _append(self, path: Path, row: dict[str, Any]) -> bool:
        """Append one journal row; on a full disk remember the error and return ``False``."""
        async with self._write_lock:
            if self._write_error is not None:
                return False
            try:
                self.run_dir.append(path, row)
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

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.observer.on_warning(message)

    def _count(self, record: Record, resumed: bool) -> None:
        self._accounting.count(record, resumed)
        self.observer.on_record(record, resumed)

    async def _records(self) -> AsyncIterator[Record]:
        started = time.perf_counter()
        # every valid record is kept; unreadable lines go to records.corrupt.jsonl, repeats go
        repair = self.run_dir.repair(self.records_path, lambda row: Record.model_validate(row).key)
        for message in repair.warnings(
            self.records_path, self.run_dir.corrupt_path(self.records_path)
        ):
            self._warn(message)
        done: set[tuple[int, int]] = repair.keys  # type: ignore[assignment]
        if self.config.checkpoints.prune_finished:
            # a kill between a record's fsync and its prune leaves rows behind: drop them now
            left = await checkpoints.finished_threads_left(
                self.saver, (checkpoints.thread_id(k) for k in done)
            )
            await checkpoints.prune_threads(self.saver, left)
        self.observer.on_start(self.summary.seed_samples, len(done))
        for row in self.run_dir.journal_rows(self.records_path):  # streamed, not held
            record = Record.model_validate(row)
            self._count(record, resumed=True)
            yield record

        def on_call(call: Any) -> None:
            self.summary.count_faults([call])
            self.observer.on_tokens(call.completion_tokens)

        annotations = await annotate_seeds(
            self.context,
            self.seeds,
            self.run_dir,
            self.concurrency,
            lambda row: self._append(self.run_dir.annotations_path, row),
            on_call,
            self._warn,
        )
        self._raise_write_error()
        pools = build_pools(self.seeds, annotations, self.seed)

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

        changed: list[SeedFileChangedError] = []

        def next_key() -> tuple[tuple[int, int], Seed, Seed | None] | None:
            if self._write_error is not None or changed:
                return None  # a full disk, a changed input: take no new work; resume later
            try:
                return next(keys, None)
            except SeedFileChangedError as exc:
                changed.append(exc)
                return None

        async def worker() -> None:
            while (item := next_key()) is not None:
                key, original, filled = item
                try:
                    record = await self._run_one(key, original, filled, pools)
                except _Paused:
                    self.paused.append(key)
                    self.summary.paused += 1
                    continue
                except Exception as exc:  # counted and reported; the thread resumes next run
                    if is_out_of_space(exc):  # a checkpoint write failed: stop, as above
                        self._write_error = self._write_error or exc
                        return
                    self.summary.errors += 1
                    self.observer.on_error(key, exc)
                    continue
                if not await self._append(self.records_path, record.model_dump(mode="json")):
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
        if changed:  # the samples in flight finished on seeds read before the change
            raise changed[0]
        self._raise_write_error()
        try:
            await self._finish(round(time.perf_counter() - started, 3))
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
        start = (
            None
            if snapshot.values
            else initial_state(
                self.run_id, key, seed, pools, self.seed, self.config.generation.few_shot
            )
        )
        async for chunk in self.graph.astream(
            start, thread, context=self.context, stream_mode="updates", durability="sync"
        ):
            self._observe(chunk)
        snapshot = await self.graph.aget_state(thread)
        if snapshot.next:
            if snapshot.interrupts or set(snapshot.next) & set(self.interrupt_before):
                raise _Paused(thread_id)
            raise RuntimeError(f"thread {thread_id} stopped with steps left: {snapshot.next}")
        return build_record(snapshot.values, self.run_id, self._members or {})

    def _observe(self, chunk: dict[str, Any]) -> None:
        for update in chunk.values():
            if isinstance(update, dict):
                tokens = sum(c.get("completion_tokens", 0) for c in update.get("calls", []))
                if tokens:
                    self.observer.on_tokens(tokens)

    # ---- the end of a run
    async def _finish(self, wall_seconds: float) -> None:
        accepted = accepted_records(self.run_dir)  # streamed: only accepted ones are held
        kept = write_accepted(self.run_dir, self.config, accepted)
        if self.summary.complete and self.config.checkpoints.prune_finished:
            await checkpoints.compact(self.saver)
        self._accounting.close(
            wall_seconds,
            kept=len(kept),
            accepted=len(accepted),
            db_bytes=checkpoints.database_bytes(self.checkpoints_path),
        )
        self.run_dir.write_summary(self.summary.model_dump())
        crash_point("before-status-write")
        self.run_dir.set_status(self.summary.status)
        self._finished = True


def prompts_fingerprint(prompts: Mapping[Any, PromptTemplate]) -> str:
    """A short hash of every stage's prompt text: editing a prompt changes a run's results."""
    digest = hashlib.sha256()
    for stage in sorted(prompts):
        digest.update(f"{stage}\0{prompts[stage].text}\0".encode())
    return digest.hexdigest()[:16]


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
