"""Prompt paths stay inside the folders a graph file may read (issue 14, item 2).

A graph file is input someone may have been handed. If its ``prompts:`` could name any file,
``gra run`` would send that file (``/etc/passwd``, a key) to the models and write their echo of
it into the records. Each way out of the allowed folders is refused by name, before a model
loads: an absolute path, ``..`` steps, a symlink inside the folder, a symlinked folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gra_graph.cli import EXIT_INPUT, main
from gra_graph.config import GraphConfig, GraphConfigError, Stage
from gra_graph.prompts import load_prompts
from tests.support.helpers import ROOT, scripted_graph_text, shipped_graph_text

SECRET = "root:x:0:0:secret line\n"


def graph_with_prompt(folder: Path, annotate: str, extra: str = "") -> Path:
    """A graph file in ``folder`` whose annotate prompt is ``annotate`` (others shipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = scripted_graph_text(extra=extra)
    shipped = f"  annotate: {ROOT / 'prompts' / 'annotate.txt'}\n"
    assert shipped in text
    graph = folder / "graph.yaml"
    graph.write_text(text.replace(shipped, f"  annotate: {annotate}\n"), encoding="utf-8")
    return graph


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    """A file outside every allowed folder, standing in for /etc/passwd."""
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


def refused(graph: Path, capsys: pytest.CaptureFixture[str], target: Path) -> str:
    """``gra check`` refuses ``graph`` with exit 2, naming the stage and the resolved file."""
    assert main(["check", str(graph)]) == EXIT_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "prompts.annotate" in err
    assert str(target.resolve()) in err
    assert "secret line" not in err
    return err


def test_an_absolute_path_outside_is_refused(tmp_path: Path, secret: Path, capsys):
    graph = graph_with_prompt(tmp_path / "g", str(secret))
    err = refused(graph, capsys, secret)
    assert "prompt_root" in err, "the message says how to opt in"


def test_the_real_etc_passwd_is_refused(tmp_path: Path, capsys):
    graph = graph_with_prompt(tmp_path / "g", "/etc/passwd")
    refused(graph, capsys, Path("/etc/passwd"))


def test_dot_dot_steps_out_of_the_tree_are_refused(tmp_path: Path, secret: Path, capsys):
    graph = graph_with_prompt(tmp_path / "g" / "deep", "../../outside/passwd")
    refused(graph, capsys, secret)


def test_dot_dot_through_the_prompts_folder_is_refused(tmp_path: Path, secret: Path, capsys):
    # starts inside an allowed folder, ends outside it
    graph = graph_with_prompt(tmp_path / "g", f"{ROOT / 'prompts'}/../../../{secret}")
    refused(graph, capsys, secret)


def test_a_symlink_inside_the_folder_is_resolved_and_refused(tmp_path: Path, secret: Path, capsys):
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "annotate.txt").symlink_to(secret)
    graph = graph_with_prompt(folder, "annotate.txt")
    refused(graph, capsys, secret)


def test_a_symlinked_folder_is_resolved_and_refused(tmp_path: Path, secret: Path, capsys):
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "mine").symlink_to(secret.parent, target_is_directory=True)
    graph = graph_with_prompt(folder, "mine/passwd")
    refused(graph, capsys, secret)


def test_a_symlinked_prompts_folder_beside_the_graph_folder_is_not_trusted(
    tmp_path: Path, secret: Path, capsys
):
    # graphs/ next to prompts/ is the project layout, but a prompts/ that is a symlink could
    # lead anywhere: it does not count as an allowed folder
    (tmp_path / "prompts").symlink_to(secret.parent, target_is_directory=True)
    graph = graph_with_prompt(tmp_path / "graphs", "../prompts/passwd")
    refused(graph, capsys, secret)


def test_gra_run_refuses_before_anything_is_written(tmp_path: Path, secret: Path, capsys):
    graph = graph_with_prompt(tmp_path / "g", str(secret))
    seeds = tmp_path / "seeds.jsonl"
    shutil.copy(ROOT / "examples" / "seeds.jsonl", seeds)
    out = tmp_path / "out"
    code = main(["run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet"])
    assert code == EXIT_INPUT
    assert "prompts.annotate" in capsys.readouterr().err
    assert not out.exists()


def test_prompt_root_is_the_explicit_opt_in(tmp_path: Path, secret: Path):
    secret.write_text("Annotate: {{instruction}}\n", encoding="utf-8")
    graph = graph_with_prompt(tmp_path / "g", str(secret), extra=f"prompt_root: {secret.parent}\n")
    config = GraphConfig.from_file(graph)
    assert load_prompts(config)[Stage.ANNOTATE].source == secret.resolve()
    # relative to the graph file's folder, like every other path in it
    graph = graph_with_prompt(tmp_path / "g", str(secret), extra="prompt_root: ../outside\n")
    assert GraphConfig.from_file(graph).prompt_path(Stage.ANNOTATE) == secret.resolve()


def test_prompt_root_does_not_change_the_fingerprint(tmp_path: Path):
    plain = graph_with_prompt(tmp_path / "a", str(ROOT / "prompts" / "annotate.txt"))
    opted = graph_with_prompt(
        tmp_path / "b", str(ROOT / "prompts" / "annotate.txt"), extra="prompt_root: .\n"
    )
    assert GraphConfig.from_file(plain).fingerprint() == GraphConfig.from_file(opted).fingerprint()


def test_allowed_layouts_keep_working(tmp_path: Path):
    # the shipped graphs (../prompts beside graphs/)
    for name in ("gra.yaml", "gra_revise.yaml", "gra_faults.yaml"):
        load_prompts(GraphConfig.from_file(ROOT / "graphs" / name))
    # a copy of graphs/ and prompts/ side by side
    shutil.copytree(ROOT / "graphs", tmp_path / "graphs")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    load_prompts(GraphConfig.from_file(tmp_path / "graphs" / "gra.yaml"))
    # a graph file anywhere naming the shipped prompt files
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(shipped_graph_text(), encoding="utf-8")
    load_prompts(GraphConfig.from_file(elsewhere))
    # prompt files in the graph file's own folder tree, through a symlink that stays inside
    own = tmp_path / "own"
    shutil.copytree(ROOT / "prompts", own / "sub" / "prompts")
    os.symlink(own / "sub" / "prompts", own / "link")
    graph = graph_with_prompt(own, "link/annotate.txt")
    assert load_prompts(GraphConfig.from_file(graph))[Stage.ANNOTATE].source == (
        own / "sub" / "prompts" / "annotate.txt"
    )


def test_nul_in_a_prompt_path_is_an_input_error(tmp_path: Path):
    graph = graph_with_prompt(tmp_path / "g", '"annotate\\0.txt"')
    with pytest.raises(GraphConfigError, match=r"prompts\.annotate: a path cannot contain a NUL"):
        GraphConfig.from_file(graph)
