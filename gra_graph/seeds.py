"""Reading seeds: streamed and validated row by row, errors naming the line or row.

Seeds come from JSON Lines, parquet, CSV, a ``datasets`` directory or the Hugging Face cache
(:mod:`gra_graph.seed_formats` reads each, with the ``--map``/``--domain-map``/``--split``
options); this module treats them all alike. Seeds are read in two ways, both one row at a time
so memory stays flat however long the source is: :meth:`SeedFile.scan` validates every row up
front (a malformed line 99,999 fails before any model loads) and records the count, a content
fingerprint and any repeated seeds; iterating the :class:`SeedFile` then reads the seeds
again, lazily, as the runner needs them.

Decisions about hostile input (documented in the README):

- bytes that are not UTF-8, JSON nested too deeply, numbers too long to convert, a key given
  twice in one object: each is an error naming the file and the line;
- a UTF-8 byte-order mark at the start of the file is ignored;
- the path must be a regular file (not ``/dev/zero``, a FIFO or a directory), and a line may
  be up to ``MAX_SEED_LINE_BYTES`` long (16 MiB: a 2 MB instruction is read like any other);
  a longer line is an error naming it, found without reading the line whole;
- a domain value outside the seven is counted, not refused at its row: the scan refuses them
  all at the end, each with its count, unless ``--domain-map`` renames it;
- a seed that repeats an earlier one (same instruction and response) is kept: every line is its
  own seed with its own ``seed_index``, so records and threads never share an id; the repeats
  are listed in :attr:`SeedFile.duplicates` and ``gra run`` warns about them;
- nothing in a seed is ever evaluated: text reaches the prompts verbatim.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gra_graph.inputs import MAX_SEED_LINE_BYTES, describe_limit
from gra_graph.seed_formats import SeedOptions, SeedSource, open_seed_source
from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.jsonl import parse_object_line
from gra_graph.seed_formats.rows import SeedMaker, validated
from gra_graph.state import Seed

__all__ = [
    "Duplicates",
    "SeedFile",
    "SeedFileChangedError",
    "SeedFileError",
    "SeedOptions",
    "parse_object_line",
    "parse_seed_line",
    "read_seeds",
    "seeds_fingerprint",
]
MAX_LISTED_DUPLICATES = 10
"""How many repeated seeds :attr:`SeedFile.duplicates` lists by line (all are counted)."""


@dataclass(frozen=True)
class Duplicates:
    """Seeds that repeat an earlier seed: how many, and the first few as (line, first line)."""

    count: int = 0
    examples: tuple[tuple[int, int], ...] = ()
    unit: str = "line"

    def message(self, path: Path | str) -> str:
        """A one-line warning for people, or ``""`` when there are none."""
        if not self.count:
            return ""
        u = self.unit
        shown = ", ".join(f"{u} {a} repeats {u} {b}" for a, b in self.examples)
        hidden = self.count - len(self.examples)
        more = f", and {hidden} more" if hidden else ""
        return (
            f"{path}: {self.count} seed(s) repeat an earlier seed ({shown}{more}); each {u} is "
            "kept as its own seed with its own records, so remove repeats you do not want twice"
        )


@dataclass(frozen=True)
class SeedFile:
    """Validated seeds, read lazily: iterate it for the seeds, in the source's order.

    Build it with :meth:`scan`. ``limit`` keeps only the first seeds (the whole source is still
    validated). Iterating again re-reads the source and checks every seed against the digest
    the scan took of it (8 bytes a seed), as it is read: if the source changed since the scan,
    even in the middle of a pass, iteration raises :class:`SeedFileChangedError` at the first
    seed that differs, rather than run on different input.

    Example:
        >>> seeds = SeedFile.scan("examples/seeds.jsonl")  # doctest: +SKIP
        >>> len(seeds), seeds.fingerprint  # doctest: +SKIP
        (14, '...')
        >>> next(iter(seeds)).domain  # doctest: +SKIP
        'coding'
        >>> options = SeedOptions(columns={"instruction": "prompt"})  # doctest: +SKIP
        >>> SeedFile.scan("seeds.parquet", options=options)  # doctest: +SKIP
    """

    source: SeedSource
    count: int
    fingerprint: str
    duplicates: Duplicates
    limit: int | None = None
    _stamp: Hashable = field(default=None, repr=False)
    _digests: bytes = field(default=b"", repr=False)

    @property
    def path(self) -> str:
        """The source as messages name it: a path, or ``hf:OWNER/NAME [split S]``."""
        return self.source.name

    @classmethod
    def scan(
        cls,
        source: str | Path | SeedSource,
        *,
        limit: int | None = None,
        options: SeedOptions | None = None,
    ) -> SeedFile:
        """Validate every seed of ``source`` in one streaming pass.

        ``source`` is a path or ``hf:`` name (read as :func:`open_seed_source` says, with
        ``options``), or an opened source.

        Raises:
            SeedFileError: the source is missing or empty, a row is malformed (the message
                names the 1-based line or row and the field), or domain values are outside
                the seven (all named, with their counts).
        """
        if isinstance(source, str | Path):
            source = open_seed_source(source, options)
        stamp = source.stamp()
        digest = hashlib.sha256()
        keys = array("Q")  # 8 bytes per seed: the repeat check stays small for huge files
        lines = array("I")
        digests = bytearray()  # 8 bytes per seed, to check each seed again as it is re-read
        count = 0
        maker = source.maker()
        for number, seed in _stream(source, maker):
            if limit is not None and count >= limit:
                continue  # validated, not used
            count += 1
            text_json = seed.model_dump_json().encode()
            digest.update(text_json)
            digests += _seed_digest(text_json)
            text = f"{seed.instruction}\0{seed.response}".encode()
            keys.append(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big"))
            lines.append(number)
        unknown = maker.tally.error(source.name)
        if unknown:
            raise unknown
        if not count:
            raise SeedFileError(f"{source.name}: the seeds file has no seeds")
        return cls(
            source,
            count,
            digest.hexdigest()[:16],
            _duplicates(keys, lines, source.unit),
            limit,
            stamp,
            bytes(digests),
        )

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Seed]:
        if self.source.stamp() != self._stamp:
            raise SeedFileChangedError(self.path)
        seen = 0
        maker = self.source.maker()
        try:
            for number, seed in _stream(self.source, maker):
                if maker.tally.found:  # a domain value the scan did not see
                    raise SeedFileChangedError(self.path, number, self.source.unit)
                if seen == self.count:
                    return
                expected = self._digests[8 * seen : 8 * seen + 8]
                if expected and _seed_digest(seed.model_dump_json().encode()) != expected:
                    raise SeedFileChangedError(self.path, number, self.source.unit)
                seen += 1
                yield seed
        except SeedFileChangedError:
            raise
        except SeedFileError:  # a row that no longer parses: the source changed
            raise SeedFileChangedError(self.path) from None
        if seen != self.count:
            raise SeedFileChangedError(self.path)


class SeedFileChangedError(SeedFileError):
    """The seeds changed after they were validated (found while a run reads them)."""

    def __init__(self, path: Path | str, line: int | None = None, unit: str = "line") -> None:
        where = f" ({unit} {line} differs)" if line else ""
        super().__init__(
            f"{path}: the seeds file changed since it was validated{where}. The run stopped "
            "cleanly; restore the file and run the same command again to resume"
        )


def _seed_digest(seed_json: bytes) -> bytes:
    return hashlib.blake2b(seed_json, digest_size=8).digest()


def _stream(source: SeedSource, maker: SeedMaker) -> Iterator[tuple[int, Seed]]:
    """(line or row number, seed) for every row, converted and validated, one at a time.

    A row that is not JSON Lines is bounded after conversion as a JSON Lines line is before
    it: a seed larger than ``MAX_SEED_LINE_BYTES`` is refused, naming its row.
    """
    for number, where, row in source.rows():
        seed = maker.seed(number, where, row)
        if source.unit != "line" and _seed_bytes(seed) > MAX_SEED_LINE_BYTES:
            raise SeedFileError(
                f"{where}: the seed is larger than {describe_limit(MAX_SEED_LINE_BYTES)} (the "
                "limit gra_graph.inputs.MAX_SEED_LINE_BYTES); split or shorten it"
            )
        yield number, seed


def _seed_bytes(seed: Seed) -> int:
    """The UTF-8 size of a seed's text (what a JSON Lines line of it would hold, about)."""
    texts = [seed.instruction, seed.response, seed.summary or "", *(seed.keywords or [])]
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)


def _duplicates(keys: array, lines: array, unit: str = "line") -> Duplicates:
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
    return Duplicates(int(repeat.sum()), tuple(pairs[:MAX_LISTED_DUPLICATES]), unit)


def read_seeds(path: str | Path, options: SeedOptions | None = None) -> list[Seed]:
    """Read and validate every seed of a seeds file into a list (small files; see
    :class:`SeedFile` to stream large ones). ``path`` may be any source ``--seeds`` takes.

    Blank lines are skipped. Each other line must be a JSON object with ``instruction`` and
    ``response`` and optionally ``domain`` (one of the paper's 7), ``keywords`` (3 strings) and
    ``summary``.

    Raises:
        SeedFileError: the file is missing or empty, or a line is malformed; the message names
            the 1-based line number and the field.
    """
    return list(SeedFile.scan(path, options=options))


def parse_seed_line(line: bytes, path: Path | str, number: int) -> Seed:
    """Parse one seeds-file line into a :class:`Seed`, or raise naming the line."""
    where = f"{path}: line {number}"
    return validated(parse_object_line(line, where, SeedFileError), where)


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
