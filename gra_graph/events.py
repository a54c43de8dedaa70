"""Typed events of a run, and the observer that progress displays build on.

A :class:`~gra_graph.runner.Runner` emits one event for everything that happens in a run, in
the order it happens: the models loading, an iteration starting, a seed-sample starting, each
graph node entered and left, each instruction check, each reviewer's scores, each committee
verdict, an adjudication, a revision, generated tokens, a record written, and the run
finishing. ``Runner.events()`` yields them to Python code; a :class:`RunObserver` (the CLI's
progress bar) receives the very same objects through :meth:`RunObserver.on_event`.

Node entered/left come from LangGraph's ``tasks`` stream mode; checks, scores, verdicts,
adjudications, revisions and tokens are read from the ``updates`` stream mode (the state update
each node returned), by :func:`events_from_update`.

Every event is a frozen dataclass; ``key`` is the seed-sample ``(seed_index, sample_index)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gra_graph.export import RunSummary
from gra_graph.state import Record

Key = tuple[int, int]
"""A seed-sample: ``(seed_index, sample_index)``."""


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Base class of every event."""


@dataclass(frozen=True, slots=True)
class Loading(RunEvent):
    """Every input checked out; the members' models load now (seconds to minutes)."""

    graph: str
    members: int


@dataclass(frozen=True, slots=True)
class IterationStarted(RunEvent):
    """Iteration ``iteration`` of ``iterations`` starts (a :class:`SamplesPlanned` follows)."""

    iteration: int
    iterations: int


@dataclass(frozen=True, slots=True)
class SamplesPlanned(RunEvent):
    """The iteration's seed-samples are known: ``total``, of which ``already_done`` have a
    record from an earlier, interrupted run."""

    total: int
    already_done: int


@dataclass(frozen=True, slots=True)
class SampleStarted(RunEvent):
    """A seed-sample's thread starts (``resumed``: it continues from a checkpoint)."""

    key: Key
    thread_id: str
    iteration: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class NodeEntered(RunEvent):
    """A graph node starts a task for a seed-sample (a fan-out starts one task per reviewer)."""

    key: Key
    node: str
    task_id: str


@dataclass(frozen=True, slots=True)
class NodeLeft(RunEvent):
    """A node's task ended; ``error`` is set when it raised."""

    key: Key
    node: str
    task_id: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult(RunEvent):
    """One reviewer's instruction check: pass/fail per criterion (empty when it abstained)."""

    key: Key
    reviewer: str
    criteria: dict[str, bool]
    abstained: bool

    @property
    def passed(self) -> bool | None:
        """Whether every criterion passed (``None`` for an abstention)."""
        return None if self.abstained else all(self.criteria.values())


@dataclass(frozen=True, slots=True)
class ReviewScores(RunEvent):
    """One reviewer's scores of the response in one round (empty when it abstained)."""

    key: Key
    reviewer: str
    round: int
    scores: dict[str, float]
    abstained: bool


@dataclass(frozen=True, slots=True)
class Verdict(RunEvent):
    """The committee's decision for one round: accept, reject, conflict or undecided."""

    key: Key
    round: int
    outcome: str
    mu: float | None
    sigma: float | None


@dataclass(frozen=True, slots=True)
class Adjudicated(RunEvent):
    """The Adjudicator's re-score of a conflict, and whether it keeps the sample."""

    key: Key
    adjudicator: str
    composite: float | None
    keep: bool
    abstained: bool


@dataclass(frozen=True, slots=True)
class Revised(RunEvent):
    """The Generator revised its response after a rejection (round ``round`` starts)."""

    key: Key
    round: int
    reviser: str
    diff: str


@dataclass(frozen=True, slots=True)
class Decided(RunEvent):
    """The seed-sample's final status and reason (its record follows)."""

    key: Key
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Tokens(RunEvent):
    """Tokens a node generated (``key`` and ``node`` are ``None`` for seed annotation)."""

    completion_tokens: int
    key: Key | None = None
    node: str | None = None


@dataclass(frozen=True, slots=True)
class RecordWritten(RunEvent):
    """A seed-sample's record is in ``records.jsonl`` (``resumed``: an earlier run wrote it)."""

    record: Record
    resumed: bool


@dataclass(frozen=True, slots=True)
class SampleFailed(RunEvent):
    """A seed-sample's thread raised; it has no record and resumes when the run is resumed."""

    key: Key
    error: BaseException


