"""Reading seed files: JSON Lines, validated line by line with line numbers in every error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from gra_graph.state import Seed


class SeedFileError(ValueError):
    """A seeds file that cannot be used; the message names the file and line."""


def read_seeds(path: str | Path) -> list[Seed]:
    """Read and validate every line of a seeds file.

    Blank lines are skipped. Each other line must be a JSON object with ``instruction`` and
    ``response`` and optionally ``domain`` (one of the paper's 7), ``keywords`` (3 strings) and
    ``summary``.

    Raises:
        SeedFileError: the file is missing or empty, or a line is malformed; the message names
            the 1-based line number and the field.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SeedFileError(f"{path}: cannot read seeds file: {exc.strerror}") from None
    seeds: list[Seed] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        seeds.append(parse_seed_line(line, path, number))
    if not seeds:
        raise SeedFileError(f"{path}: the seeds file has no seeds")
    return seeds


def parse_seed_line(line: bytes, path: Path | str, number: int) -> Seed:
    """Parse one seeds-file line into a :class:`Seed`, or raise naming the line."""
    where = f"{path}: line {number}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise SeedFileError(f"{where}: not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedFileError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise SeedFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        return Seed.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
        raise SeedFileError(f"{where}: {problems}") from None


def seeds_fingerprint(seeds: list[Seed]) -> str:
    """A short hash of the seeds' content, so a resumed run can tell it has the same input."""
    digest = hashlib.sha256()
    for seed in seeds:
        digest.update(seed.model_dump_json().encode())
    return digest.hexdigest()[:16]
