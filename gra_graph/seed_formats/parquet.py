"""Seeds from a parquet file, read row group by row group in small batches (pyarrow).

Only the columns that become seed fields are read. A batch holds about
:data:`BATCH_BYTES` of them (from the row group's own size figures), so memory stays flat
however large the file or its row groups are; the file is read through a small buffer
(``buffer_size``), never a whole column chunk at once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gra_graph.inputs import InputFileError, open_regular
from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.jsonl import file_stamp
from gra_graph.seed_formats.options import SeedOptions
from gra_graph.seed_formats.rows import SeedMaker, resolve_columns
from gra_graph.seed_formats.source import RawRow

BATCH_BYTES = 8 << 20
"""About how many bytes of seed columns one batch holds (at least one row, at most
:data:`MAX_BATCH_ROWS`)."""

MAX_BATCH_ROWS = 1024

READ_BUFFER_BYTES = 1 << 20
"""pyarrow's read buffer: column chunks are read through it, not loaded whole."""


def import_pyarrow() -> Any:
    """``pyarrow.parquet``, or an error saying which extra installs it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SeedFileError(
            "reading parquet seeds needs pyarrow: pip install 'gra-graph[datasets]'"
        ) from None
    return pq


class ParquetSource:
    """A parquet seeds file; its columns are checked when it is opened."""

    unit = "row"

    def __init__(self, path: Path, options: SeedOptions) -> None:
        self.path = path
        self.name = str(path)
        self.options = options
        with self._open() as parquet:
            self.columns = resolve_columns(options, parquet.schema_arrow.names, self.name)

    def maker(self) -> SeedMaker:
        return SeedMaker(self.options, self.columns, unit=self.unit)

    def stamp(self) -> Hashable:
        return file_stamp(self.path)

    def rows(self) -> Iterator[RawRow]:
        wanted = sorted(set(self.columns.values()))
        with self._open() as parquet:
            meta = parquet.metadata
            number = 0
            for group in range(meta.num_row_groups):
                size = _group_bytes(meta.row_group(group), set(wanted))
                rows = max(1, meta.row_group(group).num_rows)
                per_batch = max(1, min(MAX_BATCH_ROWS, BATCH_BYTES * rows // max(1, size)))
                try:
                    for batch in parquet.iter_batches(
                        batch_size=per_batch, row_groups=[group], columns=wanted, use_threads=False
                    ):
                        for row in batch.to_pylist():
                            number += 1
                            yield number, f"{self.name}: row {number}", row
                except (OSError, ValueError) as exc:  # pyarrow's ArrowException is both
                    raise SeedFileError(
                        f"{self.name}: cannot read row group {group + 1} (after row {number}): "
                        f"{exc}"
                    ) from None

    @contextmanager
    def _open(self) -> Iterator[Any]:
        """The file as a ``pyarrow.parquet.ParquetFile`` (a regular file only), then closed."""
        pq = import_pyarrow()
        try:
            fh = open_regular(self.path, "seeds file")
        except InputFileError as exc:
            raise SeedFileError(str(exc)) from None
        with fh:
            try:
                parquet = pq.ParquetFile(fh, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
            except (OSError, ValueError) as exc:
                raise SeedFileError(f"{self.name}: not a readable parquet file ({exc})") from None
            yield parquet


def _group_bytes(group: Any, columns: set[str]) -> int:
    """The uncompressed bytes of ``columns`` in one row group (nested columns included)."""
    total = 0
    for i in range(group.num_columns):
        chunk = group.column(i)
        if chunk.path_in_schema.split(".")[0] in columns:
            total += chunk.total_uncompressed_size
    return total
