"""Bad inputs to ``gra run``: exit code 2, a clear message, and no run directory written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gra_graph.cli import EXIT_INPUT, main
from tests.support.helpers import ROOT, shipped_graph_text

GOOD_SEED = {
    "instruction": "Add 2 and 3.",
    "response": "5",
    "domain": "math",
    "keywords": ["addition", "integers", "sum"],
    "summary": "adding two integers",
}


def write_seeds(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def graph_with_model(tmp_path: Path, model_path: Path) -> Path:
    """A copy of graphs/gra.yaml whose first member uses ``model_path``."""
    text = shipped_graph_text().replace("model: smollm2-135m", f"model: {model_path}", 1)
    graph = tmp_path / "graph.yaml"
    graph.write_text(text)
    return graph


def run_cli(
    capsys: pytest.CaptureFixture[str], graph: Path, seeds: Path, out: Path
) -> tuple[int, str]:
    code = main(["run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([json.dumps(GOOD_SEED), '{"instruction": "x", "response": '], "line 2: malformed JSON"),
        (
            [json.dumps(GOOD_SEED), "", json.dumps({"instruction": "only half"})],
            "line 3: response: Field required",
        ),
        ([json.dumps({**GOOD_SEED, "domain": "poetry"})], "'poetry' (1 line, first line 1)"),
        ([json.dumps(GOOD_SEED), "[1, 2]"], "line 2: expected a JSON object"),
        ([], "has no seeds"),
    ],
    ids=["malformed-json", "missing-field", "unknown-domain", "not-an-object", "empty"],
)
def test_bad_seed_files(tmp_path: Path, capsys, lines: list[str], message: str):
    seeds = write_seeds(tmp_path / "seeds.jsonl", lines)
    out = tmp_path / "out"
    code, err = run_cli(capsys, ROOT / "graphs" / "gra.yaml", seeds, out)
    assert code == EXIT_INPUT
    assert message in " ".join(err.split())
    assert not out.exists()


def test_missing_model_file(tmp_path: Path, capsys):
    graph = graph_with_model(tmp_path, tmp_path / "nowhere.gguf")
    seeds = write_seeds(tmp_path / "seeds.jsonl", [json.dumps(GOOD_SEED)])
    code, err = run_cli(capsys, graph, seeds, tmp_path / "out")
    assert code == EXIT_INPUT
    assert "member 'smol-careful': model file not found" in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_file_that_is_not_gguf(tmp_path: Path, capsys):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    graph = graph_with_model(tmp_path, fake)
    seeds = write_seeds(tmp_path / "seeds.jsonl", [json.dumps(GOOD_SEED)])
    code, err = run_cli(capsys, graph, seeds, tmp_path / "out")
    assert code == EXIT_INPUT
    assert "is not a GGUF file" in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_corrupt_gguf_fails_at_load_before_any_work(tmp_path: Path, capsys):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00garbage" * 64)
    graph = graph_with_model(tmp_path, broken)
    seeds = write_seeds(tmp_path / "seeds.jsonl", [json.dumps(GOOD_SEED)])
    code, err = run_cli(capsys, graph, seeds, tmp_path / "out")
    assert code == EXIT_INPUT
    assert "llama.cpp cannot load" in " ".join(err.split())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("tau: 8.0", "tau: eight"), "thresholds.tau"),
        (lambda t: t.replace("committee_size: 3", "committee_size: 6"), "committee_size"),
        (lambda t: t.replace("name: gra\n", "name: gra\ncolour: blue\n"), "colour"),
        (lambda t: t + "\n  - [unclosed\n", "not valid YAML"),
    ],
    ids=["wrong-type", "committee-too-large", "unknown-field", "not-yaml"],
)
def test_invalid_graph_file(tmp_path: Path, capsys, edit, message: str):
    graph = tmp_path / "graph.yaml"
    graph.write_text(edit((ROOT / "graphs" / "gra.yaml").read_text()))
    seeds = write_seeds(tmp_path / "seeds.jsonl", [json.dumps(GOOD_SEED)])
    code, err = run_cli(capsys, graph, seeds, tmp_path / "out")
    assert code == EXIT_INPUT
    assert message in err
    assert not (tmp_path / "out").exists()


def test_check_command_accepts_the_shipped_graphs(capsys):
    for name in ("gra.yaml", "gra_revise.yaml"):
        assert main(["check", str(ROOT / "graphs" / name)]) == 0
        assert "ok - " in capsys.readouterr().err


def test_draw_prints_mermaid_offline(capsys):
    assert main(["draw", str(ROOT / "graphs" / "gra.yaml")]) == 0
    out = capsys.readouterr().out
    assert "graph TD" in out and "adjudicate" in out and "revise" in out


def test_help_lists_the_run_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for flag in ("--seeds", "--out", "--samples-per-seed", "--concurrency", "--seed"):
        assert flag in out


def test_prompts_dir_is_found_relative_to_the_graph_file(tmp_path: Path, capsys):
    # a graph copied elsewhere with its prompts keeps working
    shutil.copytree(ROOT / "graphs", tmp_path / "graphs")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    assert main(["check", str(tmp_path / "graphs" / "gra.yaml")]) == 0
