"""``gra export``'s work: a run's records selected, turned into rows of one format, and
written with a dataset card (pushing to the Hub is :func:`gra_graph.exports.writers.push_to_hub`,
called only when asked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gra_graph.exports.card import CardFacts, dataset_card, read_eval_report
from gra_graph.exports.pairs import PairCounts, SeedPairs, preference_pairs
from gra_graph.exports.rows import CHAT_FORMATS, TABLE_FORMATS, chat_row, clean_text, flat_row
from gra_graph.exports.source import RunRecords, read_run, run_graph
from gra_graph.exports.writers import WRITERS, ExportError, staged, write_hf
from gra_graph.rundirs import RECORDS_FILE

FORMATS = (*TABLE_FORMATS, *CHAT_FORMATS, "dpo")
"""Every ``--format``; all but ``parquet`` and ``hf`` write JSON Lines."""
CARD_FILE = "README.md"
DATA_STEM = "train"
FILE_SUFFIXES = {".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass
class ExportResult:
    """What an export wrote, for the command to print."""

    out: Path
    rows: int
    card: Path | None
    pairs: PairCounts | None = None
    notes: list[str] = field(default_factory=list)


def _rows(
    run: RunRecords, fmt: str, status: str, seed_pairs: SeedPairs, min_margin: float | None
) -> tuple[list, Any, list]:
    """The rows of ``fmt``, the pair counts (``dpo``), and notes on records left out."""
    notes = []
    if run.unreadable or run.duplicates:
        notes.append(
            f"left out {run.unreadable} line(s) of {RECORDS_FILE} that are not valid records "
            f"and {run.duplicates} repeated line(s) of one seed-sample"
        )
    if fmt == "dpo":
        pairs, counts = preference_pairs(run.records, seed_pairs, min_margin)
        return pairs, counts, notes
    selected = run.select(status)
    if fmt in TABLE_FORMATS:
        rows = [clean_text(flat_row(r, r.key in run.near_duplicates)) for r in selected]
        return rows, None, notes
    rows = [chat_row(r, fmt, r.key in run.near_duplicates) for r in selected]
    if missing := sum(row is None for row in rows):
        notes.append(f"left out {missing} record(s) without an instruction or a response")
    return [row for row in rows if row is not None], None, notes


def _nothing_to_export(run: RunRecords, fmt: str, status: str, pairs: PairCounts | None) -> str:
    if pairs is not None:
        return "\n".join([f"{pairs.summary()}: nothing written", *(f"  {w}" for w in pairs.notes)])
    total = len(run.records)
    hint = "" if status == "all" else "; --status all exports every record"
    return f"--status {status} selects no {fmt} row of the {total} record(s){hint}"


def _destination(run_path: Path, fmt: str, out: Path | None) -> tuple[Path, bool]:
    """Where to write, and whether it is a directory (with a card) rather than one file."""
    if out is None:
        return run_path.parent / f"{run_path.name}-{fmt}", True
    container = "parquet" if fmt == "parquet" else "jsonl"
    suffix_format = FILE_SUFFIXES.get(out.suffix.lower())
    if fmt == "hf" or suffix_format is None:
        return out, True
    if suffix_format != container:
        raise ExportError(f"--out {out}: --format {fmt} writes {container}, not {out.suffix}")
    return out, False


def _write(
    stage: Path,
    rows: list[dict[str, Any]],
    directory: bool,
    run: RunRecords,
    facts: CardFacts,
    eval_entry: dict[str, Any] | None,
) -> None:
    """Write the rows into ``stage``: the file itself, or the data and the card into the
    directory (``facts.data_files`` is filled in here)."""
    write, suffix = WRITERS["parquet" if facts.format == "parquet" else "jsonl"]
    if not directory:
        write(stage, rows)
        return
    if facts.format == "hf":
        write_hf(stage, rows)
    else:
        facts.data_files = [f"{DATA_STEM}{suffix}"]
        write(stage / facts.data_files[0], rows)
    config, config_note = run_graph(run.manifest)
    card = dataset_card(run, facts, config, config_note, eval_entry)
    (stage / CARD_FILE).write_text(card, encoding="utf-8")


def export_run(
    run_path: str | Path,
    fmt: str,
    out: Path | None = None,
    status: str = "accepted",
    *,
    overwrite: bool = False,
    eval_report: Path | None = None,
    seed_pairs: SeedPairs = "same",
    min_margin: float | None = 0.0,
) -> ExportResult:
    """Export the run in ``run_path`` as ``fmt`` (one of :data:`FORMATS`).

    ``out`` is a directory (the default: ``RUN_DIR-FORMAT`` beside the run) that gets the data
    (``train.jsonl``, ``train.parquet``, or the ``save_to_disk`` files of ``hf``) and the card
    ``README.md``; or, for the file formats, a ``.jsonl``/``.parquet`` file, written alone.

    Raises:
        ExportError: nothing to export (the reason is said), a destination that exists
            (without ``overwrite``) or cannot be written, a bad ``--eval`` report.
        gra_graph.rundirs.RunInfoError: ``run_path`` is not a run directory.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    run_path = Path(run_path)
    run = read_run(run_path)
    rows, pairs, notes = _rows(run, fmt, status, seed_pairs, min_margin)
    if not rows:
        raise ExportError(_nothing_to_export(run, fmt, status, pairs))
    destination, directory = _destination(run_path, fmt, out)
    eval_entry = read_eval_report(eval_report, run) if eval_report else None
    if eval_report and not directory:
        notes.append("--eval is for the card, which only a directory --out gets")
    facts = CardFacts(
        format=fmt,
        status="all" if fmt == "dpo" else status,
        rows=len(rows),
        data_files=[],
        columns=list(dict.fromkeys(k for row in rows for k in row)),
        pairs=pairs,
    )
    try:
        with staged(destination, overwrite, directory) as stage:
            _write(stage, rows, directory, run, facts, eval_entry)
    except OSError as exc:  # a full disk, a read-only folder: the staged copy is gone
        raise ExportError(f"cannot write {destination}: {exc.strerror or exc}") from None
    return ExportResult(
        out=destination,
        rows=len(rows),
        card=destination / CARD_FILE if directory else None,
        pairs=pairs,
        notes=notes,
    )
