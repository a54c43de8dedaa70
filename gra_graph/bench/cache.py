"""The bench's call cache: one SQLite row per judge call, so a killed bench resumes.

A row is keyed by everything that decides what the call returns: the member, the stage, the
pair, a hash of the rendered prompt, a hash of the member's and the stage's settings (model,
persona, sampling, token budget, retries) and the call's seed. Running the bench again finds
every call already made and makes only the missing ones; change a prompt, a persona or a budget
and only the calls it touches are made again. Each row is committed as its call ends (WAL
mode), so a kill loses at most the calls in flight.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    member TEXT NOT NULL,
    stage TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    output TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (member, stage, pair_id, prompt_hash, settings_hash, seed)
)
"""


class BenchCacheError(ValueError):
    """The cache file cannot be opened or is not a bench cache."""


@dataclass(frozen=True)
class CallKey:
    """What identifies one judge call in the cache."""

    member: str
    stage: str
    pair_id: str
    prompt_hash: str
    settings_hash: str
    seed: int

    def as_row(self) -> tuple[str, str, str, str, str, int]:
        return (
            self.member,
            self.stage,
            self.pair_id,
            self.prompt_hash,
            self.settings_hash,
            self.seed,
        )


class JudgeCache:
    """The cache file; use as a context manager (or call :meth:`close`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise BenchCacheError(f"{self.path}: cannot use as a bench cache: {exc}") from None

    def get(self, key: CallKey) -> dict[str, Any] | None:
        """The cached output of a call, or ``None`` if it was never made."""
        row = self._db.execute(
            "SELECT output FROM calls WHERE member=? AND stage=? AND pair_id=? AND prompt_hash=? "
            "AND settings_hash=? AND seed=?",
            key.as_row(),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: CallKey, output: dict[str, Any]) -> None:
        """Store a call's output, durably, before the bench goes on."""
        self._db.execute(
            "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key.as_row(), json.dumps(output), time.time()),
        )
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
