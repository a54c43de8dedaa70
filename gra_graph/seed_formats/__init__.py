"""Where seeds come from: JSON Lines, parquet, CSV, a ``datasets`` directory or the HF cache.

:func:`open_seed_source` reads what ``--seeds`` names and returns a
:class:`~gra_graph.seed_formats.source.SeedSource`; :class:`gra_graph.seeds.SeedFile` scans
and streams any of them the same way. What is read:

- ``hf:OWNER/NAME``: a dataset in the local Hugging Face cache, loaded offline;
- a directory that ``save_to_disk`` wrote (``dataset_dict.json`` or ``state.json`` in it);
- a file ending in ``.parquet`` (or ``.pq``), ``.csv`` or ``.tsv``;
- any other file: JSON Lines, as always.

A ``.parquet``/``.csv`` path that is not a regular file is refused as a seeds file always is.
"""

from __future__ import annotations

from pathlib import Path

from gra_graph.seed_formats.csvfile import CsvSource
from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.hfdatasets import (
    HUB_PREFIX,
    cached_dataset,
    is_saved_dataset,
    saved_dataset,
)
from gra_graph.seed_formats.jsonl import JsonLinesSource
from gra_graph.seed_formats.options import SeedOptions
from gra_graph.seed_formats.parquet import ParquetSource
from gra_graph.seed_formats.source import SeedSource

__all__ = [
    "SeedFileError",
    "SeedOptions",
    "SeedSource",
    "open_seed_source",
    "seeds_location",
]


def open_seed_source(spec: str | Path, options: SeedOptions | None = None) -> SeedSource:
    """The source ``spec`` names, opened and checked (columns, split), not yet read.

    Raises:
        SeedFileError: ``--split`` for a plain file, a missing column or split, a dataset not
            in the cache, or a file of the wrong kind; the message names it.
    """
    options = options or SeedOptions()
    text = str(spec)
    if text.startswith(HUB_PREFIX):
        return cached_dataset(text, options)
    path = Path(text)
    if is_saved_dataset(path):
        return saved_dataset(path, options)
    if path.is_dir():
        raise SeedFileError(
            f"cannot read seeds file {path}: it is a directory, and not one that datasets' "
            "save_to_disk wrote (no dataset_dict.json or state.json in it)"
        )
    if options.split is not None:
        raise SeedFileError(f"{path}: --split applies only to a datasets dataset")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return ParquetSource(path, options)
    if suffix in (".csv", ".tsv"):
        return CsvSource(path, options, "\t" if suffix == ".tsv" else ",")
    return JsonLinesSource(path, options)


def seeds_location(spec: str | Path) -> str:
    """How a run records where its seeds are: an absolute path, or an ``hf:`` name as given."""
    text = str(spec)
    return text if text.startswith(HUB_PREFIX) else str(Path(text).resolve())
