"""Nothing from input reaches the terminal raw (issue 14, item 4).

ESC and OSC sequences in a graph name, a member name or a seed key used to be printed as they
were, and ``[/]`` in them crashed Rich. Each probe runs the real command line in a child
process (stdout and stderr are pipes, so Rich adds no colour codes of its own) and checks that
no ESC byte comes out at all, and that the text is shown in its visible escaped form.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from gra_graph.cli import EXIT_INPUT
from gra_graph.progress import RichProgress, summary_table
from gra_graph.runner import RunSummary
from gra_graph.terminal import safe
from tests.support.helpers import ROOT, scripted_graph_text

WIDE = {**os.environ, "COLUMNS": "400"}  # no wrapping or cut cells: the text is seen whole
HOSTILE = "x[/]\x1b]0;pwned\x07\x1b[2J\x9b31m[bold]"
VISIBLE = "x[/]\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m[bold]"


def gra_fake(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The real CLI with scripted members (``tests.support.cli_fake``), output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "tests.support.cli_fake", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env=WIDE,
    )


def gra(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env=WIDE,
    )


def no_raw_escapes(result: subprocess.CompletedProcess[bytes]) -> str:
    out = result.stdout + result.stderr
    assert b"\x1b" not in out and b"\x07" not in out and "\x9b".encode() not in out
    assert b"Traceback" not in out
    return " ".join(out.decode("utf-8").split())


def good_seed() -> dict[str, object]:
    return json.loads((ROOT / "examples" / "seeds.jsonl").read_text().splitlines()[0])


def test_safe_escapes_controls_and_markup():
    assert safe("\x1b]8;;file:///etc\x07link") == "\\x1b]8;;file:///etc\\x07link"
    assert safe("a\rb\tc\x7f\x85") == "a\\x0db\\x09c\\x7f\\x85"
    assert safe("\u202eevil") == "\\u202eevil"
    assert safe("[red]x[/red]") == "\\[red]x\\[/red]"
    assert safe("one\ntwo") == "one\\x0atwo"
    assert safe("one\ntwo\x1b", multiline=True) == "one\ntwo\\x1b"
    console = Console(file=io.StringIO(), width=200)
    console.print(f"[red]{safe('x[/]y[/red]')}[/]")
    assert console.file.getvalue().strip() == "x[/]y[/red]"


def test_hostile_graph_name_in_run_and_runs(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(name=HOSTILE), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps(good_seed()) + "\n", encoding="utf-8")
    out = tmp_path / "runs" / "r1"
    result = gra_fake("run", str(graph), "--seeds", str(seeds), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"graph '{VISIBLE}'" in no_raw_escapes(result)
    listing = gra("runs", str(tmp_path / "runs"))
    assert listing.returncode == 0
    text = no_raw_escapes(listing)
    assert "\\x1b]0;pwned" in text and "complete" in text


def test_hostile_seed_key_and_value(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({**good_seed(), HOSTILE: 1}) + "\n", encoding="utf-8")
    result = gra("check", str(graph), "--seeds", str(seeds))
    assert result.returncode == EXIT_INPUT
    assert VISIBLE in no_raw_escapes(result)
    # a key that appears twice names the key in its message
    seeds.write_text(
        '{"instruction": "a", "response": "b", "\\u001b]0;t\\u0007[/]": 1, '
        '"\\u001b]0;t\\u0007[/]": 2}\n',
        encoding="utf-8",
    )
    result = gra("check", str(graph), "--seeds", str(seeds))
    assert result.returncode == EXIT_INPUT
    assert "key '\\x1b]0;t\\x07[/]' appears twice" in no_raw_escapes(result)


def test_hostile_member_name_and_paths(tmp_path: Path):
    graph = tmp_path / "g.yaml"
    text = scripted_graph_text().replace("name: gen,", 'name: "g\\e]0;t\\a[/]",', 1)
    graph.write_text(text, encoding="utf-8")
    result = gra("check", str(graph))
    assert result.returncode == EXIT_INPUT
    assert "members.0.name" in no_raw_escapes(result)
    # a path holding an escape sequence, echoed back in the error
    weird = tmp_path / "\x1b]0;t\x07[/].yaml"
    result = gra("check", str(weird))
    assert result.returncode == EXIT_INPUT
    assert "\\x1b]0;t\\x07[/].yaml: not found" in no_raw_escapes(result)


def test_progress_and_summary_escape_what_they_show():
    stream = io.StringIO()
    console = Console(file=stream, width=300)
    RichProgress(console).on_error((0, 0), RuntimeError(HOSTILE))
    summary = RunSummary(
        rejection_reasons={"[/]\x1b[2J reviewer": 2}, faults={"m\x1b]0;x\x07": {"timeout": 1}}
    )
    console.print(summary_table(summary))
    shown = stream.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown
    assert VISIBLE in shown
    assert "rejected: [/]\\x1b[2J reviewer" in shown
    assert "m\\x1b]0;x\\x07" in shown
