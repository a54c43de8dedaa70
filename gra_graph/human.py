"""Conflicts waiting for a person, and their answers (``adjudication: human`` or
``model_then_human``; docs/method.md, section 9h).

A thread that reaches ``human_adjudicate`` stops at LangGraph's ``interrupt()``; the run goes
on with the other seed-samples and ends ``paused``. This module is the one way to see what
waits and to answer it, for every front end: ``gra review`` (the terminal), a web viewer, or a
script.

- :func:`waiting` lists the samples waiting (read from the checkpoint database; works while a
  run is live).
- :func:`record_answer` writes one answer, durably (append + fsync to the run's answers
  journal, under the journal's lock) and returns only once it is on disk.
- The next resume of the run (``gra resume RUN_DIR``, ``gra review``, or the same ``Runner``
  call) resumes each answered thread with ``Command(resume=answer)`` (:func:`answer_command`).

Exactly once: an answer is on disk before its thread resumes, and it is applied only to a
thread still waiting at the interrupt. A kill before the answer's fsync loses an answer that
was never acknowledged; a kill after it and before the resumed step's checkpoint resumes with
the same answer next time; a kill after that finds the thread past the interrupt and the answer
is not applied again. Only the first answer per sample counts; later ones are refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import ValidationError

from gra_graph import checkpoints
from gra_graph.crashpoints import crash_point
from gra_graph.graph import build_graph
from gra_graph.nodes.human_adjudicate import read_answer
from gra_graph.rundirs import RunDir, RunInfoError
from gra_graph.state import HumanAnswer, HumanChoice, HumanQuestion

__all__ = [
    "AnswerError",
    "HumanAnswer",
    "RunInfoError",
    "WaitingSample",
    "answer_command",
    "answers",
    "record_answer",
    "thread_key",
    "waiting",
]

SampleKey = tuple[int, int] | str
"""A seed-sample: ``(seed_index, sample_index)`` or its thread id ``"seed-sample"``."""


class AnswerError(ValueError):
    """An answer that cannot be recorded (bad decision, no such waiting sample, answered
    already); nothing was written."""


class WaitingSample(HumanQuestion):
    """A sample waiting for a person: what it shows, its thread id, and whether an answer is
    already recorded (it is then applied at the run's next resume)."""

    thread_id: str
    answered: bool = False


def thread_key(key: SampleKey) -> str:
    """The thread id of ``key``; :class:`AnswerError` for a key that is not one."""
    if isinstance(key, str):
        seed, _, sample = key.partition("-")
        if seed.isdigit() and sample.isdigit():
            return checkpoints.thread_id((int(seed), int(sample)))
        raise AnswerError(f"{key!r} is not a sample key; write it SEED-SAMPLE, e.g. 3-0")
    if len(key) == 2 and all(isinstance(k, int) and k >= 0 for k in key):
        return checkpoints.thread_id(key)
    raise AnswerError(f"{key!r} is not a sample key (seed_index, sample_index)")


def _run_dir(run_dir: str | Path | RunDir) -> RunDir:
    return run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)


def answers(run_dir: str | Path | RunDir) -> dict[str, HumanAnswer]:
    """The recorded answers by thread id: the first valid one per sample (a torn or invalid
    line, or a later answer to the same sample, does not count)."""
    found: dict[str, HumanAnswer] = {}
    rd = _run_dir(run_dir)
    for row in rd.journal_rows(rd.answers_path):
        thread = row.get("thread_id")
        if not isinstance(thread, str) or thread in found:
            continue
        fields = {k: row[k] for k in ("decision", "edited_response", "who", "note") if k in row}
        try:
            found[thread] = HumanAnswer.model_validate(fields)
        except ValidationError:
            continue
    return found


@contextmanager
def _saver(path: Path) -> Iterator[SqliteSaver]:
    """A synchronous saver on the run's checkpoint database (shared with a live run: WAL)."""
    conn = sqlite3.connect(str(path), timeout=checkpoints.BUSY_TIMEOUT_SECONDS)
    with closing(conn):
        yield SqliteSaver(conn)


