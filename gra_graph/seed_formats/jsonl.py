"""Seeds from a JSON Lines file: one JSON object per line, each line read with a bound.

A line may be up to ``MAX_SEED_LINE_BYTES`` long; a longer one (or a file with no newline at
all) is refused naming the line, found without reading the line whole. Bytes that are not
UTF-8, JSON nested too deeply, numbers too long to convert and a key given twice in one object
are errors naming the line; a UTF-8 byte-order mark at the start is ignored; blank lines are
skipped but counted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from gra_graph.inputs import MAX_SEED_LINE_BYTES, InputFileError, describe_limit, open_regular
from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.options import SeedOptions
from gra_graph.seed_formats.rows import SeedMaker
from gra_graph.seed_formats.source import RawRow

BOM = b"\xef\xbb\xbf"


class JsonLinesSource:
    """A JSON Lines seeds file (the format ``examples/seeds.jsonl`` is in)."""

    unit = "line"

    def __init__(self, path: Path, options: SeedOptions) -> None:
        self.path = path
        self.name = str(path)
        self.options = options

    def maker(self) -> SeedMaker:
        return SeedMaker(self.options, None, unit=self.unit)

    def stamp(self) -> Hashable:
        return file_stamp(self.path)

    def rows(self) -> Iterator[RawRow]:
        try:
            fh = open_regular(self.path, "seeds file")
        except InputFileError as exc:
            raise SeedFileError(str(exc)) from None
        with fh:
            number = 0
            while line := fh.readline(MAX_SEED_LINE_BYTES + 1):
                number += 1
                if len(line) > MAX_SEED_LINE_BYTES and not (
                    len(line) == MAX_SEED_LINE_BYTES + 1 and line.endswith(b"\n")
                ):
                    raise SeedFileError(
                        f"{self.path}: line {number} is longer than "
                        f"{describe_limit(MAX_SEED_LINE_BYTES)} (the limit "
                        "gra_graph.inputs.MAX_SEED_LINE_BYTES); split or shorten that seed"
                    )
                if number == 1 and line.startswith(BOM):
                    line = line[len(BOM) :]
                if line.strip():
                    where = f"{self.path}: line {number}"
                    yield number, where, parse_object_line(line, where, SeedFileError)


def file_stamp(path: Path) -> tuple[int, int]:
    """A file's size and modification time (``(-1, -1)`` when it is gone)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedKey(key)
        obj[key] = value
    return obj


class _RepeatedKey(ValueError):
    pass


def parse_object_line(line: bytes, where: str, error: type[ValueError]) -> dict[str, Any]:
    """One JSON Lines line that must be one JSON object, or ``error`` saying why, prefixed with
    ``where`` (the file and line number). Shared by every JSONL input (seeds, review pairs)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not valid UTF-8 (byte {exc.start + 1})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
    except _RepeatedKey as exc:
        raise error(f"{where}: key '{exc}' appears twice in one object") from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise error(f"{where}: unreadable JSON value ({exc})") from None
    if not isinstance(obj, dict):
        raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj
