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

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from gra_graph.crashpoints import armed, crash_point

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a statement waits for another connection's lock before failing."""


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
