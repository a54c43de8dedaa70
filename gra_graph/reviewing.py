"""``gra review RUN_DIR``: a person answers, in the terminal, the conflicts waiting for them.

For each waiting sample (:func:`gra_graph.human.waiting`) it shows the instruction, the
response, the committee's mean and spread, each reviewer's scores and feedback (and the
Adjudicator's verdict under ``model_then_human``), then reads one answer per line from the
input stream:

- ``k`` / ``keep``: keep the response as it is;
- ``d`` / ``drop``: drop the sample;
- ``e`` / ``edit``: write a new response and keep it: in ``$VISUAL`` / ``$EDITOR`` when the
  input is a terminal, else inline, ending with a line holding only ``.``;
- ``s`` / ``skip``: leave it waiting; ``q`` / ``quit`` (or end of input): stop.

Every answer is recorded (:func:`gra_graph.human.record_answer`: fsynced) before the next
sample is shown, so stopping half-way loses nothing. Reading lines from any stream makes the
session scriptable: ``printf 'k\\nd\\n' | gra review RUN_DIR``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from gra_graph.human import AnswerError, WaitingSample, record_answer, waiting
from gra_graph.state import HumanChoice
from gra_graph.terminal import safe

CHOICES: dict[str, HumanChoice | str] = {
    "k": "keep",
    "keep": "keep",
    "d": "drop",
    "drop": "drop",
    "e": "edit",
    "edit": "edit",
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}
END_OF_EDIT = "."


def waiting_table(items: list[WaitingSample]) -> Table:
    """The samples waiting for a person: seed, sample, domain, mu, sigma, answered."""
    table = Table(title=f"{len(items)} sample(s) waiting for a person")
    for column in ("seed", "sample", "domain", "mu", "sigma", "answered"):
        table.add_column(column, justify="right" if column in ("seed", "sample") else "left")
    for w in items:
        table.add_row(
            str(w.seed_index),
            str(w.sample_index),
            safe(w.domain),
            "-" if w.mu is None else f"{w.mu:.2f}",
            "-" if w.sigma is None else f"{w.sigma:.2f}",
            "yes (applied at resume)" if w.answered else "no",
        )
    return table


def show(console: Console, item: WaitingSample) -> None:
    """Print one waiting sample: the task, the response, and what the committee said."""
    p = console.print
    p(
        f"\n[bold]sample {item.thread_id}[/] ({safe(item.domain)}): committee mu {item.mu}, "
        f"sigma {item.sigma}",
        highlight=False,
    )
    p("[bold]instruction:[/]\n" + safe(item.instruction, multiline=True), highlight=False)
    p("[bold]response:[/]\n" + safe(item.response, multiline=True), highlight=False)
    for r in item.reviews:
        if r.get("abstained"):
            p(f"- {safe(r.get('reviewer'))}: abstained", highlight=False)
            continue
        scores = ", ".join(f"{safe(k)} {v}" for k, v in (r.get("scores") or {}).items())
        p(
            f"- {safe(r.get('reviewer'))}: {scores}\n  strengths: {safe(r.get('strengths'))}"
            f"\n  weaknesses: {safe(r.get('weaknesses'))}",
            highlight=False,
        )
    if item.adjudication:
        a = item.adjudication
        verdict = "abstained" if a.get("abstained") else f"composite {a.get('composite')}"
        p(
            f"- adjudicator {safe(a.get('adjudicator'))}: {safe(verdict)}; "
            f"{safe(a.get('rationale') or a.get('error') or '')}",
            highlight=False,
        )


def _read_edit(stream: TextIO, console: Console, original: str) -> str | None:
    """The new response: from ``$VISUAL``/``$EDITOR`` on a terminal, else inline up to a line
    holding only ``.``; ``None`` at the end of input."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor and stream.isatty():
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "response.txt"
            path.write_text(original, encoding="utf-8")
            subprocess.run([*shlex.split(editor), str(path)], check=False)
            return path.read_text(encoding="utf-8").rstrip("\n")
    console.print(f"type the new response, then a line holding only '{END_OF_EDIT}':")
    lines: list[str] = []
    while (line := stream.readline()) != "":
        if line.rstrip("\r\n") == END_OF_EDIT:
            return "\n".join(lines)
        lines.append(line.rstrip("\r\n"))
    return None


def review_session(
    run_dir: str | Path, console: Console, stream: TextIO, *, who: str = "human"
) -> int:
    """Ask about every unanswered waiting sample of ``run_dir``; returns how many answers
    were recorded. Answers come one per line from ``stream``."""
    items = waiting(run_dir)
    if not items:
        console.print(f"no sample in {safe(run_dir)} waits for a person", highlight=False)
        return 0
    console.print(waiting_table(items))
    recorded = 0
    for item in (w for w in items if not w.answered):
        show(console, item)
        while True:
            console.print("keep, drop, edit, skip or quit? [k/d/e/s/q] ", end="")
            line = stream.readline()
            if line == "":
                return recorded  # end of input: stop, what was answered is on disk
            choice = CHOICES.get(line.strip().lower())
            if choice is None:
                console.print(f"not an answer: {safe(line.strip())!s}; type k, d, e, s or q")
                continue
            if choice == "quit":
                return recorded
            if choice == "skip":
                break
            edited = None
            if choice == "edit":
                edited = _read_edit(stream, console, item.response)
                if edited is None:
                    return recorded
            try:
                record_answer(run_dir, item.thread_id, choice, edited, who=who)  # type: ignore[arg-type]
            except AnswerError as exc:
                console.print(f"[red]refused:[/] {safe(exc)}", highlight=False)
                continue
            console.print(f"recorded: {choice} sample {item.thread_id}")
            recorded += 1
            break
    return recorded
