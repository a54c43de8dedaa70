"""No tracebacks from the command line, ever (issue 14, item 10).

Every failure ends in one explanation and a documented exit code. The cases found: a corrupt
checkpoint database (``sqlite3.DatabaseError`` after the models had loaded), a NUL byte in a
path (``ValueError``), a journal that is a directory (``IsADirectoryError``), one bad
``run.json`` that broke the whole ``gra runs`` listing; and anything not foreseen prints one
line with the path of a log file holding the traceback (exit 70).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gra_graph import cli
from gra_graph.checkpoints import CheckpointDatabaseError, check_database
from gra_graph.cli import EXIT_INPUT, EXIT_UNEXPECTED, main
from tests.support.helpers import ROOT, scripted_graph_text


def gra_fake(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI with scripted members (``tests.support.cli_fake``)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.support.cli_fake", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )


@pytest.fixture()
def finished_run(tmp_path: Path) -> tuple[list[str], Path]:
    """A complete run directory made by the real CLI; the argv that made it."""
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    lines = (ROOT / "examples" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "runs" / "run"
    argv = ["run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet"]
    result = gra_fake(*argv)
    assert result.returncode == 0, result.stderr
    return argv, out


def one_line(text: str) -> str:
    return " ".join(text.split())


# ---- the checkpoint database


def test_check_database_accepts_a_real_one_and_a_missing_one(finished_run, tmp_path: Path):
    _, out = finished_run
    check_database(out / "checkpoints.sqlite")
    check_database(tmp_path / "absent.sqlite")


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        ("garbage", "file is not a database"),
        ("torn-pages", "Page 2"),
        ("foreign-table", "checkpoints table lacks column(s)"),
        ("directory", "not a regular file"),
    ],
)
def test_check_database_refuses_damage_with_advice(tmp_path: Path, damage: str, detail: str):
    path = tmp_path / "checkpoints.sqlite"
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 1000)
    elif damage == "torn-pages":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (x)")
            conn.executemany("INSERT INTO t VALUES (?)", [("y" * 500,)] * 200)
        data = bytearray(path.read_bytes())
        data[4096:12288] = b"\xff" * 8192  # wreck pages 2 and 3, keep the header
        path.write_bytes(bytes(data))
    elif damage == "foreign-table":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE checkpoints (id INTEGER)")
    else:
        path.mkdir()
    with pytest.raises(CheckpointDatabaseError) as info:
        check_database(path)
    message = str(info.value)
    assert detail in message and str(path) in message
    assert "Move it aside" in message and "records already in records.jsonl are kept" in message


def test_a_corrupt_database_is_refused_before_models_load_and_moving_it_aside_works(
    finished_run,
):
    argv, out = finished_run
    records = (out / "records.jsonl").read_text(encoding="utf-8")
    db = out / "checkpoints.sqlite"
    db.write_bytes(b"this is not SQLite" * 500)
    for suffix in ("-wal", "-shm"):
        (out / f"checkpoints.sqlite{suffix}").unlink(missing_ok=True)
    result = gra_fake(*argv)
    assert result.returncode == EXIT_INPUT, result.stderr
    err = one_line(result.stderr)
    assert "is not a usable checkpoint database" in err and "Traceback" not in err
    assert "loading" not in err, "refused before any member loads"
    db.rename(out / "checkpoints.sqlite.broken")
    result = gra_fake(*argv)
    assert result.returncode == 0, result.stderr
    assert (out / "records.jsonl").read_text(encoding="utf-8") == records


# ---- paths and run directories


def test_a_nul_byte_in_a_path_argument_is_an_input_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "graphs/gra\0.yaml"])
    assert info.value.code == EXIT_INPUT
    assert "a path cannot contain a NUL byte" in capsys.readouterr().err


def test_a_nul_byte_in_a_recorded_path_is_an_input_error(finished_run, capsys):
    _, out = finished_run
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    manifest["command"]["graph"] = "graphs/gra\0.yaml"
    (out / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["resume", str(out), "--quiet"]) == EXIT_INPUT
    assert "gra\\x00.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["records.jsonl", "annotations.jsonl", "run.lock"])
def test_a_run_file_that_is_a_directory_is_refused_by_name(finished_run, name: str):
    argv, out = finished_run
    target = out / name
    if target.exists():
        target.unlink()
    target.mkdir()
    result = gra_fake(*argv)
    assert result.returncode == EXIT_INPUT, result.stderr
    err = one_line(result.stderr)
    assert f"{target} is a directory, not a file gra-graph wrote" in err
    assert "loading" not in err and "Traceback" not in err


def test_one_bad_run_json_does_not_hide_the_other_runs(finished_run, monkeypatch, capsys):
    _, out = finished_run
    bad = out.parent / "bad"
    bad.mkdir()
    (bad / "run.json").write_text(json.dumps({"seeds": "many", "graph": "[/]"}), "utf-8")
    markup = out.parent / "markup"
    markup.mkdir()
    (markup / "run.json").write_text(
        json.dumps({"seeds": 1, "graph": "x[/]", "created": "[bold]", "status": "complete"}),
        "utf-8",
    )
    monkeypatch.setenv("COLUMNS", "300")  # the table whole, no cells cut short
    assert main(["runs", str(out.parent)]) == 0
    shown = one_line(capsys.readouterr().out)
    assert "run" in shown and "complete" in shown
    assert "unreadable" in shown and "ValueError" in shown
    assert "x[/]" in shown and "[bold]" in shown
    assert main(["runs", str(out.parent), "--json"]) == 0
    rows = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["bad"]["status"] == "unreadable"
    assert rows["run"]["status"] == "complete" and rows["markup"]["graph"] == "x[/]"


# ---- anything else


def test_an_unexpected_error_prints_one_line_and_a_log(monkeypatch, tmp_path: Path, capsys):
    def boom(args, console):
        raise ZeroDivisionError("boom\nsecond line \x1b[2J")

    monkeypatch.setattr(cli, "_check", boom)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["check", "graphs/gra.yaml"]) == EXIT_UNEXPECTED
    err = capsys.readouterr().err
    assert "Traceback" not in err and "\x1b" not in err
    assert "unexpected ZeroDivisionError: boom" in one_line(err)
    logs = list((tmp_path / "cache" / "gra-graph" / "errors").glob("gra-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err.replace("\n", "")
    log = logs[0].read_text(encoding="utf-8")
    assert "Traceback" in log and "ZeroDivisionError: boom" in log and "check" in log


def test_an_unexpected_error_in_a_run_logs_into_the_run_directory(
    finished_run, monkeypatch, capsys
):
    argv, out = finished_run

    def broken(*args, **kwargs):
        raise OSError("the disk said no")

    monkeypatch.setattr(cli.SeedFile, "scan", broken)
    assert main(argv) == EXIT_UNEXPECTED
    err = one_line(capsys.readouterr().err)
    assert "unexpected OSError: the disk said no" in err
    (log,) = out.glob("gra-error-*.log")
    assert "OSError: the disk said no" in log.read_text(encoding="utf-8")
