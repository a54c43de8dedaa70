"""Pairs files: labelled (instruction, response) pairs the committee is benchmarked on.

JSON Lines, one object per line: ``instruction``, ``response``, ``domain`` (one of the paper's
seven), ``label`` (``sound`` or ``defective``) and ``defect`` (the kind of defect of a
defective pair, ``null`` for a sound one). A pairs file is small, so it is read whole; every
line is validated as a seeds line is (:mod:`gra_graph.seeds`) and a bad one stops the bench
before any model loads, naming its line number and field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gra_graph.seeds import parse_object_line
from gra_graph.vocabulary import Domain

DEFECT_KINDS: tuple[str, ...] = (
    "wrong_answer",
    "off_topic",
    "truncated",
    "self_contradiction",
    "unsafe_advice",
    "incoherent_instruction",
    "wrong_language_format",
)
"""The defect kinds of the project's labelled set (``evals/data/review_pairs.jsonl``).

Other pairs files may name other kinds; any short snake_case name is accepted."""

_BOM = b"\xef\xbb\xbf"


INSTRUCTION_DEFECTS = frozenset({"incoherent_instruction"})
"""Defect kinds that lie in the instruction itself; every other kind lies in the response."""


class PairsFileError(ValueError):
    """A pairs file that cannot be used; the message names the file and the line."""


class Pair(BaseModel):
    """One labelled pair. A defective pair names its defect; a sound one has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = Field(..., min_length=1)
    response: str = Field(..., min_length=1)
    domain: Domain
    label: Literal["sound", "defective"]
    defect: str | None = Field(..., pattern=r"^[a-z][a-z0-9_]{0,39}$")

    @model_validator(mode="after")
    def _defect_matches_label(self) -> Pair:
        if self.label == "sound" and self.defect is not None:
            raise ValueError(f"a sound pair has no defect, got defect '{self.defect}'")
        if self.label == "defective" and self.defect is None:
            raise ValueError("a defective pair names its defect kind, got null")
        return self

    @property
    def sound(self) -> bool:
        return self.label == "sound"

    @property
    def instruction_sound(self) -> bool:
        """Whether the instruction is sound: a defective pair's defect may lie in the response
        alone, and the instruction check should pass those."""
        return self.defect not in INSTRUCTION_DEFECTS


@dataclass(frozen=True)
class BenchPair:
    """A pair with where it came from and a stable identity.

    ``id`` hashes the pair's domain, instruction and response, so a pair keeps its id (and its
    cached judgements, and its committee draw) when other lines are added, removed or moved.
    """

    line: int
    pair: Pair

    @property
    def id(self) -> str:
        p = self.pair
        text = f"{p.domain}\0{p.instruction}\0{p.response}".encode()
        return hashlib.sha256(text).hexdigest()[:16]

    @property
    def index(self) -> int:
        """A stable integer for the pair (from its id): stands in for the seed index of a run
        in call seeds and role draws."""
        return int(self.id[:7], 16)


def read_pairs(path: str | Path, *, limit: int | None = None) -> list[BenchPair]:
    """Read and validate every line of a pairs file; keep the first ``limit`` pairs.

    Blank lines are skipped. The whole file is validated even with a ``limit``.

    Raises:
        PairsFileError: the file is missing or has no pairs, a line is malformed (the message
            names the 1-based line number and the field), or a pair repeats an earlier one.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PairsFileError(f"{path}: cannot read pairs file: {exc.strerror}") from None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    pairs: list[BenchPair] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        pair = BenchPair(number, parse_pair_line(line, path, number))
        if pair.id in first_line:
            raise PairsFileError(
                f"{path}: line {number}: repeats the pair on line {first_line[pair.id]} "
                "(same domain, instruction and response)"
            )
        first_line[pair.id] = number
        pairs.append(pair)
    if not pairs:
        raise PairsFileError(f"{path}: the pairs file has no pairs")
    return pairs if limit is None else pairs[:limit]


def parse_pair_line(line: bytes, path: Path | str, number: int) -> Pair:
    """Parse one pairs-file line into a :class:`Pair`, or raise naming the line and field.

    >>> parse_pair_line(b'{"instruction": "x", "response": "y", "domain": "qa", '
    ...                 b'"label": "defective", "defect": null}', "p.jsonl", 3)
    Traceback (most recent call last):
    ...
    gra_graph.bench.pairs.PairsFileError: p.jsonl: line 3: a defective pair names its defect ...
    """
    where = f"{path}: line {number}"
    obj = parse_object_line(line, where, PairsFileError)
    try:
        return Pair.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            (f"{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise PairsFileError(f"{where}: {problems}") from None
