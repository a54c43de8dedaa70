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
ends with status ``paused``, and running the same command again resumes it from there. A thread
waiting for a person (``adjudication: human``) resumes only once an answer is recorded in the
run's answers journal (:mod:`gra_graph.human`), with ``Command(resume=answer)``.

Iterations (``iterations``, docs/method.md section 8): iteration 1 samples the seeds file; once
every one of its seed-samples has a record, the near-duplicate pass runs over its accepted
samples (against everything kept before) and a line in ``iterations.jsonl`` commits what it
kept; those kept samples join the few-shot pools and are the seeds of iteration 2, each drawing
``samples_per_seed`` samples, and so on. Seed indices are run-wide (iteration ``k + 1``'s seeds
are numbered after iteration ``k``'s), so thread ids and record keys never repeat across
iterations. An iteration that keeps nothing ends the run (status ``complete``). An iteration
with failed or paused seed-samples is not finished: the run stops there and resumes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gra_graph import checkpoints
from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.crashpoints import crash_point
from gra_graph.events import (
    IterationStarted,
    Loading,
    RecordWritten,
    RunEvent,
    RunFinished,
    RunObserver,
    RunWarning,
    SampleFailed,
    SamplePaused,
    SamplesPlanned,
    SampleStarted,
    Tokens,
    node_events,
)
from gra_graph.export import (
    Accounting,
    RunSummary,
    accepted_records,
    near_duplicate_pass,
    records_with_keys,
    write_accepted,
)
from gra_graph.graph import build_graph
from gra_graph.human import answer_command
from gra_graph.llm.faults import with_faults
from gra_graph.llm.members import Members, check_member_models, load_members
from gra_graph.output import is_out_of_space
from gra_graph.pools import FewShotPools
from gra_graph.prompts import PromptTemplate, load_prompts
from gra_graph.records import build_record, failed_record, kept_seed
from gra_graph.rundirs import (
    MANIFEST_VERSION,
    FinishedIteration,
    ResumeRequest,
    RunDir,
    RunDirectoryError,
)
from gra_graph.seeding import annotate_seeds, build_pools, grow_pools, initial_state
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


class _Paused(Exception):
    """A thread stopped at an interrupt: it waits to be resumed, it did not fail."""


@dataclass
class _Iteration:
    """One iteration's seeds: ``seeds[p]`` is run-wide seed ``base + p``."""

    number: int
    base: int
    seeds: Sequence[Seed] | SeedFile
    annotations: dict[int, Seed | None] = field(default_factory=dict)

    @property
    def seed_range(self) -> range:
        return range(self.base, self.base + len(self.seeds))

    def done_in(self, done: set[tuple[int, int]]) -> int:
        """How many of this iteration's seed-samples have a record."""
        return sum(1 for key in done if key[0] in self.seed_range)


class Runner:
    """Runs seeds through the GRA graph into a run directory.

    Use as an async context manager; :meth:`records` yields each seed-sample's record as it
    finishes, :meth:`events` every event of the run (:mod:`gra_graph.events`), which the
    ``observer`` receives too. Everything that can be wrong with the inputs (prompts, model
    files, the output directory) fails in ``__aenter__``, before any model call and before
    anything is written. ``iterations`` runs the paper's rounds (see the module docstring);
    1 is one round.

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
        iterations: int = 1,
    ) -> None:
        if samples_per_seed < 1:
            raise ValueError("samples_per_seed must be >= 1")
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
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
        self.iterations = iterations
        self.concurrency = concurrency
        self.seed = seed
        self.observer = observer or RunObserver()
        # every event goes to each listener: the observer first, then any events() reader
        self._listeners: list[Callable[[RunEvent], None]] = [self.observer.on_event]
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
        self.summary = RunSummary(iterations_planned=iterations)
        self._accounting = Accounting(self.summary)
        self._accounting.start_iteration(1, len(self.seeds) * samples_per_seed)
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
            "iterations": self.iterations,
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
                self._emit(Loading(self.config.name, len(self.config.members)))
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

        Records that an earlier, interrupted run already wrote are yielded first (with several
        iterations, at the start of their iteration). Leaving the ``async with`` block before
        the last record cancels the seed-samples in flight (their checkpoints are kept) and
        marks the run ``interrupted``.
        """
        gen = self._records()
        self._generators.append(gen)
        return gen

    def events(self) -> AsyncIterator[RunEvent]:
        """Run the seed-samples as :meth:`records` does; yield every event of the run.

        The events (:mod:`gra_graph.events`) come in the order they happen: each iteration
        and seed-sample starting, each node entered and left, checks, scores, verdicts,
        revisions, tokens, each record written, and last :class:`~gra_graph.events.RunFinished`.
        The runner's observer receives the same events. Use either this or :meth:`records`,
        not both; leaving the ``async with`` block early stops the run as :meth:`records` does.
        """
        gen = self._events()
        self._generators.append(gen)
        return gen

    async def _events(self) -> AsyncIterator[RunEvent]:
        done = object()  # the end of the stream
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._listeners.append(queue.put_nowait)

        async def drive() -> None:
            try:
                async with aclosing(self._records()) as records:
                    async for _ in records:
                        pass
            finally:
                queue.put_nowait(done)

        task = asyncio.create_task(drive())
        try:
            while (event := await queue.get()) is not done:
                yield event
            await task  # the run's own error (a full disk, a changed input) is raised here
        finally:
            self._listeners.remove(queue.put_nowait)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _emit(self, event: RunEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self._emit(RunWarning(message))

    def _count(self, record: Record, resumed: bool) -> None:
        self._accounting.count(record, resumed)
        self._emit(RecordWritten(record, resumed))

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
        ledger = {line.iteration: line for line in self._finished_iterations()}
        plan: _Iteration | None = _Iteration(1, 0, self.seeds)
        unfinished: _Iteration | None = None
        pools: FewShotPools | None = None
        kept_before: list[Record] = []
        while plan is not None:
            self._accounting.start_iteration(plan.number, len(plan.seeds) * self.samples_per_seed)
            self._emit(IterationStarted(plan.number, self.iterations))
            self._emit(SamplesPlanned(len(plan.seeds) * self.samples_per_seed, plan.done_in(done)))
            async with aclosing(self._resumed(plan, done)) as resumed:
                async for record in resumed:
                    yield record
            plan.annotations = await self._annotate(plan)
            if pools is None:
                pools = build_pools(plan.seeds, plan.annotations, self.seed)
            else:  # the samples the last iteration kept join the pools for good
                grow_pools(pools, plan.seeds, plan.annotations, plan.base)
            async with aclosing(self._run_pending(plan, pools, done)) as fresh:
                async for record in fresh:
                    yield record
            if plan.done_in(done) < len(plan.seeds) * self.samples_per_seed:
                unfinished = plan  # failed or paused seed-samples: resume here, go no further
                break
            line = ledger.get(plan.number)
            if line is None:
                line, kept = await self._end_iteration(plan, kept_before, ledger)
                ledger[line.iteration] = line
            else:
                kept = self._kept_records(line)
            self._accounting.iteration_kept(plan.number, line.accepted, len(line.kept))
            kept_before += kept
            plan = self._next_iteration(plan, line, kept)
        try:
            await self._finish(
                round(time.perf_counter() - started, 3), ledger, kept_before, unfinished
            )
        except OSError as exc:
            self._write_error = exc
            self._raise_write_error()

    def _finished_iterations(self) -> list[FinishedIteration]:
        """The iterations ``iterations.jsonl`` says are finished (lock holder: repaired first).

        A line that is valid but does not continue the sequence 1, 2, 3... (its predecessor was
        damaged) is moved to the side file with the unreadable ones: that iteration and the ones
        after it are finished again from their records.
        """
        path = self.run_dir.iterations_path
        side = self.run_dir.corrupt_path(path)
        repair = self.run_dir.repair(
            path, lambda row: FinishedIteration.model_validate(row).iteration
        )
        for message in repair.warnings(path, side):
            self._warn(message)
        rows = list(self.run_dir.journal_rows(path))  # one short line per iteration
        lines = [FinishedIteration.model_validate(row) for row in rows]  # repaired: all valid
        prefix: list[FinishedIteration] = []
        for line in sorted(lines, key=lambda line: line.iteration):
            if line.iteration != len(prefix) + 1 or line.iteration > self.iterations:
                break
            prefix.append(line)
        if [line.iteration for line in lines] != [line.iteration for line in prefix]:
            keep = {line.iteration for line in prefix}
            self.run_dir.set_aside(
                path, [row for row in rows if row["iteration"] not in keep], "out of sequence"
            )
            self.run_dir.replace_rows(path, (line.model_dump(mode="json") for line in prefix))
            self._warn(
                f"{path.name}: line(s) out of sequence moved to {side.name}; iterations from "
                f"{len(prefix) + 1} on are finished again from their records"
            )
        return prefix

    async def _resumed(self, plan: _Iteration, done: set[tuple[int, int]]) -> AsyncIterator[Record]:
        """The records an earlier run wrote for this iteration's seed-samples (streamed)."""
        if not plan.done_in(done):
            return
        for row in self.run_dir.journal_rows(self.records_path):  # streamed, not held
            if row.get("seed_index") in plan.seed_range:
                record = Record.model_validate(row)
                self._count(record, resumed=True)
                yield record

    def _on_call(self, call: Any) -> None:
        self.summary.count_faults([call])
        if call.completion_tokens:
            self._emit(Tokens(call.completion_tokens))

    async def _annotate(self, plan: _Iteration) -> dict[int, Seed | None]:
        """Annotations of this iteration's seeds that lack metadata (journaled)."""
        annotations = await annotate_seeds(
            self.context,
            plan.seeds,
            self.run_dir,
            self.concurrency,
            lambda row: self._append(self.run_dir.annotations_path, row),
            self._on_call,
            self._warn,
            first_index=plan.base,
        )
        self._raise_write_error()
        return annotations

    async def _run_pending(
        self, plan: _Iteration, pools: FewShotPools, done: set[tuple[int, int]]
    ) -> AsyncIterator[Record]:
        """Run this iteration's seed-samples that have no record yet; yield each new record.

        Adds each recorded key to ``done``. Failed and paused seed-samples are counted and
        left without a record; a full disk or a changed seeds file raises once the seed-samples
        in flight have finished.
        """

        def pending() -> Iterator[tuple[tuple[int, int], Seed, Seed | None]]:
            # lazy: workers pull one seed-sample at a time, so the seeds file is never held whole
            for i, original in enumerate(plan.seeds, start=plan.base):
                filled = original if original.annotated else plan.annotations.get(i)
                for j in range(self.samples_per_seed):
                    if (i, j) not in done:
                        yield (i, j), original, filled

        queue: asyncio.Queue[Record | None] = asyncio.Queue()
        keys = pending()
        todo = len(plan.seeds) * self.samples_per_seed - plan.done_in(done)

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
                    record = await self._run_one(key, original, filled, pools, plan.number)
                except _Paused:
                    self.paused.append(key)
                    self._emit(SamplePaused(key))
                    self.summary.paused += 1
                    continue
                except Exception as exc:  # counted and reported; the thread resumes next run
                    if is_out_of_space(exc):  # a checkpoint write failed: stop, as above
                        self._write_error = self._write_error or exc
                        return
                    self.summary.errors += 1
                    self._emit(SampleFailed(key, exc))
                    continue
                if not await self._append(self.records_path, record.model_dump(mode="json")):
                    return
                done.add(key)
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

        if todo <= 0:
            return
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

    async def _end_iteration(
        self,
        plan: _Iteration,
        kept_before: list[Record],
        ledger: Mapping[int, FinishedIteration],
    ) -> tuple[FinishedIteration, list[Record]]:
        """The near-duplicate pass over this iteration's accepted samples (against everything
        kept before), committed by one fsynced line in ``iterations.jsonl``; returns the line
        and the kept records. A kill before the line is durable redoes only the pass."""
        accepted = accepted_records(self.run_dir, plan.seed_range)  # streamed: accepted held
        kept, decisions = near_duplicate_pass(self.config, kept_before, accepted)
        seed_samples = len(plan.seeds) * self.samples_per_seed
        line = FinishedIteration(
            iteration=plan.number,
            seed_base=plan.base,
            seeds=len(plan.seeds),
            seed_samples=seed_samples,
            accepted=len(accepted),
            rejected=seed_samples - len(accepted),
            kept=[r.key for r in kept],
            dedup=decisions,
        )
        if not await self._append(self.run_dir.iterations_path, line.model_dump(mode="json")):
            self._raise_write_error()
        crash_point("after-iterations-append")
        if plan.number < self.iterations and kept:
            # what is kept so far, readable while the next iteration runs
            so_far = _decisions({**ledger, line.iteration: line})
            try:
                write_accepted(self.run_dir, [*kept_before, *kept], so_far)
            except OSError as exc:  # the commit is durable; the files are rewritten at the end
                self._write_error = exc
                self._raise_write_error()
        return line, kept

    def _kept_records(self, line: FinishedIteration) -> list[Record]:
        """The records a finished iteration kept, from the journal; all must be there."""
        kept = records_with_keys(self.run_dir, line.kept)
        if len(kept) != len(line.kept) or any(r.status != "accepted" for r in kept):
            found = {r.key for r in kept if r.status == "accepted"}
            missing = [k for k in line.kept if tuple(k) not in found]
            raise RunDirectoryError(
                f"{self.run_dir.iterations_path} says iteration {line.iteration} kept "
                f"{len(line.kept)} sample(s), but {self.records_path.name} has no accepted "
                f"record for {missing[:5]}; restore the records (see "
                f"{self.run_dir.corrupt_path(self.records_path).name}) or choose a new --out"
            )
        return kept

    def _next_iteration(
        self, plan: _Iteration, line: FinishedIteration, kept: list[Record]
    ) -> _Iteration | None:
        """The iteration after ``plan``: its seeds are the samples ``plan`` kept; ``None`` at
        the end, or when ``plan`` kept nothing (the run then stops early, saying so)."""
        if plan.number >= self.iterations:
            return None
        if not kept:
            self.summary.stopped_early = (
                f"iteration {plan.number} kept no sample, so iteration {plan.number + 1} has no "
                f"seeds: the run ends after {plan.number} of {self.iterations} iterations"
            )
            self._warn(self.summary.stopped_early)
            return None
        return _Iteration(plan.number + 1, line.next_seed_base, [kept_seed(r) for r in kept])

    async def _run_one(
        self,
        key: tuple[int, int],
        original: Seed,
        seed: Seed | None,
        pools: FewShotPools,
        iteration: int = 1,
    ) -> Record:
        seed_index, sample_index = key
        if seed is None:
            return failed_record(
                self.run_id,
                seed_index,
                sample_index,
                original.domain or "unknown",
                "seed annotation failed: no member produced usable keywords/summary for this seed",
                iteration=iteration,
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
                self.run_id,
                key,
                seed,
                pools,
                self.seed,
                self.config.generation.few_shot,
                iteration,
            )
        )
        answered = None
        if snapshot.interrupts:  # waiting for a person: go on only with a recorded answer
            answered = answer_command(self.run_dir, thread_id)
            if answered is None:
                raise _Paused(thread_id)
        self._emit(SampleStarted(key, thread_id, iteration, resumed=start is None))
        async for mode, chunk in self.graph.astream(
            answered or start,
            thread,
            context=self.context,
            stream_mode=["updates", "tasks"],
            durability="sync",
        ):
            for event in node_events(key, mode, chunk):
                self._emit(event)
        if answered is not None:
            crash_point("after-human-resume")
        snapshot = await self.graph.aget_state(thread)
        if snapshot.next:
            if snapshot.interrupts or set(snapshot.next) & set(self.interrupt_before):
                raise _Paused(thread_id)
            raise RuntimeError(f"thread {thread_id} stopped with steps left: {snapshot.next}")
        return build_record(snapshot.values, self.run_id, self._members or {})

    # ---- the end of a run
    async def _finish(
        self,
        wall_seconds: float,
        ledger: Mapping[int, FinishedIteration],
        kept: list[Record],
        unfinished: _Iteration | None,
    ) -> None:
        """Write ``accepted.jsonl`` and ``dedup.jsonl`` (every finished iteration's kept
        samples and decisions; an unfinished iteration's accepted samples so far are passed
        through the filter too, provisionally, and nothing of them is committed), the summary
        and the status."""
        decisions = _decisions(ledger)
        if unfinished is not None:
            accepted = accepted_records(self.run_dir, unfinished.seed_range)
            more, rows = near_duplicate_pass(self.config, kept, accepted)
            self._accounting.iteration_kept(unfinished.number, len(accepted), len(more))
            kept, decisions = [*kept, *more], [*decisions, *rows]
        write_accepted(self.run_dir, kept, decisions)
        if self.summary.complete and self.config.checkpoints.prune_finished:
            await checkpoints.compact(self.saver)
        self._accounting.close(
            wall_seconds,
            kept=len(kept),
            accepted=self.summary.accepted,
            db_bytes=checkpoints.database_bytes(self.checkpoints_path),
        )
        self.run_dir.write_summary(self.summary.model_dump())
        crash_point("before-status-write")
        self.run_dir.set_status(self.summary.status)
        self._finished = True
        self._emit(RunFinished(self.summary.status, self.summary))


def _decisions(ledger: Mapping[int, FinishedIteration]) -> list[dict[str, Any]]:
    """Every near-duplicate decision of the finished iterations, in iteration order."""
    return [row for number in sorted(ledger) for row in ledger[number].dedup]


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
    iterations: int = 1,
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
        iterations=iterations,
    ) as runner:
        async for record in runner.records():
            yield record
