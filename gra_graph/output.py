"""Durable JSON Lines files: append-and-fsync for journals, write-and-rename for derived files.

A kill can at worst leave a torn last line in a journal; :func:`repair_journal` (what a run
uses) and :func:`read_jsonl_repairing` drop it, cutting the file back to its last complete line,
so the work it stood for is redone, not doubled.
A write that fails while the process lives (a full disk) is undone at once: :func:`append_jsonl`
cuts the file back to its length before the append, and the atomic writers remove their
temporary file, so a failed write leaves no torn line and no stray file behind.

:func:`repair_journal` goes further for a journal someone else may have damaged: every valid
line is kept, invalid ones are moved to a side file with their line numbers, repeated keys are
reduced to their first line, and only a torn last line is cut silently.

Nothing here writes through a symbolic link: files are opened with ``O_NOFOLLOW`` and temporary
files are created exclusively, so a link planted in a run directory fails the write (``ELOOP``
or ``EEXIST``) instead of redirecting it to the link's target. Lines are read with a length
bound (:data:`MAX_LINE_BYTES`), so a file with no newlines cannot exhaust memory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gra_graph.crashpoints import crash_point
from gra_graph.inputs import MAX_JOURNAL_LINE_BYTES

MAX_LINE_BYTES = MAX_JOURNAL_LINE_BYTES
"""Longest journal line read back (see :data:`gra_graph.inputs.MAX_JOURNAL_LINE_BYTES`)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_nofollow(path: Path, flags: int, mode: str) -> IO[bytes]:
    """``open`` for writing that refuses a symbolic link at ``path`` (``ELOOP``)."""
    fd = os.open(path, flags | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    return os.fdopen(fd, mode)


def _create_exclusive(tmp: Path) -> IO[bytes]:
    """A fresh temporary file: whatever sits at ``tmp`` (a stale file, a planted link) goes."""
    tmp.unlink(missing_ok=True)  # unlink removes a link itself, never its target
    return open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "wb")


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and fsync, so a returned call means the rows survive a crash."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    with open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "ab") as fh:
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


