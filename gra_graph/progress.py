"""The live progress bar and the end-of-run summary table of ``gra run``.

The bar is a :class:`~gra_graph.events.RunObserver`: the runner hands it every event of the
run, the same objects ``Runner.events()`` yields, and its hooks count records and tokens.

Everything shown here that comes from input or from a model (error messages, rejection reasons,
member names) goes through :func:`gra_graph.terminal.safe` first.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gra_graph.events import RunObserver
from gra_graph.runner import RunSummary
from gra_graph.state import Record
from gra_graph.terminal import safe


class ConsoleNotes(RunObserver):
    """What a run says even with ``--quiet``: that models load, and warnings (a repaired
    journal), printed on the console with their input-derived text escaped."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_loading(self, graph: str, members: int) -> None:
        text = f"loading {members} members of graph '{safe(graph)}'..."
        self.console.print(text, highlight=False)

    def on_warning(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {safe(message)}", highlight=False)


class RichProgress(ConsoleNotes):
    """A rich progress bar with accepted / rejected / adjudicated / revised counts and tok/s;
    with several iterations, one bar per iteration, each with its own counts."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.counts = {"accepted": 0, "rejected": 0, "adjudicated": 0, "revised": 0}
        self.tokens = 0
        self.started = time.perf_counter()
        self.iteration = ""
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("seed-samples", total=None, counts="", speed="")

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self.progress.stop()

    def _refresh(self) -> None:
        c = self.counts
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(
            self.task,
            counts=f"[green]acc {c['accepted']}[/] [red]rej {c['rejected']}[/] "
            f"adj {c['adjudicated']} rev {c['revised']}",
            speed=f"{self.tokens / elapsed:.1f} tok/s",
        )

    def on_iteration(self, iteration: int, iterations: int) -> None:
        if iterations == 1:
            return  # one bar, as without iterations
        self.iteration = f"iteration {iteration}: "
        label = f"iteration {iteration}/{iterations}"
        if iteration == 1:
            self.progress.update(self.task, description=label)
            return
        self._refresh()  # the finished iteration's bar stays as it ended
        self.counts = dict.fromkeys(self.counts, 0)
        self.task = self.progress.add_task(label, total=None, counts="", speed="")

    def on_start(self, total: int, already_done: int) -> None:
        self.progress.update(self.task, total=total)
        if already_done:
            self.console.print(
                f"{self.iteration}resuming: {already_done} of {total} seed-samples already done"
            )
        self._refresh()

    def on_tokens(self, completion_tokens: int) -> None:
        self.tokens += completion_tokens
        self._refresh()

    def on_record(self, record: Record, resumed: bool) -> None:
        self.counts[record.status] += 1
        self.counts["adjudicated"] += record.adjudication is not None
        self.counts["revised"] += bool(record.revisions)
        self.progress.advance(self.task)
        self._refresh()

    def on_error(self, key: tuple[int, int], error: BaseException) -> None:
        self.console.print(
            f"[red]seed {key[0]} sample {key[1]} failed: {safe(type(error).__name__)}: "
            f"{safe(error)}[/] (its checkpoint is kept; run the same command again to retry it)",
            highlight=False,
        )


def summary_table(summary: RunSummary) -> Table:
    """The end-of-run table."""
    table = Table(title="gra run summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("seed-samples", summary.seed_samples),
        ("  from an earlier run", summary.resumed_records),
        ("accepted by review", summary.accepted),
        ("  kept after near-duplicate filter", summary.kept_after_dedup),
        ("  near-duplicates dropped", summary.near_duplicates),
        ("rejected", summary.rejected),
        ("adjudicated", summary.adjudicated),
        ("revised", summary.revised),
        ("reviewer abstentions", summary.abstentions),
        ("errors (retry by running again)", summary.errors),
        ("generated tokens", summary.completion_tokens),
        ("prompt tokens", summary.prompt_tokens),
        ("wall seconds", f"{summary.wall_seconds:.1f}"),
        ("generated tokens / s", f"{summary.generated_tokens_per_second:.1f}"),
        ("checkpoint database", f"{summary.checkpoint_db_bytes / 1e6:.2f} MB"),
        (
            "seconds / seed-sample",
            "-"
            if summary.seconds_per_seed_sample is None
            else f"{summary.seconds_per_seed_sample}",
        ),
    ]
    for kind, count in summary.rejection_reasons.items():
        rows.append((f"  rejected: {safe(kind)}", count))
    if summary.iterations_planned > 1:
        ran = f"{len(summary.iterations)} of {summary.iterations_planned}"
        rows.append(("iterations run", ran))
        rows.append(("  per iteration: samples/acc/rej/kept", ""))
        for it in summary.iterations:
            kept = "-" if it.kept_after_dedup is None else it.kept_after_dedup
            counts = f"{it.seed_samples} / {it.accepted} / {it.rejected} / {kept}"
            rows.append((f"  iteration {it.iteration}", counts))
    if summary.stopped_early:
        rows.append(("stopped early", summary.stopped_early))
    rows.append(("failed call attempts", sum(sum(k.values()) for k in summary.faults.values())))
    for member, kinds in summary.faults.items():
        rows.append(
            (f"  {safe(member)}", safe(", ".join(f"{kind} {n}" for kind, n in kinds.items())))
        )
    for what, value in rows:
        table.add_row(what, str(value))  # every input-derived cell was made safe above
    return table
