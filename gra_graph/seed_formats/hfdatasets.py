"""Seeds from a ``datasets`` dataset: a directory ``save_to_disk`` wrote, or a dataset name in
the local Hugging Face cache (``hf:OWNER/NAME``), loaded offline.

Either way the dataset is memory-mapped Arrow, read in small batches of only the columns that
become seed fields, so memory stays flat. A ``DatasetDict`` (several splits) needs a split:
``--split NAME``, ``train`` by default; a missing one is refused, listing the splits.

A cached name is loaded with ``datasets.load_dataset(name)`` in offline mode (the library's
``HF_HUB_OFFLINE`` switch, set only around the load): a name that is not in the cache is an
error at once, never a download or a wait on the network.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.jsonl import file_stamp
from gra_graph.seed_formats.options import DEFAULT_SPLIT, SeedOptions
from gra_graph.seed_formats.rows import SeedMaker, resolve_columns, shown
from gra_graph.seed_formats.source import RawRow

HUB_PREFIX = "hf:"
"""``--seeds hf:OWNER/NAME`` names a dataset in the local Hugging Face cache."""

_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")

BATCH_BYTES = 8 << 20
"""About how many bytes of seed columns one batch holds."""

MAX_BATCH_ROWS = 1024


def import_datasets() -> Any:
    """The ``datasets`` package, or an error saying which extra installs it."""
    try:
        import datasets
    except ImportError:
        raise SeedFileError(
            "reading a datasets dataset needs the package datasets: pip install "
            "'gra-graph[datasets]'"
        ) from None
    return datasets


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a directory that ``save_to_disk`` wrote (a dataset or a dict)."""
    return path.is_dir() and any(
        (path / name).is_file() for name in ("dataset_dict.json", "state.json")
    )


class DatasetSource:
    """One split of a loaded ``datasets`` dataset, read in batches of its seed columns."""

    unit = "row"

    def __init__(self, dataset: Any, name: str, options: SeedOptions) -> None:
        self.name = name
        self.options = options
        self.columns = resolve_columns(options, list(dataset.column_names), name)
        self.dataset = dataset.select_columns(sorted(set(self.columns.values())))
        self.dataset = self.dataset.with_format(None)

    def maker(self) -> SeedMaker:
        return SeedMaker(self.options, self.columns, unit=self.unit)

    def stamp(self) -> Hashable:
        return tuple(
            (f["filename"], *file_stamp(Path(f["filename"]))) for f in self.dataset.cache_files
        )

    def rows(self) -> Iterator[RawRow]:
        count = len(self.dataset)
        size = self.dataset.data.nbytes
        per_batch = max(1, min(MAX_BATCH_ROWS, BATCH_BYTES * max(1, count) // max(1, size)))
        number = 0
        for batch in self.dataset.iter(batch_size=per_batch):
            names = list(batch)
            for values in zip(*(batch[n] for n in names), strict=True):
                number += 1
                yield number, f"{self.name}: row {number}", dict(zip(names, values, strict=True))


def pick_split(loaded: Any, name: str, split: str | None, *, from_dict_only: bool) -> Any:
    """The split to read: ``loaded`` itself if it is one dataset, else ``split`` of it.

    Raises:
        SeedFileError: a missing split (the splits are listed), or ``--split`` given for a
            dataset without splits.
    """
    datasets = import_datasets()
    if isinstance(loaded, datasets.DatasetDict):
        chosen = split or DEFAULT_SPLIT
        if chosen not in loaded:
            how = "" if split else " (the default; choose one with --split NAME)"
            raise SeedFileError(
                f"{name}: no split {shown(chosen)}{how}; the splits are "
                f"{', '.join(shown(s) for s in loaded)}"
            )
        return loaded[chosen]
    if split is not None and from_dict_only:
        raise SeedFileError(f"{name}: one dataset without splits; leave out --split")
    return loaded


def saved_dataset(path: Path, options: SeedOptions) -> DatasetSource:
    """The directory ``save_to_disk`` wrote, loaded with ``load_from_disk``.

    Raises:
        SeedFileError: the directory cannot be loaded, a split or a column is missing.
    """
    datasets = import_datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise SeedFileError(f"{path}: not a loadable datasets directory ({exc})") from None
    dataset = pick_split(loaded, str(path), options.split, from_dict_only=True)
    is_dict = isinstance(loaded, datasets.DatasetDict)
    name = f"{path} [split {options.split or DEFAULT_SPLIT}]" if is_dict else str(path)
    return DatasetSource(dataset, name, options)


def cached_dataset(spec: str, options: SeedOptions) -> DatasetSource:
    """``hf:OWNER/NAME`` from the local Hugging Face cache, loaded offline.

    Raises:
        SeedFileError: not a dataset name, not in the cache, shadowed by a local directory of
            the same name, or a split or column is missing.
    """
    hub_name = spec[len(HUB_PREFIX) :]
    if not _HUB_NAME.fullmatch(hub_name):
        raise SeedFileError(
            f"{spec}: not a dataset name; write hf:OWNER/NAME (or hf:NAME), as on the Hub"
        )
    if os.path.lexists(hub_name):
        raise SeedFileError(
            f"{spec}: a local path {hub_name} exists here, which datasets would load instead of "
            f"the cached dataset; pass it as --seeds ./{hub_name}, or run from another directory"
        )
    datasets = import_datasets()
    with _offline(datasets):
        try:
            loaded = datasets.load_dataset(hub_name)
        except ConnectionError:
            raise SeedFileError(
                f"{spec}: not in the local Hugging Face datasets cache "
                f"({datasets.config.HF_DATASETS_CACHE}); gra-graph loads datasets offline. "
                f"Download it first (datasets.load_dataset({hub_name!r}) while online), or "
                "save it with save_to_disk and pass the directory"
            ) from None
        except (OSError, ValueError, RuntimeError) as exc:
            raise SeedFileError(f"{spec}: cannot load it from the cache ({exc})") from None
    dataset = pick_split(loaded, spec, options.split, from_dict_only=False)
    return DatasetSource(dataset, f"{spec} [split {options.split or DEFAULT_SPLIT}]", options)


@contextmanager
def _offline(datasets: Any) -> Iterator[None]:
    """``datasets`` and ``huggingface_hub`` in offline mode (and quiet) while the block runs:
    both read the switch at call time, so a request is refused at once instead of reaching the
    network."""
    import huggingface_hub.constants as hub

    before = (datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE)
    verbosity = datasets.logging.get_verbosity()
    bars = datasets.utils.are_progress_bars_disabled()
    datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    datasets.logging.set_verbosity_error()  # not "using the cached version" on every run
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = before
        datasets.logging.set_verbosity(verbosity)
        if not bars:
            datasets.utils.enable_progress_bars()
