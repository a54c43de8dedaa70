"""Seed files: JSON Lines read line by line, every error naming the 1-based line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gra_graph.config import DOMAINS
from gra_graph.seeds import SeedFileError, read_seeds, seeds_fingerprint

ROOT = Path(__file__).resolve().parent.parent

GOOD = {
    "instruction": "Add 2 and 3.",
    "response": "2 + 3 = 5.",
    "domain": "math",
    "keywords": ["addition", "integers", "sum"],
    "summary": "Adding two integers gives their sum.",
}


def line(**overrides: object) -> str:
    return json.dumps({**GOOD, **overrides})


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "seeds.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def seed_error(path: Path) -> str:
    with pytest.raises(SeedFileError) as info:
        read_seeds(path)
    message = str(info.value)
    assert str(path) in message, "the message names the file"
    return message


def test_shipped_seeds():
    seeds = read_seeds(ROOT / "examples" / "seeds.jsonl")
    assert len(seeds) == 14
    assert {s.domain for s in seeds} == set(DOMAINS)
    assert len(DOMAINS) == 7
    assert all(s.instruction and s.response for s in seeds)
    assert all(s.keywords is None or len(s.keywords) == 3 for s in seeds)


def test_minimal_seed_needs_only_instruction_and_response(tmp_path: Path):
    path = write(tmp_path, json.dumps({"instruction": "Say hi.", "response": "Hi."}) + "\n")
    [seed] = read_seeds(path)
    assert seed.instruction == "Say hi."
    assert seed.response == "Hi."
    assert seed.domain is None
    assert seed.keywords is None
    assert not seed.annotated


def test_malformed_json_names_line(tmp_path: Path):
    path = write(tmp_path, f"{line()}\n{line()}\n{{not json\n")
    message = seed_error(path)
    assert "line 3" in message
    assert "malformed JSON" in message


def test_json_array_instead_of_object(tmp_path: Path):
    path = write(tmp_path, f'{line()}\n["instruction", "response"]\n')
    message = seed_error(path)
    assert "line 2" in message
    assert "expected a JSON object" in message
    assert "list" in message


def test_missing_response(tmp_path: Path):
    path = write(tmp_path, json.dumps({"instruction": "Do a thing."}) + "\n")
    message = seed_error(path)
    assert "line 1" in message
    assert "response" in message


def test_unknown_domain(tmp_path: Path):
    path = write(tmp_path, f"{line()}\n{line()}\n{line()}\n{line(domain='poetry')}\n")
    message = seed_error(path)
    assert "line 4" in message
    assert "domain" in message


def test_two_keywords(tmp_path: Path):
    path = write(tmp_path, f"{line()}\n{line(keywords=['only', 'two'])}\n")
    message = seed_error(path)
    assert "line 2" in message
    assert "keywords" in message


def test_unknown_field_is_rejected(tmp_path: Path):
    path = write(tmp_path, f"{line(extra='x')}\n")
    message = seed_error(path)
    assert "line 1" in message
    assert "extra" in message


def test_bytes_not_utf8(tmp_path: Path):
    bad = b'{"instruction": "caf\xe9", "response": "ok"}'
    path = write(tmp_path, line().encode() + b"\n" + bad + b"\n")
    message = seed_error(path)
    assert "line 2" in message
    assert "UTF-8" in message


def test_empty_file_has_no_seeds(tmp_path: Path):
    message = seed_error(write(tmp_path, ""))
    assert "has no seeds" in message


def test_only_blank_lines_has_no_seeds(tmp_path: Path):
    message = seed_error(write(tmp_path, "\n\n   \n\t\n"))
    assert "has no seeds" in message


def test_missing_file(tmp_path: Path):
    message = seed_error(tmp_path / "absent.jsonl")
    assert "cannot read" in message


def test_blank_lines_skipped_but_counted(tmp_path: Path):
    path = write(tmp_path, f"\n{line()}\n\n   \n{line(instruction='Second.')}\n\n")
    seeds = read_seeds(path)
    assert [s.instruction for s in seeds] == ["Add 2 and 3.", "Second."]

    path = write(tmp_path, f"\n{line()}\n\n   \n{{broken\n")
    message = seed_error(path)
    assert "line 5" in message


def test_crlf_line_endings(tmp_path: Path):
    path = write(tmp_path, f"{line()}\r\n{line(instruction='Two.')}\r\n")
    assert [s.instruction for s in read_seeds(path)] == ["Add 2 and 3.", "Two."]


def test_special_characters_survive_unchanged(tmp_path: Path):
    instruction = "Explain {{instruction}} and {% for x in y %}{{ x }}{% endfor %} and {x} and $x."
    response = 'He said "hi" and \'bye\'; path C:\\temp\\new; json {"a": [1, 2]}; ünïcødé ✓'
    path = write(tmp_path, line(instruction=instruction, response=response) + "\n")
    [seed] = read_seeds(path)
    assert seed.instruction == instruction
    assert seed.response == response


def test_fingerprint_tracks_content(tmp_path: Path):
    a = read_seeds(write(tmp_path, f"{line()}\n"))
    b = read_seeds(write(tmp_path, f"{line()}\n"))
    c = read_seeds(write(tmp_path, f"{line(response='2 + 3 = 6.')}\n"))
    assert seeds_fingerprint(a) == seeds_fingerprint(b)
    assert seeds_fingerprint(a) != seeds_fingerprint(c)
