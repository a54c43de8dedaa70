"""Input files are regular files, read with a bound (issue 14, item 7).

``/dev/zero`` as a graph, prompt or seeds path used to be read without limit (24 GB of RSS, then
the OOM killer). Each probe here runs ``gra`` in a child process under a 1 GiB address-space
limit and a timeout, so a regression fails the test instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph.cli import EXIT_INPUT
from gra_graph.inputs import (
    MAX_GRAPH_FILE_BYTES,
    MAX_PROMPT_FILE_BYTES,
    MAX_SEED_LINE_BYTES,
    InputFileError,
    open_regular,
)
from gra_graph.seeds import SeedFile, SeedFileError
from tests.support.helpers import ROOT, scripted_graph_text

MEMORY_CAP = 1 << 30
GOOD_SEED = {
    "instruction": "Add 2 and 3.",
    "response": "5",
    "domain": "math",
    "keywords": ["addition", "integers", "sum"],
    "summary": "adding two integers",
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def gra(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``gra ARGS`` in a child process with at most 1 GiB of address space."""
    return subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())


@pytest.fixture()
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps(GOOD_SEED) + "\n", encoding="utf-8")
    return path


def test_dev_zero_as_the_graph_file(tmp_path: Path, seeds: Path):
    for command in (
        ["check", "/dev/zero"],
        ["run", "/dev/zero", "--seeds", str(seeds), "--out", str(tmp_path / "out")],
    ):
        result = gra(*command)
        assert result.returncode == EXIT_INPUT, result.stderr
        assert "graph file /dev/zero: it is a character device" in one_line(result)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_dev_zero_as_the_seeds_file(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    result = gra("check", str(graph), "--seeds", "/dev/zero")
    assert result.returncode == EXIT_INPUT
    assert "seeds file /dev/zero: it is a character device" in one_line(result)


def test_dev_zero_as_a_prompt_file(tmp_path: Path):
    # a symlink to it is refused as outside the graph's folders (test_prompt_paths.py); with
    # /dev opted in by prompt_root, the regular-file check is what holds
    graph = tmp_path / "g.yaml"
    text = scripted_graph_text(extra="prompt_root: /dev\n")
    annotate = f"  annotate: {ROOT / 'prompts' / 'annotate.txt'}\n"
    graph.write_text(text.replace(annotate, "  annotate: /dev/zero\n"), encoding="utf-8")
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT
    assert "prompts.annotate: cannot read prompt file /dev/zero" in one_line(result)
    assert "character device" in one_line(result)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "seeds.fifo"
    os.mkfifo(fifo)
    with pytest.raises(SeedFileError, match=r"FIFO \(named pipe\)"):
        SeedFile.scan(fifo)  # an open that waited for a writer would hang the test here
    graph = tmp_path / "g.fifo.yaml"
    os.mkfifo(graph)
    result = gra("check", str(graph), timeout=30)
    assert result.returncode == EXIT_INPUT
    assert "FIFO" in result.stderr


def test_a_directory_is_refused(tmp_path: Path):
    with pytest.raises(InputFileError, match="it is a directory"):
        open_regular(tmp_path, "seeds file")


def test_an_over_long_seed_line_is_refused_by_number(tmp_path: Path):
    path = tmp_path / "long.jsonl"
    with path.open("wb") as fh:
        fh.write(json.dumps(GOOD_SEED).encode() + b"\n")
        fh.write(b'{"instruction": "' + b"a" * MAX_SEED_LINE_BYTES + b'", "response": "x"}\n')
    with pytest.raises(SeedFileError) as info:
        SeedFile.scan(path)
    message = str(info.value)
    assert "line 2 is longer than 16 MiB" in message
    assert "MAX_SEED_LINE_BYTES" in message and str(path) in message


def test_a_line_at_the_limit_is_read(tmp_path: Path):
    seed = dict(GOOD_SEED)
    head = json.dumps({**seed, "instruction": ""}).encode()
    seed["instruction"] = "b" * (MAX_SEED_LINE_BYTES - len(head))
    line = json.dumps(seed).encode()
    assert len(line) == MAX_SEED_LINE_BYTES
    path = tmp_path / "limit.jsonl"
    path.write_bytes(line + b"\n")
    assert next(iter(SeedFile.scan(path))).instruction == seed["instruction"]


def test_a_file_of_one_endless_line_is_refused_with_flat_memory(tmp_path: Path):
    # a real file, no newline, 4x the limit: scanning must stop at the limit
    path = tmp_path / "endless.jsonl"
    with path.open("wb") as fh:
        for _ in range(4):
            fh.write(b"z" * MAX_SEED_LINE_BYTES)
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    result = gra("check", str(graph), "--seeds", str(path))
    assert result.returncode == EXIT_INPUT
    assert "line 1 is longer than 16 MiB" in one_line(result)


def test_an_over_large_graph_file_is_refused(tmp_path: Path):
    graph = tmp_path / "big.yaml"
    graph.write_text(scripted_graph_text() + "#" * MAX_GRAPH_FILE_BYTES + "\n", encoding="utf-8")
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT
    assert "larger than 1 MiB" in one_line(result) and "MAX_GRAPH_FILE_BYTES" in result.stderr


def test_an_over_large_prompt_file_is_refused(tmp_path: Path):
    prompt = tmp_path / "annotate.txt"
    prompt.write_text("x" * (MAX_PROMPT_FILE_BYTES + 1), encoding="utf-8")
    graph = tmp_path / "g.yaml"
    annotate = f"  annotate: {ROOT / 'prompts' / 'annotate.txt'}\n"
    graph.write_text(
        scripted_graph_text().replace(annotate, "  annotate: annotate.txt\n"), encoding="utf-8"
    )
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT
    assert "prompts.annotate" in result.stderr
    assert "larger than 1 MiB" in one_line(result) and "MAX_PROMPT_FILE_BYTES" in result.stderr


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path):
    # 10 levels of 10 aliases: 10^10 values from a few hundred bytes
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        refs = ",".join(f"*a{i - 1}" for _ in range(10))
        lines.append(f"a{i}: &a{i} [{refs}]")
    graph = tmp_path / "bomb.yaml"
    graph.write_text(scripted_graph_text() + "\n".join(lines) + "\n", encoding="utf-8")
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT
    assert "expands to more than 100,000 values" in one_line(result)


def test_deeply_nested_yaml_is_an_input_error(tmp_path: Path):
    graph = tmp_path / "deep.yaml"
    graph.write_text("members: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT, result.stderr
    assert "Traceback" not in result.stderr
