"""Reading seed files: JSON Lines, streamed and validated line by line, errors naming the line.

A seeds file is read in two ways, both one line at a time so memory stays flat however long the
file is: :meth:`SeedFile.scan` validates every line up front (a malformed line 99,999 fails
before any model loads) and records the count, a content fingerprint and any repeated seeds;
iterating the :class:`SeedFile` then reads the seeds again, lazily, as the runner needs them.

Decisions about hostile input (documented in the README):

- bytes that are not UTF-8, JSON nested too deeply, numbers too long to convert, a key given
  twice in one object: each is an error naming the file and the line;
- a UTF-8 byte-order mark at the start of the file is ignored;
- the path must be a regular file (not ``/dev/zero``, a FIFO or a directory), and a line may
  be up to ``MAX_SEED_LINE_BYTES`` long (16 MiB: a 2 MB instruction is read like any other);
  a longer line is an error naming it, found without reading the line whole;
- a seed that repeats an earlier one (same instruction and response) is kept: every line is its
  own seed with its own ``seed_index``, so records and threads never share an id; the repeats
  are listed in :attr:`SeedFile.duplicates` and ``gra run`` warns about them;
- nothing in a seed is ever evaluated: text reaches the prompts verbatim.
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gra_graph.inputs import MAX_SEED_LINE_BYTES, InputFileError, describe_limit, open_regular
from gra_graph.state import Seed

_BOM = b"\xef\xbb\xbf"
MAX_LISTED_DUPLICATES = 10
"""How many repeated seeds :attr:`SeedFile.duplicates` lists by line (all are counted)."""


class SeedFileError(ValueError):
    """A seeds file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Duplicates:
    """Seeds that repeat an earlier seed: how many, and the first few as (line, first line)."""

    count: int = 0
    examples: tuple[tuple[int, int], ...] = ()

    def message(self, path: Path | str) -> str:
        """A one-line warning for people, or ``""`` when there are none."""
        if not self.count:
            return ""
        shown = ", ".join(f"line {a} repeats line {b}" for a, b in self.examples)
        hidden = self.count - len(self.examples)
        more = f", and {hidden} more" if hidden else ""
        return (
            f"{path}: {self.count} seed(s) repeat an earlier seed ({shown}{more}); each line is "
            "kept as its own seed with its own records, so remove repeats you do not want twice"
        )


@dataclass(frozen=True)
class SeedFile:
    """A validated seeds file, read lazily: iterate it for the seeds, in file order.

    Build it with :meth:`scan`. ``limit`` keeps only the first seeds (the whole file is still
    validated). Iterating again re-reads the file and checks every seed against the digest the
    scan took of it (8 bytes a seed), as it is read: if the file changed since the scan, even
    in the middle of a pass, iteration raises :class:`SeedFileChangedError` at the first seed
    that differs, rather than run on different input.

    Example:
        >>> seeds = SeedFile.scan("examples/seeds.jsonl")  # doctest: +SKIP
        >>> len(seeds), seeds.fingerprint  # doctest: +SKIP
        (14, '...')
        >>> next(iter(seeds)).domain  # doctest: +SKIP
        'coding'
    """

    path: Path
    count: int
    fingerprint: str
    duplicates: Duplicates
    limit: int | None = None
    _stamp: tuple[int, int] = field(default=(0, 0), repr=False)
    _digests: bytes = field(default=b"", repr=False)

    @classmethod
    def scan(cls, path: str | Path, *, limit: int | None = None) -> SeedFile:
        """Validate every line of ``path`` in one streaming pass.

        Raises:
            SeedFileError: the file is missing or empty, or a line is malformed; the message
                names the 1-based line number and the field.
        """
        path = Path(path)
        digest = hashlib.sha256()
        keys = array("Q")  # 8 bytes per seed: the repeat check stays small for huge files
        lines = array("I")
        digests = bytearray()  # 8 bytes per seed, to check each seed again as it is re-read
        count = 0
        for number, seed in _stream(path):
            if limit is not None and count >= limit:
                continue  # validated, not used
            count += 1
            text_json = seed.model_dump_json().encode()
            digest.update(text_json)
            digests += _seed_digest(text_json)
            text = f"{seed.instruction}\0{seed.response}".encode()
            keys.append(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big"))
            lines.append(number)
        if not count:
            raise SeedFileError(f"{path}: the seeds file has no seeds")
        return cls(
            path,
            count,
            digest.hexdigest()[:16],
            _duplicates(keys, lines),
            limit,
            _stamp(path),
            bytes(digests),
        )

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Seed]:
        if _stamp(self.path) != self._stamp:
            raise SeedFileChangedError(self.path)
        seen = 0
        try:
            for number, seed in _stream(self.path):
                if seen == self.count:
                    return
                expected = self._digests[8 * seen : 8 * seen + 8]
                if expected and _seed_digest(seed.model_dump_json().encode()) != expected:
                    raise SeedFileChangedError(self.path, number)
                seen += 1
                yield seed
        except SeedFileChangedError:
            raise
        except SeedFileError:  # a line that no longer parses: the file changed
            raise SeedFileChangedError(self.path) from None
        if seen != self.count:
            raise SeedFileChangedError(self.path)


