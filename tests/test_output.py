"""Durable JSON Lines: appended journals round-trip and a torn tail is cut off the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gra_graph.output import append_jsonl, read_jsonl_repairing, write_jsonl_atomic

ROWS = [
    {"seed_index": 0, "status": "accepted", "text": "plain"},
    {"seed_index": 1, "status": "rejected", "text": 'ünïcødé ✓ {{x}} "q" \\ \n newline'},
    {"seed_index": 2, "nested": {"a": [1, 2.5, None, True]}},
]


def assert_valid_jsonl(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_append_then_read_round_trips(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    append_jsonl(path, ROWS[:1])
    append_jsonl(path, ROWS[1:])
    assert read_jsonl_repairing(path) == ROWS
    assert assert_valid_jsonl(path) == ROWS


def test_append_writes_one_line_per_row(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    append_jsonl(path, ROWS)
    assert path.read_text(encoding="utf-8").count("\n") == len(ROWS)


def test_append_nothing_creates_empty_file(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    append_jsonl(path, [])
    assert path.exists()
    assert read_jsonl_repairing(path) == []


def test_missing_file_reads_as_empty(tmp_path: Path):
    path = tmp_path / "absent.jsonl"
    assert read_jsonl_repairing(path) == []
    assert not path.exists()


@pytest.mark.parametrize(
    "torn",
    [
        b'{"seed_index": 3, "status": "acc',  # half an object, no newline
        b'{"seed_index": 3}',  # a whole object but no newline: still torn
        b'{"seed_index": 3, "te\n',  # half an object that happens to end in a newline
        '{"text": "ü'.encode()[:-1],  # cut inside a multi-byte character
    ],
)
def test_torn_last_line_is_dropped_and_truncated(tmp_path: Path, torn: bytes):
    path = tmp_path / "journal.jsonl"
    append_jsonl(path, ROWS)
    good_size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(torn)

    assert read_jsonl_repairing(path) == ROWS
    assert path.stat().st_size == good_size

    new = {"seed_index": 3, "status": "accepted"}
    append_jsonl(path, [new])
    assert assert_valid_jsonl(path) == [*ROWS, new]
    assert read_jsonl_repairing(path) == [*ROWS, new]


def test_torn_only_line_truncates_to_empty(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"a": ')
    assert read_jsonl_repairing(path) == []
    assert path.read_bytes() == b""
    append_jsonl(path, [{"a": 1}])
    assert assert_valid_jsonl(path) == [{"a": 1}]


def test_intact_file_is_not_modified(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    append_jsonl(path, ROWS)
    before = path.read_bytes()
    read_jsonl_repairing(path)
    assert path.read_bytes() == before


def test_write_jsonl_atomic_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "accepted.jsonl"
    assert write_jsonl_atomic(path, iter(ROWS)) == len(ROWS)
    assert [p.name for p in tmp_path.iterdir()] == ["accepted.jsonl"]
    assert assert_valid_jsonl(path) == ROWS


def test_write_jsonl_atomic_replaces_existing_content(tmp_path: Path):
    path = tmp_path / "accepted.jsonl"
    append_jsonl(path, ROWS)
    assert write_jsonl_atomic(path, [{"only": 1}]) == 1
    assert assert_valid_jsonl(path) == [{"only": 1}]
    assert write_jsonl_atomic(path, []) == 0
    assert path.read_bytes() == b""
    assert [p.name for p in tmp_path.iterdir()] == ["accepted.jsonl"]


def test_a_failed_append_leaves_no_torn_line(tmp_path: Path, monkeypatch):
    import errno

    from gra_graph import output

    path = tmp_path / "j.jsonl"
    append_jsonl(path, [{"a": 1}])

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(output.os, "fsync", full)
        with pytest.raises(OSError, match="No space"):
            append_jsonl(path, [{"b": 2}, {"c": 3}])
        with pytest.raises(OSError, match="No space"):
            write_jsonl_atomic(tmp_path / "derived.jsonl", [{"d": 4}])
    assert path.read_text() == '{"a": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.jsonl"]
