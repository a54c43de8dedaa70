"""Reading the files a user hands gra-graph: regular files only, and never without a bound.

A graph, prompt or seeds path may name anything: ``/dev/zero`` (endless bytes), a FIFO (a read
that blocks forever), a directory, a multi-gigabyte file, or a seeds file with one line and no
newline. Each of those used to be read whole, so one bad path could take the machine's memory.
Every input file is therefore opened through :func:`open_regular` (which refuses anything but a
regular file, checked on the open descriptor, and never blocks on a FIFO) and read with a limit.

All limits live here, as named constants, so the README, the error messages and the tests
quote the same numbers. Exceptions to "regular files only": none. Seeds cannot come from a pipe
because a run reads the seeds file twice (a validating pass, then the run itself).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

MAX_GRAPH_FILE_BYTES = 1 << 20
"""A graph file (YAML) larger than 1 MiB is refused: real ones are a few KiB."""

MAX_GRAPH_NODES = 100_000
"""Most YAML values a graph file may expand to (aliases counted each time they are used), so a
small file of nested aliases (a "billion laughs" file) cannot blow up in memory or time."""

MAX_PROMPT_FILE_BYTES = 1 << 20
"""A prompt template larger than 1 MiB is refused: no context window holds more text."""

MAX_SEED_LINE_BYTES = 16 << 20
"""One seeds-file line (one seed) may be at most 16 MiB; a longer line (or ``/dev/zero``, which
has no newline) is refused naming the line, instead of being read into memory whole."""

MAX_MANIFEST_BYTES = 1 << 20
"""A run directory's ``run.json`` larger than 1 MiB is not one gra-graph wrote."""

MAX_JOURNAL_LINE_BYTES = 4 * MAX_SEED_LINE_BYTES + (16 << 20)
"""Longest line of a run's journals (``records.jsonl``, ``annotations.jsonl``): a record holds
its seed, the generated sample, its revisions and every call, so a few seeds' worth plus room
for the calls."""


class InputFileError(ValueError):
    """An input path that is not a regular file, cannot be opened, or is over its limit."""


def describe_limit(limit: int) -> str:
    """``1 MiB`` for 1048576: limits are powers of two, so say them that way."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words (for error messages)."""
    """What a non-regular ``st_mode`` is, in words (for error messages)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, what: str) -> BinaryIO:
    """Open ``path`` for binary reading if, and only if, it is a regular file.

    The type is checked on the opened descriptor (``fstat``), so a path swapped for a device
    between a check and the open cannot slip through. ``O_NONBLOCK`` keeps the open of a FIFO
    from waiting for a writer; it has no effect on a regular file. Symlinks are followed: the
    file they lead to is what must be regular.

    Raises:
        InputFileError: the file is missing or unreadable, or is a directory, device, FIFO or
            socket; the message names ``what`` and the path.
    """
    text = str(path)
    if "\0" in text:
        raise InputFileError(f"cannot read {what} {text!r}: the path contains a NUL byte")
    try:
        fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"cannot read {what} {text}: not found") from None
    except IsADirectoryError:
        raise InputFileError(f"cannot read {what} {text}: it is a directory") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {text}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(
                f"cannot read {what} {text}: it is {file_kind(mode)}; gra-graph reads only regular "
                "files"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded_bytes(path: str | Path, limit: int, what: str, limit_name: str) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes.

    ``limit_name`` is the constant's name, quoted in the error so a reader can find it.

    Raises:
        InputFileError: as :func:`open_regular`, or the file holds more than ``limit`` bytes.
    """
    with open_regular(path, what) as fh:
        try:
            data = fh.read(limit + 1)  # one byte more tells "exactly the limit" from "more"
        except OSError as exc:
            raise InputFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputFileError(
            f"cannot read {what} {path}: it is larger than {describe_limit(limit)} "
            f"(the limit gra_graph.inputs.{limit_name})"
        )
    return data


def read_bounded_text(path: str | Path, limit: int, what: str, limit_name: str) -> str:
    """:func:`read_bounded_bytes` decoded as UTF-8.

    Raises:
        InputFileError: as :func:`read_bounded_bytes`, or the bytes are not UTF-8.
    """
    data = read_bounded_bytes(path, limit, what, limit_name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"cannot read {what} {path}: not valid UTF-8 (byte {exc.start + 1})"
        ) from None


def count_nodes(value: object, limit: int) -> int:
    """How many values ``value`` holds, counting shared ones each time; stops past ``limit``.

    Iterative, so a deeply nested value cannot exhaust the stack here.
    """
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count
