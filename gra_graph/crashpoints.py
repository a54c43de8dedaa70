"""Test-only crash points: kill the process at a named moment to prove a run survives it.

Inert unless the environment variable ``GRA_CRASH_AT`` is set to ``<point>:<n>``; then the
``n``-th time the code passes ``crash_point("<point>")`` the process sends itself SIGKILL (no
clean-up, no ``finally`` blocks, exactly like a power cut for everything not yet on disk).
Used by ``evals/crash_harness.py`` and the crash tests. Points:

=============================  ===========================================================
``before-checkpoint-commit``   a checkpoint row is written but its SQLite transaction is not
                               committed
``after-checkpoint-commit``    a checkpoint transaction has just committed
``mid-records-append``         half of a record line is on disk (a torn line), then the kill
``after-records-append``       a record is fsynced, its thread's checkpoints not yet pruned
``mid-annotations-append``     half of an annotation line is on disk
``mid-iterations-append``      half of an ``iterations.jsonl`` line (an iteration's commit)
``after-iterations-append``    an iteration is committed, the next one not yet started
``before-accepted-rename``     ``accepted.jsonl``'s temporary file is complete, not renamed
``before-dedup-rename``        the same for ``dedup.jsonl``
``before-status-write``        the run is finished, ``run.json`` does not say so yet
``mid-answers-append``         half of a person's answer line is on disk (``gra review``)
``after-answer-append``        an answer is fsynced, its thread not yet resumed
``after-human-resume``         a thread resumed with its answer has run to its end (the
                               answer consumed, checkpointed), its record not yet written
=============================  ===========================================================

The last three are passed only by runs with ``adjudication: human`` or ``model_then_human``
(:data:`HUMAN_POINTS`).
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable

ENV_VAR = "GRA_CRASH_AT"

POINTS: tuple[str, ...] = (
    "before-checkpoint-commit",
    "after-checkpoint-commit",
    "mid-records-append",
    "after-records-append",
    "mid-annotations-append",
    "mid-iterations-append",
    "after-iterations-append",
    "before-accepted-rename",
    "before-dedup-rename",
    "before-status-write",
    "mid-answers-append",
    "after-answer-append",
    "after-human-resume",
)

HUMAN_POINTS: tuple[str, ...] = POINTS[-3:]
"""The points only a run that waits for a person passes (answer -> resume -> record)."""

_hits: Counter[str] = Counter()


def armed(point: str) -> bool:
    """Whether ``GRA_CRASH_AT`` names ``point`` at all (cheap; for wiring optional hooks)."""
    spec = os.environ.get(ENV_VAR)
    return bool(spec) and spec.rpartition(":")[0] == point


def crash_point(point: str, before: Callable[[], None] | None = None) -> None:
    """SIGKILL this process if this is the ``n``-th pass of ``point`` named by ``GRA_CRASH_AT``.

    ``before`` runs just before the kill (for example to leave a half-written line behind).
    """
    if not armed(point):
        return
    _hits[point] += 1
    if _hits[point] == int(os.environ[ENV_VAR].rpartition(":")[2]):
        if before is not None:
            before()
        os.kill(os.getpid(), signal.SIGKILL)
