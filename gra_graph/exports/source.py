"""What an export reads from a run directory: its records and what the run was.

Records are read through :class:`gra_graph.rundirs.RunDir` (a torn last line of a running
run's journal is skipped). A line that is not a valid record is counted and left out, never a
crash; a seed-sample that has two lines (a journal written twice) is taken once, its first line,
as ``gra eval`` does. The records are held in memory: an export reads one run, whose records
a user could also hold as one dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.rundirs import ResumeRequest, RunDir
from gra_graph.state import Record

STATUSES = ("accepted", "rejected", "all")
"""What ``--status`` selects: ``accepted`` is what ``accepted.jsonl`` holds (accepted by the
committee and kept by the near-duplicate pass); ``rejected`` every other record; ``all``
every record."""


@dataclass
class RunRecords:
    """A run's records, read once, and what reading them found."""

    run_dir: RunDir
    manifest: dict[str, Any]
    records: list[Record]
    near_duplicates: set[tuple[int, int]] = field(default_factory=set)
    unreadable: int = 0
    duplicates: int = 0

    def kept(self, record: Record) -> bool:
        """Whether ``record`` is one of the rows of ``accepted.jsonl``."""
        return record.status == "accepted" and record.key not in self.near_duplicates

    def select(self, status: str) -> list[Record]:
        """The records ``--status`` ``status`` selects (see :data:`STATUSES`), in key order."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if status == "all":
            return list(self.records)
        keep = status == "accepted"
        return [r for r in self.records if self.kept(r) == keep]


def read_run(path: str | Path) -> RunRecords:
    """Read the run in ``path``: raises :class:`gra_graph.rundirs.RunInfoError` when it is not
    a run directory (no readable ``run.json``)."""
    run_dir = RunDir(path)
    manifest = run_dir.manifest()
    records, unreadable, duplicates = _unique_records(run_dir.journal_rows(run_dir.records_path))
    dropped = {
        (row.get("seed_index"), row.get("sample_index"))
        for row in run_dir.journal_rows(run_dir.dedup_path)
        if row.get("kept") is False
    }
    return RunRecords(
        run_dir=run_dir,
        manifest=manifest,
        records=sorted(records, key=lambda r: r.key),
        near_duplicates={k for k in dropped if all(isinstance(i, int) for i in k)},
        unreadable=unreadable,
        duplicates=duplicates,
    )


def _unique_records(rows: Iterable[dict[str, Any]]) -> tuple[list[Record], int, int]:
    records: list[Record] = []
    seen: set[tuple[int, int]] = set()
    unreadable = duplicates = 0
    for row in rows:
        try:
            record = Record.model_validate(row)
        except ValidationError:
            unreadable += 1
            continue
        if record.key in seen:
            duplicates += 1
            continue
        seen.add(record.key)
        records.append(record)
    return records, unreadable, duplicates


def run_graph(manifest: dict[str, Any]) -> tuple[GraphConfig | None, str]:
    """The graph file the run was started with, if ``run.json`` names one and it still has the
    settings of the run (the same fingerprint), else ``None``; and a note saying which."""
    try:
        request = ResumeRequest.model_validate(manifest.get("command"))
    except ValidationError:
        return None, "run.json names no graph file (started from the Python API)"
    name = Path(request.graph).name
    try:
        config = GraphConfig.from_file(request.graph)
    except GraphConfigError:
        return None, f"the run's graph file {name} cannot be read now"
    if request.engine:  # the run's fingerprint was taken with its engine in place
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": request.engine})}
        )
    if config.fingerprint() != manifest.get("graph_fingerprint"):
        return None, f"the run's graph file {name} changed since the run"
    return config, f"read from {name}, unchanged since the run"
