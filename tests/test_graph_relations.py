"""Settings valid alone but not together are refused when the file loads (issue 14, item 9).

Each case used to pass ``gra check`` and then fail the run (every sample undecidable, or
llama.cpp dying in thread creation); now the message names both fields.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gra_graph.cli import EXIT_INPUT, main
from gra_graph.config import GraphConfig, GraphConfigError, usable_cpus
from tests.support.helpers import scripted_graph_text


def load(tmp_path: Path, extra: str) -> GraphConfig:
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(extra=extra), encoding="utf-8")
    return GraphConfig.from_file(graph)


def refused(tmp_path: Path, extra: str, capsys: pytest.CaptureFixture[str]) -> str:
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(extra=extra), encoding="utf-8")
    assert main(["check", str(graph)]) == EXIT_INPUT
    return " ".join(capsys.readouterr().err.split())


def test_min_valid_reviews_above_committee_size(tmp_path: Path, capsys):
    err = refused(tmp_path, "committee_size: 3\nthresholds: {min_valid_reviews: 4}\n", capsys)
    assert "thresholds.min_valid_reviews: 4" in err and "committee_size is 3" in err
    assert load(tmp_path, "thresholds: {min_valid_reviews: 3}\n").thresholds.min_valid_reviews == 3


def test_n_threads_beyond_the_machine(tmp_path: Path, capsys):
    cpus = usable_cpus()
    text = scripted_graph_text().replace(
        "n_ctx: 2048, roles: [reviewer]", "n_threads: 100000, n_ctx: 2048, roles: [reviewer]", 1
    )
    graph = tmp_path / "g.yaml"
    graph.write_text(text, encoding="utf-8")
    assert main(["check", str(graph)]) == EXIT_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "members.1.n_threads" in err
    assert f"100000 threads is more than the {cpus} CPU(s)" in err
    graph.write_text(text.replace("n_threads: 100000", f"n_threads: {cpus}"), encoding="utf-8")
    assert GraphConfig.from_file(graph).members[1].n_threads == cpus
    graph.write_text(text.replace("n_threads: 100000", f"n_threads: {cpus + 1}"), encoding="utf-8")
    with pytest.raises(GraphConfigError, match=r"members\.1\.n_threads"):
        GraphConfig.from_file(graph)


def test_revise_floor_not_below_tau(tmp_path: Path, capsys):
    err = refused(
        tmp_path, "thresholds: {tau: 7.0}\nrevise: {max_rounds: 2, score_floor: 7.0}\n", capsys
    )
    assert "revise.score_floor: 7 is not below thresholds.tau 7" in err
    assert "revise.max_rounds is 2" in err
    # with revise off the floor is unused, so any value is fine
    config = load(tmp_path, "thresholds: {tau: 7.0}\nrevise: {max_rounds: 0, score_floor: 9.0}\n")
    assert config.revise.score_floor == 9.0


def test_a_nul_in_a_model_path_is_an_input_error(tmp_path: Path, capsys):
    text = scripted_graph_text().replace("model: smollm2-135m", 'model: "a\\0b.gguf"', 1)
    graph = tmp_path / "g.yaml"
    graph.write_text(text, encoding="utf-8")
    assert main(["check", str(graph)]) == EXIT_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "members.0.model: a model path cannot contain a NUL byte" in err
