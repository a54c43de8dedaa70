"""Durable JSON Lines files: append-and-fsync for journals, write-and-rename for derived files.

A kill can at worst leave a torn last line in a journal; :func:`read_jsonl_repairing` drops it
(truncating the file to its last complete line) so the work it stood for is redone, not doubled.
A write that fails while the process lives (a full disk) is undone at once: :func:`append_jsonl`
cuts the file back to its length before the append, and the atomic writers remove their
temporary file, so a failed write leaves no torn line and no stray file behind.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gra_graph.crashpoints import crash_point


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and fsync, so a returned call means the rows survive a crash."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    with path.open("ab") as fh:
        start = os.fstat(fh.fileno()).st_size

        def torn() -> None:  # what a kill in the middle of the write leaves behind
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.fsync(fh.fileno())

        crash_point(f"mid-{path.stem}-append", before=torn)
        try:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError:
            _truncate(fh, start)  # no torn line: the rows are either all there or not at all
            raise


def _truncate(fh: Any, size: int) -> None:
    """Cut an open file back to ``size`` bytes, best effort (the disk may still be failing)."""
    try:
        os.ftruncate(fh.fileno(), size)
        os.fsync(fh.fileno())
    except OSError:
        pass  # read_jsonl_repairing drops a torn tail on the next run


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Replace ``path`` with ``rows`` in one rename; returns the number of rows."""
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        crash_point(f"before-{path.stem}-rename")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON; the data is fsynced before the rename, so a power
    cut leaves the old file or the new one, never an empty one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, from a file write or from SQLite."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.OperationalError):
        return "full" in str(exc)  # "database or disk is full"
    return False


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSON Lines file one at a time (memory stays flat for any file size)."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


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
