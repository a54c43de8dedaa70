"""The checkpoint database of a run: one SQLite file, WAL, a busy timeout, one writer, pruning.

``checkpoints.sqlite`` holds LangGraph's ``checkpoints`` and ``writes`` tables
(``AsyncSqliteSaver``). Everything that touches it goes through the one connection opened here,
and the saver serialises every statement on that connection with its asyncio lock, so a run has
exactly one writer; the run directory's lock file (:mod:`gra_graph.runlock`) keeps other
processes out. WAL lets readers (``gra runs``, a test peeking at a killed run) read while a run
writes, and the busy timeout makes a brief overlap wait instead of failing with "database is
locked".

A thread's checkpoints are only needed until its record is durable in ``records.jsonl``; after
that :func:`prune_threads` deletes them, so the file stays about as large as the threads in
flight instead of growing with the run. A kill between the fsync of a record and the prune only
leaves rows behind, which the next start deletes (:func:`finished_threads_left`).
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, closing, suppress
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from gra_graph.crashpoints import armed, crash_point

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a statement waits for another connection's lock before failing."""


_TABLES = {
    "checkpoints": {"thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint", "metadata"},
    "writes": {"thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx", "channel"},
}
"""The tables LangGraph's saver needs, with the columns it cannot do without."""


class CheckpointDatabaseError(RuntimeError):
    """A run's checkpoint database that cannot be used; the message says what to do."""


def check_database(path: Path) -> None:
    """Fail early, with advice, if ``path`` exists but is not a usable checkpoint database.

    Meant to run before any model loads: a corrupt ``checkpoints.sqlite`` otherwise surfaces
    as a ``sqlite3.DatabaseError`` minutes later. It opens the file read-only (nothing is
    created or changed, the WAL included), reads the schema and runs ``PRAGMA quick_check``,
    which reads every page once (milliseconds for a pruned database, well under a second for
    tens of megabytes). A missing file is fine: a new run creates it.

    Raises:
        CheckpointDatabaseError: not a regular file, not SQLite, damaged, or tables from
            something else; the message names the path and how to continue.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CheckpointDatabaseError(_advice(path, exc.strerror or str(exc))) from None
    if not stat.S_ISREG(mode):
        kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
        raise CheckpointDatabaseError(_advice(path, f"it is {kind}"))
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)) as conn:
            tables = {
                name: {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
                for name in _TABLES
            }
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        raise CheckpointDatabaseError(_advice(path, str(exc))) from None
    if problems != ["ok"]:
        detail = "; ".join(" ".join(p.split()) for p in problems)
        raise CheckpointDatabaseError(_advice(path, detail[:300]))
    for name, needed in _TABLES.items():
        present = tables[name]
        if present and not needed <= present:  # absent tables are created on open
            missing = ", ".join(sorted(needed - present))
            raise CheckpointDatabaseError(
                _advice(path, f"its {name} table lacks column(s) {missing}")
            )


def _advice(path: Path, detail: str) -> str:
    return (
        f"{path} is not a usable checkpoint database ({detail}). Move it aside (for example "
        f"mv {path} {path}.broken) and run the same command again: the records already in "
        "records.jsonl are kept, and the seed-samples without a record start again from the "
        "beginning"
    )


def thread_id(key: tuple[int, int]) -> str:
    """The LangGraph thread of seed-sample ``(seed_index, sample_index)``."""
    return f"{key[0]}-{key[1]}"


@asynccontextmanager
async def open_checkpointer(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """The run's saver on a WAL database with a busy timeout; closed on exit."""
    async with aiosqlite.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS) as conn:
        await conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        # WAL needs shared memory; a network file system may refuse it and keep the rollback
        # journal: the run still works, readers then wait for the writer (see journal_mode).
        await conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed checkpoint survives a power cut, as the fsynced records do.
        await conn.execute("PRAGMA synchronous = FULL")
        if armed("before-checkpoint-commit") or armed("after-checkpoint-commit"):
            _wrap_commit(conn)
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver


@asynccontextmanager
async def open_reader(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """A read-only saver on an existing database (``gra inspect``): nothing is created or
    written, so it may read while a run writes (WAL)."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    async with aiosqlite.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS) as conn:
        saver = AsyncSqliteSaver(conn)
        saver.is_setup = True  # the tables exist (check_database); setup() would write
        yield saver


def _wrap_commit(conn: aiosqlite.Connection) -> None:
    """Crash points around every commit (only when ``GRA_CRASH_AT`` names one)."""
    commit = conn.commit

    async def commit_with_crash_points() -> None:
        crash_point("before-checkpoint-commit")
        await commit()
        crash_point("after-checkpoint-commit")

    conn.commit = commit_with_crash_points  # type: ignore[method-assign]


async def journal_mode(saver: AsyncSqliteSaver) -> str:
    """The database's journal mode (``wal`` unless the file system refused it)."""
    async with saver.lock, saver.conn.execute("PRAGMA journal_mode") as cur:
        row = await cur.fetchone()
    return str(row[0]).lower() if row else ""


async def stored_threads(saver: AsyncSqliteSaver) -> set[str]:
    """Every thread id with at least one checkpoint or pending write."""
    async with (
        saver.lock,
        saver.conn.execute(
            "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes"
        ) as cur,
    ):
        return {str(row[0]) for row in await cur.fetchall()}


async def prune_threads(saver: AsyncSqliteSaver, thread_ids: Iterable[str]) -> None:
    """Delete every checkpoint and write of these threads (their records are durable)."""
    for tid in thread_ids:
        await saver.adelete_thread(tid)


async def finished_threads_left(saver: AsyncSqliteSaver, finished: Iterable[str]) -> list[str]:
    """Finished threads that still have rows (a kill landed between record and prune)."""
    return sorted(await stored_threads(saver) & set(finished))


async def compact(saver: AsyncSqliteSaver) -> None:
    """Fold the WAL into the database and VACUUM, giving freed pages back to the file system."""
    async with saver.lock:
        await saver.conn.commit()
        for statement in ("VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
            async with saver.conn.execute(statement) as cur:
                await cur.fetchall()


def database_bytes(path: Path) -> int:
    """Size on disk of the database plus its WAL (0 when absent)."""
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        with suppress(FileNotFoundError):
            total += p.stat().st_size
    return total
