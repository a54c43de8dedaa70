"""Cheap checks of a model file, run before anything is loaded or any work starts."""

from __future__ import annotations

from pathlib import Path

GGUF_MAGIC = b"GGUF"


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable, or not a GGUF file."""


def check_gguf(path: Path, member: str) -> None:
    """Fail with a clear message unless ``path`` is a readable GGUF file.

    Only the 4-byte magic is read here; a file that is GGUF in name but corrupt inside fails
    when it is loaded, which also happens before any sample is drawn.
    """
    if not path.exists():
        raise ModelFileError(f"member '{member}': model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"member '{member}': model path is not a file: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(f"member '{member}': cannot read model file {path}: {exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"member '{member}': {path} is not a GGUF file (starts with {magic!r}, "
            f"expected {GGUF_MAGIC!r})"
        )
