"""A run's records, read through :class:`~gra_graph.rundirs.RunDir` and followed as it writes.

``gra view`` polls a run that may still be running: each :meth:`RunRecords.refresh` reads only
the lines appended since the last one (``RunDir.journal_rows_after``), so a long run is not
re-parsed every few seconds. A torn last line waits for the next refresh; a journal that shrank
(rewritten by a repair) is read again from its start. A (seed, sample) seen before is a
duplicate line left by a torn resume and is counted once, as ``gra eval`` counts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gra_graph.rundirs import RunDir
from gra_graph.state import Record


class RunRecords:
    """The records of one run directory, in finishing order, refreshed on demand."""

    def __init__(self, path: str | Path) -> None:
        self.run = RunDir(path)
        self.records: list[Record] = []
        self.by_key: dict[tuple[int, int], Record] = {}
        self.unreadable = 0
        self.duplicates = 0
        self.version = 0
        """grows whenever :attr:`records` changes (the viewer's pages compare it)"""
        self._offset = 0

    def refresh(self) -> int:
        """Read what was appended since the last refresh; the number of new records."""
        path = self.run.records_path
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size < self._offset:  # rewritten shorter: start over rather than miss lines
            self._reset()
        new = 0
        for offset, row in self.run.journal_rows_after(path, self._offset):
            self._offset = offset
            new += self._add(row)
        if new:
            self.version += 1
        return new

    def _reset(self) -> None:
        self.records.clear()
        self.by_key.clear()
        self.unreadable = self.duplicates = self._offset = 0
        self.version += 1

    def _add(self, row: dict[str, Any]) -> bool:
        try:
            record = Record.model_validate(row)
        except ValidationError:
            self.unreadable += 1
            return False
        if record.key in self.by_key:
            self.duplicates += 1
            return False
        self.by_key[record.key] = record
        self.records.append(record)
        return True


def load_records(path: str | Path) -> RunRecords:
    """Every record of the run in ``path``, read once."""
    records = RunRecords(path)
    records.refresh()
    return records