def waiting(run_dir: str | Path) -> list[WaitingSample]:
    """The samples of ``run_dir`` waiting for a person, in (seed, sample) order.

    Each has the instruction, the response, the committee's mean and spread, this round's
    reviews (scores and feedback), the Adjudicator's verdict under ``model_then_human``, and
    ``answered`` once an answer is recorded but not yet applied. Read-only as far as the run
    is concerned; works while the run is live.

    Raises:
        RunInfoError: ``run_dir`` is not a run directory.
    """
    rd = RunDir(run_dir)
    rd.manifest()  # RunInfoError when there is no run here
    if not rd.checkpoints_path.is_file():
        return []
    recorded = {
        checkpoints.thread_id((row.get("seed_index"), row.get("sample_index")))  # type: ignore[arg-type]
        for row in rd.journal_rows(rd.records_path)
    }
    given = answers(run_dir)
    out: list[WaitingSample] = []
    with _saver(rd.checkpoints_path) as saver:
        graph = build_graph(checkpointer=saver)
        try:
            threads = [
                r[0] for r in saver.conn.execute("SELECT DISTINCT thread_id FROM checkpoints")
            ]
        except sqlite3.OperationalError:  # no table yet: nothing was checkpointed
            return []
        for thread in threads:
            if thread in recorded:
                continue
            snapshot = graph.get_state({"configurable": {"thread_id": thread}})
            for pending in snapshot.interrupts:
                value = pending.value
                if isinstance(value, dict) and value.get("kind") == "human_adjudication":
                    item = WaitingSample(**value, thread_id=thread, answered=thread in given)
                    out.append(item)
                    break
    return sorted(out, key=lambda w: (w.seed_index, w.sample_index))


def record_answer(
    run_dir: str | Path,
    key: SampleKey,
    decision: HumanChoice,
    edited_response: str | None = None,
    *,
    who: str = "human",
    note: str = "",
) -> HumanAnswer:
    """Record a person's answer to a waiting sample; returns once it is fsynced.

    ``decision`` is ``keep``, ``drop`` or ``edit`` (``edit`` needs ``edited_response``, the
    response to keep instead). The answer is applied when the run next resumes (``gra resume
    RUN_DIR``; ``gra review`` resumes by itself). For a web viewer: call this from the request
    handler, then show :func:`waiting` again (the sample is listed with ``answered=True``
    until the run resumes).

    Raises:
        AnswerError: a bad decision or key, a sample not waiting, or one answered already.
        RunInfoError: ``run_dir`` is not a run directory.
    """
    thread = thread_key(key)
    try:
        answer = read_answer(
            {"decision": decision, "edited_response": edited_response, "who": who, "note": note}
        )
    except ValueError as exc:
        raise AnswerError(f"sample {thread}: {exc}") from None
    waits = {w.thread_id: w for w in waiting(run_dir)}
    if thread not in waits:
        raise AnswerError(
            f"sample {thread} is not waiting for a person in {run_dir} (waiting: "
            f"{', '.join(waits) or 'none'})"
        )
    if waits[thread].answered:
        raise AnswerError(
            f"sample {thread} is answered already; the answer is applied when the run resumes"
        )
    seed_index, _, sample_index = thread.partition("-")
    row: dict[str, Any] = {
        "thread_id": thread,
        "seed_index": int(seed_index),
        "sample_index": int(sample_index),
        **answer.model_dump(),
        "answered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    def not_answered_meanwhile() -> None:  # under the journal's lock: two people, one answer
        if thread in answers(run_dir):
            raise AnswerError(f"sample {thread} was answered meanwhile; that answer counts")

    RunDir(run_dir).append_answer(row, not_answered_meanwhile)
    crash_point("after-answer-append")
    return answer


def answer_command(run_dir: str | Path | RunDir, thread_id: str) -> Command | None:
    """The ``Command`` that resumes a waiting thread with its recorded answer, or ``None``
    while it has none (the runner then leaves the thread paused)."""
    answer = answers(run_dir).get(thread_id)
    return None if answer is None else Command(resume=answer.model_dump())
