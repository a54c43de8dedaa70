"""Seeds from a CSV file (comma-separated; ``.tsv``: tab-separated), read record by record.

The first record is the header: the column names. Physical lines are read with a bound and
decoded one by one (UTF-8; a byte-order mark is ignored), so a bad byte names its line and a
file with no newline is never read whole; a record (which may span lines inside quotes) may be
at most ``MAX_SEED_LINE_BYTES`` long, as a JSON Lines seed may. Cells are text: an empty cell
of an optional field is no value, and ``keywords`` is a JSON list (``["a", "b", "c"]``).
Rows are numbered from 1 after the header, and messages name the line a row starts on too.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

from gra_graph.inputs import MAX_SEED_LINE_BYTES, InputFileError, describe_limit, open_regular
from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.jsonl import BOM, file_stamp
from gra_graph.seed_formats.options import SeedOptions
from gra_graph.seed_formats.rows import SeedMaker, resolve_columns, shown
from gra_graph.seed_formats.source import RawRow


class CsvSource:
    """A CSV (or TSV) seeds file; its header is checked when it is opened."""

    unit = "row"

    def __init__(self, path: Path, options: SeedOptions, delimiter: str = ",") -> None:
        self.path = path
        self.name = str(path)
        self.options = options
        self.delimiter = delimiter
        _raise_field_limit()
        with closing(self._records()) as records:
            first = next(records, None)
        header = first[1] if first else None
        if not header:
            raise SeedFileError(f"{self.name}: the CSV file has no header row (and no seeds)")
        self.header = header
        repeated = sorted(c for c, n in Counter(header).items() if n > 1)
        if repeated:
            raise SeedFileError(
                f"{self.name}: column {shown(repeated[0])} appears twice in the header"
            )
        self.columns = resolve_columns(options, header, self.name)

    def maker(self) -> SeedMaker:
        return SeedMaker(self.options, self.columns, unit=self.unit, text_cells=True)

    def stamp(self) -> Hashable:
        return file_stamp(self.path)

    def rows(self) -> Iterator[RawRow]:
        wanted = {column: self.header.index(column) for column in set(self.columns.values())}
        records = self._records()
        next(records)  # the header, checked when the source was opened
        for number, (line, record) in enumerate(records, start=1):
            where = f"{self.name}: row {number} (line {line})"
            if len(record) != len(self.header):
                raise SeedFileError(
                    f"{where}: {len(record)} cells, but the header has {len(self.header)}"
                )
            yield number, where, {column: record[i] for column, i in wanted.items()}

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-blank record, with the line it starts on."""
        try:
            fh = open_regular(self.path, "seeds file")
        except InputFileError as exc:
            raise SeedFileError(str(exc)) from None
        with fh:
            feed = _LineFeed(fh, self.name)
            reader = csv.reader(feed, delimiter=self.delimiter, strict=True)
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise SeedFileError(
                        f"{self.name}: line {feed.start}: malformed CSV ({exc})"
                    ) from None
                if record:
                    yield feed.start, record
                feed.next_record(reader.line_num + 1)


class _LineFeed:
    """Decoded physical lines for ``csv.reader``, each read with a bound, counting the bytes
    of the record being read so that no record grows past ``MAX_SEED_LINE_BYTES``."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.fh = fh
        self.name = name
        self.number = 0
        self.start = 1
        self.pending = 0

    def next_record(self, line: int) -> None:
        self.start, self.pending = line, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.fh.readline(MAX_SEED_LINE_BYTES + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self.pending += len(line.rstrip(b"\r\n"))
        cut = len(line) > MAX_SEED_LINE_BYTES and not line.endswith(b"\n")
        if cut or self.pending > MAX_SEED_LINE_BYTES:
            raise SeedFileError(
                f"{self.name}: the row starting on line {self.start} is longer than "
                f"{describe_limit(MAX_SEED_LINE_BYTES)} (the limit "
                "gra_graph.inputs.MAX_SEED_LINE_BYTES); split or shorten that seed"
            )
        if self.number == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SeedFileError(
                f"{self.name}: line {self.number}: not valid UTF-8 (byte {exc.start + 1})"
            ) from None


def _raise_field_limit() -> None:
    """Let one cell be as long as a whole seed may be (the csv module's default is 128 KiB).

    The limit is the csv module's, for the whole process: it is only ever raised, and only
    once a CSV seeds file is read; the record bound above still holds every row to 16 MiB."""
    if csv.field_size_limit() < MAX_SEED_LINE_BYTES:
        csv.field_size_limit(MAX_SEED_LINE_BYTES)
