"""``gra inspect`` and ``gra rerun`` on runs of scripted members: the real command line, the
real SQLite checkpoints, the real LangGraph forks; only the models are scripted."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gra_graph import runner, timetravel
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.rundirs import RunDir
from gra_graph.timetravel import ForkRecord, fork_records
from tests.support.cli_fake import model_paths
from tests.support.fakes import fake_members, scores
from tests.support.helpers import ROOT, scripted_graph_text

SEEDS = [
    {
        "instruction": f"Task {i}",
        "response": f"Answer {i}",
        "domain": "coding",
        "keywords": [f"k{i}", "b", "c"],
        "summary": f"summary {i}",
    }
    for i in range(2)
]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted members wherever the command would load models; the adjudicator, when it is
    made to review, scores low."""

    def members(config):
        return fake_members(config, {"adj": {"ScoreOutput": scores(3)}})

    for module in (runner, timetravel):
        monkeypatch.setattr(module, "load_members", members)
        monkeypatch.setattr(module, "check_member_models", model_paths)


def make_run(tmp_path: Path, prune: bool) -> Path:
    graph = tmp_path / "graph.yaml"
    extra = f"checkpoints: {{prune_finished: {str(prune).lower()}}}\n"
    graph.write_text(scripted_graph_text(extra=extra))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in SEEDS))
    out = tmp_path / "run"
    assert main(["run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def kept(tmp_path: Path, scripted, capsys) -> Path:
    """A finished run whose graph file keeps the checkpoints of finished samples."""
    out = make_run(tmp_path, prune=False)
    capsys.readouterr()  # what the run printed
    return out


def inspect_json(out: Path, sample: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["inspect", str(out), sample, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def checkpoint_rows(out: Path, thread: str) -> int:
    with sqlite3.connect(out / "checkpoints.sqlite") as conn:
        query = "SELECT count(*) FROM checkpoints WHERE thread_id = ?"
        return conn.execute(query, (thread,)).fetchone()[0]


def test_inspect_shows_each_step_its_node_time_and_changes(kept: Path, capsys):
    steps = inspect_json(kept, "1/0", capsys)
    ran = [step["nodes"] for step in steps if step["source"] == "loop"]
    first = ["draw_roles", "compose_keywords", "write_instruction", "write_response"]
    assert ran[1:5] == [[node] for node in first]
    assert ran[5] == ["check_instruction"] * 3 and ran[7] == ["score_response"] * 3
    assert ran[-2:] == [["decide"], ["enrich"]]
    assert [s["step"] for s in steps] == list(range(-1, len(steps) - 1))
    assert all(s["created_at"].startswith("20") for s in steps)
    scored = steps[8]["changes"]
    assert scored["reviews"].startswith("+3: ") and '"scores"' in scored["reviews"]
    assert steps[9]["changes"]["decision"].startswith('{"status": "accepted"')
    # a thread id names the same sample; the table says the same
    assert inspect_json(kept, "1-0", capsys) == steps
    assert main(["inspect", str(kept), "1/0"]) == 0
    table = capsys.readouterr().out
    assert "score_response x3" in table and "enrich" in table and "decision:" in table


def test_rerun_with_another_reviewer_writes_a_linked_fork(kept: Path, capsys):
    records = (kept / "records.jsonl").read_bytes()
    accepted = (kept / "accepted.jsonl").read_bytes()
    before = checkpoint_rows(kept, "0-0")
    code = main(["rerun", str(kept), "0/0", "--from", "score_response", "--member", "r1=adj"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fork 0-0.fork1 of 0-0 from score_response (r1 -> adj): rejected" in " ".join(
        err.split()
    )
    (fork,) = fork_records(kept)
    assert fork.fork_thread == "0-0.fork1" and fork.member_swap == {"r1": "adj"}
    assert fork.parent.thread_id == "0-0" and fork.parent.status == "accepted"
    assert fork.key == (0, 0) and fork.status == "rejected"  # adj scores 3: mu 7.0 < tau 8.0
    assert sorted(r.reviewer for r in fork.reviews) == ["adj", "r2", "r3"]
    assert fork.roles and "r1" not in fork.roles.reviewers
    assert {c.member for c in fork.calls if c.stage == "score_response"} == {"adj", "r2", "r3"}
    # the parent is untouched: its record, the accepted rows, its thread
    assert (kept / "records.jsonl").read_bytes() == records
    assert (kept / "accepted.jsonl").read_bytes() == accepted
    assert checkpoint_rows(kept, "0-0") == before
    # the fork is a thread of its own, inspectable, starting at the fork point
    steps = inspect_json(kept, "0-0.fork1", capsys)
    assert steps[0]["source"] == "fork" and steps[0]["checkpoint_id"] == fork.parent.checkpoint_id
    assert steps[0]["next"] == ["score_response"] * 3
    assert [s["nodes"] for s in steps[1:]] == [["score_response"] * 3, ["decide"]]


def test_rerun_with_a_changed_threshold_and_forks_numbered(kept: Path, capsys):
    assert main(["rerun", str(kept), "1/0", "--from", "decide", "--set", "thresholds.tau=9.5"]) == 0
    assert main(["rerun", str(kept), "1-0", "--from", "decide"]) == 0
    first, second = fork_records(kept)
    assert first.settings == {"thresholds.tau": 9.5} and first.status == "rejected"
    assert "mu 9.0 < tau 9.5" in first.reason
    assert second.fork_thread == "1-0.fork2" and second.status == "accepted"
    # deciding again made no new review call: the reviews are the parent's
    assert [c.stage for c in first.calls].count("score_response") == 3
    row = json.loads((kept / "forks.jsonl").read_text().splitlines()[0])
    assert ForkRecord.model_validate(row).parent.reason == first.parent.reason


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "nowhere"], "nowhere never ran in sample 0/0"),
        (["--from", "score_response", "--member", "adj"], "say which one adj replaces"),
        (["--from", "score_response", "--member", "r1=ghost"], "ghost is not a member"),
        (["--from", "score_response", "--member", "r1=r2"], "r2 already is a reviewer"),
        (["--from", "decide", "--member", "adj"], "decide calls no member"),
        (["--from", "decide", "--set", "thresholds.nope=1"], "no setting thresholds.nope"),
        (["--from", "decide", "--set", "thresholds.tau=high"], "thresholds.tau"),
        (["--from", "decide", "--set", "tau"], "write KEY=VALUE"),
    ],
)
def test_a_rerun_that_cannot_be_done_says_why_in_one_line(kept: Path, capsys, args, says):
    code = main(["rerun", str(kept), "0/0", *args])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and says in " ".join(err.split()), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (kept / "forks.jsonl").exists()


def test_samples_that_do_not_exist_are_refused(kept: Path, capsys):
    for sample in ("7/0", "x"):
        assert main(["inspect", str(kept), sample]) == EXIT_INPUT
        assert main(["rerun", str(kept), sample, "--from", "decide"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "no checkpoints of sample 7-0" in err and "not a sample" in err
    assert "7/0 of" in err and "has no record yet" in " ".join(err.split())


def test_a_changed_graph_file_is_refused(kept: Path, capsys):
    graph = kept.parent / "graph.yaml"
    graph.write_text(graph.read_text().replace("name: ", "description: changed\nname: ", 1))
    graph.write_text(graph.read_text() + "thresholds: {tau: 7.0}\n")
    assert main(["rerun", str(kept), "0/0", "--from", "decide"]) == EXIT_INPUT
    assert "is not the graph file" in " ".join(capsys.readouterr().err.split())


def test_a_pruned_run_says_which_setting_keeps_checkpoints(tmp_path: Path, scripted, capsys):
    out = make_run(tmp_path, prune=True)
    capsys.readouterr()
    for argv in (["inspect", str(out), "0/0"], ["rerun", str(out), "0/0", "--from", "decide"]):
        assert main(argv) == EXIT_INPUT
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert "checkpoints.prune_finished: false" in " ".join(err.split())
    assert not RunDir(out).forks_path.exists()


def readme_commands() -> list[str]:
    """The command lines of the README's time-travel example."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Time travel: inspect and rerun a sample", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's time-travel section has no bash block"
    return match.group(1).strip().splitlines()


def readme_workspace(tmp_path: Path) -> Path:
    """A directory laid out as the repository for the README's commands (a copy of graphs/,
    which the first command writes into)."""
    shutil.copytree(ROOT / "graphs", tmp_path / "graphs")
    for name in ("prompts", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def test_the_readme_commands_on_scripted_members(
    tmp_path: Path, scripted, monkeypatch: pytest.MonkeyPatch, capsys
):
    where = readme_workspace(tmp_path)
    monkeypatch.chdir(where)
    make_graph, *commands = readme_commands()
    subprocess.run(["bash", "-c", make_graph], cwd=where, check=True)
    for line in commands:
        program, *argv = shlex.split(line)
        assert program == ".venv/bin/gra"
        assert main(argv) == 0, capsys.readouterr().err
    (fork,) = fork_records(where / "runs" / "travel")
    assert fork.from_node == "compose_keywords" and fork.parent.thread_id == "0-0"
    assert fork.settings == {"budgets.write_response": 256}
