"""What every seeds source is: numbered raw rows, a way to tell it changed, and its errors.

A source (a JSON Lines file, a parquet or CSV file, a ``datasets`` dataset) yields its rows one
at a time as plain mappings; :class:`gra_graph.seed_formats.rows.SeedMaker` turns each into a
:class:`gra_graph.state.Seed` as the user's column mapping says. Rows are numbered from 1, as
lines are, and every message names the source and the row (or line).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Protocol

from gra_graph.seed_formats.rows import SeedMaker

RawRow = tuple[int, str, Mapping[str, Any]]
"""One row of a source: its 1-based number, where it is in words (``FILE: line 3``), and its
fields by the source's own column names."""


class SeedSource(Protocol):
    """A place seeds are read from, row by row, as often as a run needs to read it."""

    name: str
    """How messages name the source: a path, or ``hf:OWNER/NAME``, with the split if any."""
    unit: str
    """What a numbered row is called in messages: ``line`` (JSON Lines) or ``row``."""

    def rows(self) -> Iterator[RawRow]:
        """Every row, in order, read lazily with bounded memory.

        Raises:
            SeedFileError: the source cannot be read, or a row is malformed (named).
        """
        ...

    def maker(self) -> SeedMaker:
        """A fresh converter of this source's rows into seeds (one per pass)."""
        ...

    def stamp(self) -> Hashable:
        """A value that changes when the source's data changes (sizes and times of its files)."""
        ...
