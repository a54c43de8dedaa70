"""Writing an export: JSON Lines, Parquet (pyarrow) and ``datasets`` datasets
(``save_to_disk``), each staged beside its destination and renamed into place, so a failed
export leaves nothing half-written and an existing one is replaced only when asked.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gra_graph.exports.rows import uniform_columns
from gra_graph.rundirs import RUN_FILE


class ExportError(ValueError):
    """An export that cannot be written as asked (said in one line; nothing was written)."""


def _require(module: str, fmt: str) -> Any:
    """Import ``module``, or say which extra installs it (the core install has neither
    pyarrow nor datasets)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(
            f"--format {fmt} needs the package {module.split('.')[0]}: install the extra with "
            "pip install 'gra-graph[datasets]' (or pip install -e '.[datasets]' in a checkout)"
        ) from None


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """One JSON object per line, UTF-8, non-ASCII written as itself."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def arrow_table(rows: list[dict[str, Any]], fmt: str) -> Any:
    """The rows as a ``pyarrow.Table`` (every column in every row, types inferred)."""
    pa = _require("pyarrow", fmt)
    return pa.Table.from_pylist(uniform_columns(rows))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows as one Parquet file (read back with ``pyarrow.parquet.read_table``)."""
    table = arrow_table(rows, "parquet")
    _require("pyarrow.parquet", "parquet").write_table(table, path)


def write_hf(path: Path, rows: list[dict[str, Any]]) -> Any:
    """The rows as a ``datasets.Dataset`` saved with ``save_to_disk`` into the directory
    ``path`` (read back with ``datasets.load_from_disk``); returns the dataset."""
    datasets = _require("datasets", "hf")
    datasets.disable_progress_bars()  # the command prints its own one-line result
    dataset = datasets.Dataset(arrow_table(rows, "hf"))
    dataset.save_to_disk(str(path))
    return dataset


def push_to_hub(path: Path, repo: str, private: bool) -> None:
    """Upload the dataset saved in ``path`` (by :func:`write_hf`) to the Hugging Face Hub as
    ``repo``, with its ``README.md`` as the dataset card.

    Needs network access and a token with write access (``HF_TOKEN``, or ``hf auth login``);
    nothing else in ``gra export`` touches the network.
    """
    import datasets

    datasets.load_from_disk(str(path)).push_to_hub(repo, private=private)
    card = path / "README.md"
    if card.is_file():  # push_to_hub wrote a card of its own: ours says what made the data
        from huggingface_hub import HfApi

        HfApi().upload_file(
            path_or_fileobj=str(card),
            path_in_repo="README.md",
            repo_id=repo,
            repo_type="dataset",
        )


def _refuse_run_dir(path: Path) -> None:
    if (path / RUN_FILE).exists():
        raise ExportError(f"{path} is a run directory; export to another --out")


@contextmanager
def staged(out: Path, overwrite: bool, directory: bool) -> Iterator[Path]:
    """A fresh path beside ``out`` to write the export into (a directory when ``directory``),
    renamed to ``out`` when the block ends without an error and removed otherwise.

    An existing ``out`` is refused unless ``overwrite``; a run directory is never replaced.
    """
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise ExportError(f"{out} exists; pass --overwrite to replace it")
        if out.is_symlink() or (directory != out.is_dir()):
            kind = "a link" if out.is_symlink() else ("a file" if directory else "a directory")
            raise ExportError(f"{out} is {kind}; --overwrite replaces only an earlier export")
        if directory:
            _refuse_run_dir(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if directory:
            stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=parent)
            os.close(fd)
            stage = Path(name)
    except OSError as exc:
        raise ExportError(f"cannot write into {parent}: {exc.strerror or exc}") from None
    try:
        yield stage
        _replace(stage, out, directory)
    finally:
        _remove(stage)


def _replace(stage: Path, out: Path, directory: bool) -> None:
    _usual_mode(stage, directory)
    if not directory or not out.exists():
        os.replace(stage, out)  # a file, or a directory into a free name: one rename
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, old / out.name)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def _usual_mode(path: Path, directory: bool) -> None:
    """Give the staged export the mode a new file or folder gets (``mkstemp`` and ``mkdtemp``
    make them private to their owner)."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [path, *(path.rglob("*") if directory else ())]:
        base = 0o777 if item.is_dir() else 0o666
        os.chmod(item, base & ~umask)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


Writer = Callable[[Path, list[dict[str, Any]]], Any]
WRITERS: dict[str, tuple[Writer, str]] = {
    "jsonl": (write_jsonl, ".jsonl"),
    "parquet": (write_parquet, ".parquet"),
}
"""File writers by container, with the file suffix each writes."""