def append_jsonl_exclusive(
    path: Path, rows: Iterable[dict[str, Any]], check: Callable[[], None] | None = None
) -> None:
    """:func:`append_jsonl` for a journal that several processes append to: under an
    exclusive ``flock`` on the file, a torn last line that a killed writer left is cut off
    first (it was never acknowledged), ``check()`` runs (it may raise to refuse the append,
    seeing every row appended before), then the rows are appended and fsynced."""
    with open_nofollow(path, os.O_RDWR | os.O_CREAT, "r+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released on close, or when a writer dies
        size = os.fstat(fh.fileno()).st_size
        end = _last_newline_end(fh, size)
        if end != size:
            _truncate(fh, end)
        if check is not None:
            check()
        append_jsonl(path, rows)


def _last_newline_end(fh: IO[bytes], size: int, chunk: int = 65536) -> int:
    """The offset just past the file's last newline (0 when it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - chunk)
        fh.seek(start)
        block = fh.read(pos - start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


def _truncate(fh: Any, size: int) -> None:
    """Cut an open file back to ``size`` bytes, best effort (the disk may still be failing)."""
    try:
        os.ftruncate(fh.fileno(), size)
        os.fsync(fh.fileno())
    except OSError:
        pass  # the next run cuts the torn tail off (repair_journal)


@contextmanager
def _atomic_replace(path: Path, crash: str | None = None) -> Iterator[IO[bytes]]:
    """A fresh temporary file to write; on a clean exit it is fsynced and renamed over ``path``
    (the one way every derived file is replaced), on any error it is removed."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with _create_exclusive(tmp) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if crash:
            crash_point(crash)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Replace ``path`` with ``rows`` in one rename; returns the number of rows."""
    count = 0
    with _atomic_replace(path, crash=f"before-{path.stem}-rename") as fh:
        for row in rows:
            fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
            count += 1
    return count


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON; the data is fsynced before the rename, so a power
    cut leaves the old file or the new one, never an empty one."""
    with _atomic_replace(path) as fh:
        fh.write((json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, from a file write or from SQLite."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.OperationalError):
        return "full" in str(exc)  # "database or disk is full"
    return False


def iter_lines(fh: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(1-based number, line) for every line, newline included; a line longer than ``limit``
    comes as ``None`` and is skipped without being held in memory."""
    number = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (chunk := fh.readline(1 << 20)) and not chunk.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, line


def read_jsonl_repairing(path: Path) -> list[dict[str, Any]]:
    """All complete rows of a journal; a torn or unparsable tail is cut off the file."""
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    good_end = pos = 0
    with path.open("rb") as fh:
        for _, line in iter_lines(fh):
            if line is None or not line.endswith(b"\n"):
                break  # an overlong or torn line: the tail from here is cut
            try:
                rows.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            good_end = pos = pos + len(line)
        size = fh.seek(0, os.SEEK_END)
    if good_end < size:
        with open_nofollow(path, os.O_WRONLY, "r+b") as fh:
            fh.truncate(good_end)
    return rows


@dataclass
class JournalRepair:
    """What :func:`repair_journal` found: the keys of the valid rows, and what it changed."""

    keys: set[Hashable] = field(default_factory=set)
    rows: int = 0
    moved: list[int] = field(default_factory=list)  # line numbers sent to the side file
    duplicates: list[int] = field(default_factory=list)  # line numbers dropped as repeats
    torn_tail: bool = False

    def warnings(self, path: Path, side: Path) -> list[str]:
        """One message per kind of change (a torn tail is routine, not warned)."""
        out = []
        if self.moved:
            out.append(
                f"{path.name}: {len(self.moved)} unreadable line(s) moved to {side.name} "
                f"(line {_numbers(self.moved)}); their seed-samples are run again"
            )
        if self.duplicates:
            out.append(
                f"{path.name}: {len(self.duplicates)} duplicate line(s) removed "
                f"(line {_numbers(self.duplicates)}); the first line of each key is kept"
            )
        return out


def _numbers(lines: list[int], shown: int = 10) -> str:
    text = ", ".join(map(str, lines[:shown]))
    return text + (f" and {len(lines) - shown} more" if len(lines) > shown else "")


def repair_journal(
    path: Path, side: Path, key: Callable[[dict[str, Any]], Hashable]
) -> JournalRepair:
    """Make a journal hold only valid rows, one per key, losing none of them.

    A line is valid when it parses as a JSON object and ``key(row)`` returns without raising
    (``key`` validates the row too). Invalid lines are appended to ``side`` (fsynced) together
    with their line numbers and reasons; a repeated key keeps its first line. A last line that
    is torn or unparsable, with nothing valid after it, is what a kill leaves: it is cut
    silently. The journal is rewritten (write, fsync, rename) only when a line must go, and
    streamed otherwise, so memory holds the keys, not the rows.
    """
    report = JournalRepair()
    if not path.exists():
        return report
    bad: list[tuple[int, bytes, str]] = []
    last = last_start = offset = 0
    with path.open("rb") as fh:
        for number, line in iter_lines(fh):
            last, last_start = number, offset
            offset = fh.tell()
            if line is None:
                bad.append((number, b"", f"longer than {MAX_LINE_BYTES} bytes"))
                continue
            if not line.strip():
                continue
            torn = not line.endswith(b"\n")
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"a JSON {type(row).__name__}, not an object")
                k = key(row)
            except Exception as exc:  # any reason at all: the line is not a usable row
                bad.append((number, line, "torn" if torn else f"{type(exc).__name__}: {exc}"))
                continue
            if torn:  # a whole object without its newline: still what a kill leaves
                bad.append((number, line, "torn"))
            elif k in report.keys:
                report.duplicates.append(number)
            else:
                report.keys.add(k)
                report.rows += 1
    if bad and bad[-1][0] == last:  # the last line, torn or unparsable: what a kill leaves
        report.torn_tail = True
        bad.pop()
    report.moved = [n for n, _, _ in bad]
    if report.moved:
        append_jsonl(
            side,
            [
                {"line": n, "reason": why, "text": text.decode("utf-8", "replace")}
                for n, text, why in bad
            ],
        )
    if report.moved or report.duplicates:
        drop = {*report.moved, *report.duplicates, *([last] if report.torn_tail else [])}
        with path.open("rb") as src, _atomic_replace(path) as dst:
            for number, line in iter_lines(src):
                if line is not None and number not in drop:
                    dst.write(line)
    elif report.torn_tail:  # the common case after a kill: cut it off in place
        with open_nofollow(path, os.O_WRONLY, "r+b") as out:
            out.truncate(last_start)
            os.fsync(out.fileno())
    return report
