"""The checkpoint database: WAL, busy timeout, pruning of finished threads, compaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gra_graph import checkpoints
from gra_graph.config import GraphConfig
from gra_graph.runner import Runner
from tests.support.fake_run import SEEDS
from tests.support.fakes import committee_config, fake_members


async def test_database_is_wal_with_a_busy_timeout(tmp_path: Path):
    db = tmp_path / "checkpoints.sqlite"
    async with checkpoints.open_checkpointer(db) as saver:
        assert await checkpoints.journal_mode(saver) == "wal"
        async with saver.conn.execute("PRAGMA busy_timeout") as cur:
            assert (await cur.fetchone())[0] == 30_000
        async with saver.conn.execute("PRAGMA synchronous") as cur:
            assert (await cur.fetchone())[0] == 2  # FULL
    # WAL is a property of the file: a plain reader sees it too
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def run_fake(out: Path, prune: bool) -> Runner:
    config = committee_config(checkpoints={"prune_finished": prune}, dedup={"embedder": "ngram"})
    runner = Runner(config, SEEDS, out, samples_per_seed=2, members=fake_members(config))
    async with runner:
        async for _ in runner.records():
            pass
    return runner


def threads_in(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes")
        return {row[0] for row in rows}


async def test_finished_threads_are_pruned_and_the_file_compacted(tmp_path: Path):
    pruned = await run_fake(tmp_path / "pruned", prune=True)
    kept = await run_fake(tmp_path / "kept", prune=False)
    assert threads_in(pruned.checkpoints_path) == set()
    assert len(threads_in(kept.checkpoints_path)) == 8
    assert pruned.summary.checkpoint_db_bytes == checkpoints.database_bytes(pruned.checkpoints_path)
    # compacted to the empty schema: a few pages, far below the unpruned file
    assert pruned.summary.checkpoint_db_bytes < 8 * 4096
    assert kept.summary.checkpoint_db_bytes > 4 * pruned.summary.checkpoint_db_bytes
    # the same records either way
    assert pruned.summary.accepted == kept.summary.accepted == 8


async def test_prune_setting_does_not_change_the_run_fingerprint(tmp_path: Path):
    on = committee_config(checkpoints={"prune_finished": True})
    off = committee_config(checkpoints={"prune_finished": False})
    assert on.fingerprint() == off.fingerprint()
    # so a run may be resumed with pruning switched on or off
    await run_fake(tmp_path / "run", prune=False)
    runner = await run_fake(tmp_path / "run", prune=True)
    assert runner.summary.resumed_records == 8
    assert threads_in(runner.checkpoints_path) == set()  # swept at the start of the resume


def test_prune_setting_is_documented_and_defaults_on():
    field = GraphConfig.model_fields["checkpoints"]
    assert committee_config().checkpoints.prune_finished is True
    description = type(committee_config().checkpoints).model_fields["prune_finished"].description
    assert description and "records.jsonl" in description
    assert field.default_factory is not None
