"""Durable JSON Lines files: append-and-fsync for journals, write-and-rename for derived files.

A kill can at worst leave a torn last line in a journal; :func:`read_jsonl_repairing` drops it
(truncating the file to its last complete line) so the work it stood for is redone, not doubled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gra_graph.crashpoints import crash_point


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and fsync, so a returned call means the rows survive a crash."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    with path.open("a", encoding="utf-8") as fh:

        def torn() -> None:  # what a kill in the middle of the write leaves behind
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.fsync(fh.fileno())

        crash_point(f"mid-{path.stem}-append", before=torn)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Replace ``path`` with ``rows`` in one rename; returns the number of rows."""
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    crash_point(f"before-{path.stem}-rename")
    os.replace(tmp, path)
    return count


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON; the data is fsynced before the rename, so a power
    cut leaves the old file or the new one, never an empty one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_jsonl_repairing(path: Path) -> list[dict[str, Any]]:
    """All complete rows of a journal; a torn or unparsable tail is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    rows: list[dict[str, Any]] = []
    good_end = 0
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # no newline: a torn last line
        try:
            rows.append(json.loads(data[pos:nl]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            break
        good_end = pos = nl + 1
    if good_end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return rows