class SeedFileChangedError(SeedFileError):
    """The seeds file changed after it was validated (found while a run reads it)."""

    def __init__(self, path: Path, line: int | None = None) -> None:
        where = f" (line {line} differs)" if line else ""
        super().__init__(
            f"{path}: the seeds file changed since it was validated{where}. The run stopped "
            "cleanly; restore the file and run the same command again to resume"
        )


def _seed_digest(seed_json: bytes) -> bytes:
    return hashlib.blake2b(seed_json, digest_size=8).digest()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _stream(path: Path) -> Iterator[tuple[int, Seed]]:
    """(line number, seed) for every non-blank line, parsed and validated, one at a time.

    Each line is read with a bound (``MAX_SEED_LINE_BYTES``), so a file without newlines cannot
    be read into memory whole.
    """
    try:
        fh = open_regular(path, "seeds file")
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
                    f"{path}: line {number} is longer than {describe_limit(MAX_SEED_LINE_BYTES)} "
                    "(the limit gra_graph.inputs.MAX_SEED_LINE_BYTES); split or shorten that seed"
                )
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            if line.strip():
                yield number, parse_seed_line(line, path, number)


def _duplicates(keys: array, lines: array) -> Duplicates:
    """Seeds whose (instruction, response) key repeats an earlier one, by line number."""
    import numpy as np

    k = np.frombuffer(keys, dtype=np.uint64)
    n = np.frombuffer(lines, dtype=np.uint32)
    order = np.lexsort((n, k))  # by key, then line: the first of each run is the original
    k, n = k[order], n[order]
    repeat = np.zeros(len(k), dtype=bool)
    repeat[1:] = k[1:] == k[:-1]
    if not repeat.any():
        return Duplicates()
    group_start = np.maximum.accumulate(np.where(~repeat, np.arange(len(k)), 0))
    first_line = n[group_start]
    pairs = sorted(zip(n[repeat].tolist(), first_line[repeat].tolist(), strict=True))
    return Duplicates(int(repeat.sum()), tuple(pairs[:MAX_LISTED_DUPLICATES]))


def read_seeds(path: str | Path) -> list[Seed]:
    """Read and validate every line of a seeds file into a list (small files; see
    :class:`SeedFile` to stream large ones).

    Blank lines are skipped. Each other line must be a JSON object with ``instruction`` and
    ``response`` and optionally ``domain`` (one of the paper's 7), ``keywords`` (3 strings) and
    ``summary``.

    Raises:
        SeedFileError: the file is missing or empty, or a line is malformed; the message names
            the 1-based line number and the field.
    """
    return list(SeedFile.scan(path))


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


def parse_seed_line(line: bytes, path: Path | str, number: int) -> Seed:
    """Parse one seeds-file line into a :class:`Seed`, or raise naming the line."""
    where = f"{path}: line {number}"
    obj = parse_object_line(line, where, SeedFileError)
    try:
        return Seed.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
        raise SeedFileError(f"{where}: {problems}") from None


def seeds_fingerprint(seeds: SeedFile | Sequence[Seed]) -> str:
    """A short hash of the seeds' content, so a resumed run can tell it has the same input.

    A :class:`SeedFile` and the list of the same seeds have the same fingerprint.
    """
    if isinstance(seeds, SeedFile):
        return seeds.fingerprint
    digest = hashlib.sha256()
    for seed in seeds:
        digest.update(seed.model_dump_json().encode())
    return digest.hexdigest()[:16]