@dataclass(frozen=True, slots=True)
class SamplePaused(RunEvent):
    """A seed-sample stopped at an interrupt; it waits to be resumed."""

    key: Key


@dataclass(frozen=True, slots=True)
class RunWarning(RunEvent):
    """Something the user should know that did not stop the run (a repaired journal)."""

    message: str


@dataclass(frozen=True, slots=True)
class RunFinished(RunEvent):
    """The run wrote its summary and status; nothing follows."""

    status: str
    summary: RunSummary


def events_from_update(key: Key, node: str, update: Mapping[str, Any]) -> Iterator[RunEvent]:
    """The domain events in one node's state update (LangGraph ``updates`` stream mode)."""
    tokens = sum(c.get("completion_tokens", 0) for c in update.get("calls", []))
    for check in update.get("checks", []):
        yield CheckResult(
            key, check["reviewer"], dict(check.get("criteria", {})), check.get("abstained", False)
        )
    for review in update.get("reviews", []):
        yield ReviewScores(
            key,
            review["reviewer"],
            review.get("round", 0),
            dict(review.get("scores", {})),
            review.get("abstained", False),
        )
    for verdict in update.get("verdicts", []):
        yield Verdict(key, verdict["round"], verdict["outcome"], verdict["mu"], verdict["sigma"])
    if adjudication := update.get("adjudication"):
        yield Adjudicated(
            key,
            adjudication["adjudicator"],
            adjudication.get("composite"),
            adjudication.get("keep", False),
            adjudication.get("abstained", False),
        )
    for revision in update.get("revisions", []):
        yield Revised(key, revision["round"], revision["reviser"], revision.get("diff", ""))
    if decision := update.get("decision"):
        yield Decided(key, decision["status"], decision["reason"])
    if tokens:
        yield Tokens(tokens, key, node)


def node_events(key: Key, mode: str, chunk: Any) -> Iterator[RunEvent]:
    """The events in one part of a thread's stream (``stream_mode=["updates", "tasks"]``):
    a ``tasks`` part is a node entered (it has ``input``) or left (it has ``result``); an
    ``updates`` part maps node names to their updates (an interrupt's part is skipped)."""
    if mode == "tasks" and isinstance(chunk, Mapping):
        if "result" in chunk:
            error = chunk.get("error")
            yield NodeLeft(key, chunk["name"], chunk["id"], None if error is None else str(error))
        else:
            yield NodeEntered(key, chunk["name"], chunk["id"])
    elif mode == "updates" and isinstance(chunk, Mapping):
        for node, update in chunk.items():
            if isinstance(update, Mapping):
                yield from events_from_update(key, node, update)


class RunObserver:
    """Receives every event of a run; progress displays override the hooks they need.

    :meth:`on_event` is the one entry point: it gets each event ``Runner.events()`` yields
    (the same objects, in the same order) and calls the matching hook below; the hooks do
    nothing by default, except :meth:`on_warning`, which logs.
    """

    def on_event(self, event: RunEvent) -> None:
        """Dispatch one event to its hook (override to see every event)."""
        match event:
            case Loading(graph, members):
                self.on_loading(graph, members)
            case IterationStarted(iteration, iterations):
                self.on_iteration(iteration, iterations)
            case SamplesPlanned(total, already_done):
                self.on_start(total, already_done)
            case Tokens(completion_tokens):
                self.on_tokens(completion_tokens)
            case RecordWritten(record, resumed):
                self.on_record(record, resumed)
            case SampleFailed(key, error):
                self.on_error(key, error)
            case RunWarning(message):
                self.on_warning(message)

    def on_loading(self, graph: str, members: int) -> None:
        """Every input checked out; the members' models load now (seconds to minutes)."""

    def on_iteration(self, iteration: int, iterations: int) -> None:
        """Iteration ``iteration`` of ``iterations`` starts (its ``on_start`` follows)."""

    def on_start(self, total: int, already_done: int) -> None:
        """The current iteration's seed-samples are known: ``total``, of which
        ``already_done`` have records from an earlier, interrupted run."""

    def on_tokens(self, completion_tokens: int) -> None:
        """Some tokens were generated."""

    def on_record(self, record: Record, resumed: bool) -> None:
        """A record was written (or read back from an earlier run, ``resumed``)."""

    def on_error(self, key: Key, error: BaseException) -> None:
        """A seed-sample failed; it resumes when the run is resumed."""

    def on_warning(self, message: str) -> None:
        """Something the user should know that did not stop the run (a repaired journal)."""
        logging.getLogger("gra_graph").warning(message)
