"""Time travel: a seed-sample's checkpoint history, and forks of it from any node.

Every seed-sample is a LangGraph thread in the run's checkpoint database, with one checkpoint
per step (``durability="sync"``). :func:`sample_history` reads them back
(``aget_state_history``): which node(s) ran at each step, when, and which state keys changed.

:func:`rerun_sample` forks a finished seed-sample from the checkpoint taken just before a node
first ran: the checkpoint is copied, as it was, into a new thread ``"{thread}.fork{n}"``
(changed only where ``member`` swaps a member into the node's role), and the graph runs that
thread to its end under the run's graph file with ``settings`` applied (``thresholds.tau=7.5``).
Running from a copied checkpoint re-runs the node's tasks, reviewer fan-outs included (their
``Send`` packets live in the checkpoint). The fork's record links to its parent and is appended
to the run's forks journal (:attr:`RunDir.forks_path`); ``records.jsonl`` and
``accepted.jsonl`` are never touched. The original thread is only read.

This needs the checkpoints of finished samples, which a run deletes unless its graph file
says ``checkpoints.prune_finished: false``; without them both functions raise
:class:`TimeTravelError` saying so.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from langgraph.types import Send
from pydantic import BaseModel, ValidationError

from gra_graph import checkpoints
from gra_graph.config import GraphConfig, GraphConfigError, format_validation_error
from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.llm.faults import with_faults
from gra_graph.llm.members import Members, check_member_models, load_members
from gra_graph.prompts import load_prompts
from gra_graph.records import build_record
from gra_graph.rundirs import RunDir, RunInfoError
from gra_graph.runner import prompts_fingerprint
from gra_graph.state import Record

ROLE_OF_NODE: dict[str, str] = {
    "compose_keywords": "generator",
    "write_instruction": "generator",
    "write_response": "generator",
    "revise": "generator",
    "check_instruction": "reviewers",
    "score_response": "reviewers",
    "adjudicate": "adjudicator",
    "enrich": "enricher",
}
"""The role whose member a node calls (``--member`` swaps it); other nodes call no member."""

_SAMPLE = re.compile(r"^(\d+)/(\d+)$")
_THREAD = re.compile(r"^(\d+)-(\d+)(\.fork\d+)?$")
_SHORT = 70  # characters of a value shown in a history row


class TimeTravelError(RuntimeError):
    """A request ``inspect`` or ``rerun`` cannot serve; the message says what to do."""


def thread_of(sample: str) -> str:
    """The thread id of ``sample``: ``"3/0"`` (seed 3, sample 0) or a thread id (``"3-0"``,
    ``"3-0.fork1"``)."""
    if m := _SAMPLE.match(sample.strip()):
        return checkpoints.thread_id((int(m[1]), int(m[2])))
    if _THREAD.match(sample.strip()):
        return sample.strip()
    raise TimeTravelError(
        f"{sample!r} is not a sample: write SEED/SAMPLE (3/0) or a thread id (3-0, 3-0.fork1)"
    )


def _key(thread: str) -> tuple[int, int]:
    m = _THREAD.match(thread)
    assert m, thread
    return int(m[1]), int(m[2])


# ---- history


@dataclass(frozen=True)
class HistoryStep:
    """One checkpoint of a thread: the node(s) whose writes it holds and what they changed."""

    step: int
    checkpoint_id: str
    created_at: str
    source: str  # input, loop, fork (LangGraph's checkpoint metadata)
    nodes: list[str]
    changes: dict[str, str] = field(default_factory=dict)
    next: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "checkpoint_id": self.checkpoint_id,
            "created_at": self.created_at,
            "source": self.source,
            "nodes": self.nodes,
            "changes": self.changes,
            "next": self.next,
        }


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    """Keys whose value changed, each with a short value (``+N: ...`` for an appended list)."""
    out: dict[str, str] = {}
    for key, value in after.items():
        old = before.get(key)
        if old == value or (key not in before and value in ([], {}, None, "")):
            continue
        if isinstance(value, list) and isinstance(old, list) and value[: len(old)] == old:
            added = value[len(old) :]
            out[key] = f"+{len(added)}: " + _short([_gist(item) for item in added])
        else:
            out[key] = _short(value)
    return out


def _gist(item: Any) -> Any:
    """The telling part of a list item: who, and the scores or verdict."""
    if not isinstance(item, dict):
        return item
    keep = ("reviewer", "member", "stage", "criteria", "scores", "outcome", "mu", "round")
    return {k: item[k] for k in keep if k in item} or item


def _nodes(snapshot: Any) -> list[str]:
    return [task.name for task in snapshot.tasks] or list(snapshot.next)


async def _snapshots(graph: Any, thread: str) -> list[Any]:
    """The thread's checkpoints, oldest first."""
    config = {"configurable": {"thread_id": thread}}
    return list(reversed([s async for s in graph.aget_state_history(config)]))


def _history(snapshots: Sequence[Any]) -> list[HistoryStep]:
    steps = []
    before: Mapping[str, Any] = {}
    ran: list[str] = []
    for snapshot in snapshots:
        metadata = snapshot.metadata or {}
        source = str(metadata.get("source", ""))
        nodes = ran if source == "loop" else [f"({source})"]
        if source == "fork":
            origin = metadata.get("forked_from", {})
            nodes = [f"(fork of {origin.get('thread_id')} step {origin.get('step')})"]
        steps.append(
            HistoryStep(
                step=int(metadata.get("step", -1)),
                checkpoint_id=snapshot.config["configurable"]["checkpoint_id"],
                created_at=str(snapshot.created_at or ""),
                source=source,
                nodes=nodes,
                changes=_changes(before, snapshot.values),
                next=list(snapshot.next),
            )
        )
        before, ran = snapshot.values, _nodes(snapshot)
    return steps


def _no_checkpoints(run: RunDir, thread: str) -> TimeTravelError:
    seed, sample = _key(thread)
    if "fork" not in thread and _record_row(run, (seed, sample)) is not None:
        return TimeTravelError(
            f"sample {seed}/{sample} of {run.path} has a record but no checkpoints: the run "
            "deleted them as it finished (checkpoints.prune_finished: true, the default); set "
            "checkpoints.prune_finished: false in the graph file of a new run to inspect and "
            "rerun its samples"
        )
    return TimeTravelError(
        f"{run.path} has no checkpoints of sample {thread} (no such seed-sample, or it has not "
        "started yet)"
    )


def _check_run(run: RunDir) -> dict[str, Any]:
    try:
        manifest = run.manifest()
    except RunInfoError as exc:
        raise TimeTravelError(str(exc)) from None
    if not run.checkpoints_path.is_file():
        raise TimeTravelError(f"{run.path} has no checkpoint database")
    checkpoints.check_database(run.checkpoints_path)
    return manifest


async def sample_history(run_dir: str | Path, sample: str) -> list[HistoryStep]:
    """The checkpoint history of one seed-sample (``"3/0"`` or a thread id), oldest first.

    Reads only: the database is opened read-only, so a live run may go on writing.

    Raises:
        TimeTravelError: no run, no checkpoint database, or no checkpoints of the sample
            (pruned: the message says which setting keeps them).
    """
    run = RunDir(run_dir)
    _check_run(run)
    thread = thread_of(sample)
    async with checkpoints.open_reader(run.checkpoints_path) as saver:
        snapshots = await _snapshots(build_graph(checkpointer=saver), thread)
    if not snapshots:
        raise _no_checkpoints(run, thread)
    return _history(snapshots)


# ---- forks


class ForkOrigin(BaseModel):
    """Where a fork comes from: the parent sample's thread and checkpoint, and its outcome."""

    thread_id: str
    checkpoint_id: str
    step: int
    status: str
    reason: str


class ForkRecord(Record):
    """A fork's provenance record: a :class:`Record`, plus what it was forked from and how."""

    parent: ForkOrigin
    fork_thread: str
    from_node: str
    member_swap: dict[str, str]
    settings: dict[str, Any]
    created: str


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``["thresholds.tau=7.5"]`` -> ``{"thresholds.tau": 7.5}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise TimeTravelError(f"--set {pair!r}: write KEY=VALUE, e.g. thresholds.tau=7.5")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            out[key.strip()] = text
    return out


def with_settings(config: GraphConfig, settings: Mapping[str, Any]) -> GraphConfig:
    """``config`` with dotted settings replaced, validated as a graph file is."""
    if not settings:
        return config
    data = config.model_dump()
    for dotted, value in settings.items():
        node: Any = data
        *path, last = dotted.split(".")
        for part in path:
            if not isinstance(node, dict) or part not in node:
                raise TimeTravelError(f"--set {dotted}: the graph file has no setting {dotted}")
            node = node[part]
        if not isinstance(node, dict) or last not in node:
            raise TimeTravelError(f"--set {dotted}: the graph file has no setting {dotted}")
        node[last] = value
    try:
        return GraphConfig.model_validate({**data, "base_dir": config.base_dir})
    except ValidationError as exc:
        raise TimeTravelError(" ".join(format_validation_error("--set", exc).split("\n"))) from None


def _swap(member: str | None, node: str, roles: Mapping[str, Any]) -> dict[str, str]:
    """``--member NEW`` or ``--member OLD=NEW`` as {old: new} for the role ``node`` uses."""
    if member is None:
        return {}
    role = ROLE_OF_NODE.get(node)
    if role is None:
        raise TimeTravelError(
            f"--member: {node} calls no member (nodes that do: {', '.join(ROLE_OF_NODE)})"
        )
    holders = list(roles[role]) if role == "reviewers" else [roles[role]]
    old, sep, new = member.partition("=")
    if not sep:
        if len(holders) != 1:
            raise TimeTravelError(
                f"--member: {node} is called for {len(holders)} reviewers "
                f"({', '.join(holders)}); say which one {member} replaces: --member "
                f"{holders[0]}={member}"
            )
        old, new = holders[0], member
    if old not in holders:
        raise TimeTravelError(
            f"--member: {old} is not the {role.rstrip('s')} of this sample "
            f"({', '.join(h for h in holders if h)})"
        )
    if new in holders:
        raise TimeTravelError(f"--member: {new} already is a {role.rstrip('s')} of this sample")
    return {old: new}


def _swapped(checkpoint: dict[str, Any], role: str, swap: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``checkpoint`` with the members in ``swap`` replaced in ``role`` and in the
    pending reviewer tasks (``Send`` packets carry the reviewer's name)."""
    checkpoint = copy.deepcopy(checkpoint)
    values = checkpoint["channel_values"]
    roles = dict(values["roles"])
    if role == "reviewers":
        roles["reviewers"] = [swap.get(r, r) for r in roles["reviewers"]]
    else:
        roles[role] = swap.get(roles[role], roles[role])
    values["roles"] = roles
    tasks = values.get("__pregel_tasks")
    if isinstance(tasks, list):
        values["__pregel_tasks"] = [
            Send(t.node, {**t.arg, "reviewer": swap.get(t.arg["reviewer"], t.arg["reviewer"])})
            if isinstance(t, Send) and isinstance(t.arg, dict) and "reviewer" in t.arg
            else t
            for t in tasks
        ]
    return checkpoint


def _record_row(run: RunDir, key: tuple[int, int]) -> dict[str, Any] | None:
    for row in run.journal_rows(run.records_path):
        if (row.get("seed_index"), row.get("sample_index")) == key:
            return row
    return None


def run_config(run: RunDir, manifest: Mapping[str, Any], graph: Path | None) -> GraphConfig:
    """The run's graph file (``graph``, else the one ``run.json`` names), checked against the
    fingerprints in ``run.json`` so the fork runs the settings the sample ran."""
    command = manifest.get("command") or {}
    path = graph or (Path(command["graph"]) if command.get("graph") else None)
    if path is None:
        raise TimeTravelError(
            f"{run.run_file} names no graph file (the run started from Python): pass --graph"
        )
    config = GraphConfig.from_file(path)
    if command.get("engine"):
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"kind": command["engine"]})}
        )
    if config.fingerprint() != manifest.get("graph_fingerprint"):
        raise TimeTravelError(
            f"{path} is not the graph file {run.path} ran (its settings changed since); pass "
            "the original with --graph, and change settings with --set KEY=VALUE"
        )
    if prompts_fingerprint(load_prompts(config)) != manifest.get("prompts_fingerprint"):
        raise TimeTravelError(f"a prompt file of {path} changed since {run.path} ran")
    return config


async def rerun_sample(
    run_dir: str | Path,
    sample: str,
    from_node: str,
    *,
    member: str | None = None,
    settings: Mapping[str, Any] | None = None,
    graph: Path | None = None,
    config: GraphConfig | None = None,
    members: Members | None = None,
) -> ForkRecord:
    """Fork ``sample`` from the checkpoint before ``from_node`` first ran; run it to the end;
    append its record to the run's forks journal and return it.

    ``member`` is ``NEW`` or ``OLD=NEW``: NEW takes OLD's place in the role ``from_node`` uses
    (for the rest of the thread). ``settings`` are dotted graph-file settings
    (``{"thresholds.tau": 7.5}``). ``config`` is the run's graph (else read from ``graph``
    or ``run.json`` and checked against its fingerprint); ``members`` are loaded from it
    when not given. The run directory is locked meanwhile: no run may be live in it.

    Raises:
        TimeTravelError: what is asked cannot be done (the message says why).
    """
    run = RunDir(run_dir)
    manifest = _check_run(run)
    thread = thread_of(sample)
    if "fork" in thread:
        raise TimeTravelError(f"{sample}: rerun forks an original sample (3/0), not a fork")
    key = _key(thread)
    parent = _record_row(run, key)
    if parent is None:
        raise TimeTravelError(
            f"sample {key[0]}/{key[1]} of {run.path} has no record yet: resume the run first"
        )
    base = config or run_config(run, manifest, graph)
    try:
        new_config = with_settings(base, settings or {})
        prompts = load_prompts(new_config)
    except GraphConfigError as exc:
        raise TimeTravelError(" ".join(str(exc).split("\n"))) from None
    async with AsyncExitStack() as stack:
        run.lock()
        stack.callback(run.unlock)
        saver = await stack.enter_async_context(checkpoints.open_checkpointer(run.checkpoints_path))
        graph_ = build_graph(checkpointer=saver)
        snapshots = await _snapshots(graph_, thread)
        if not snapshots:
            raise _no_checkpoints(run, thread)
        before = next((s for s in snapshots if from_node in s.next), None)
        if before is None:
            ran = sorted({n for s in snapshots for n in s.next})
            raise TimeTravelError(
                f"{from_node} never ran in sample {key[0]}/{key[1]}; these did: {', '.join(ran)}"
            )
        swap = _swap(member, from_node, before.values["roles"])
        unknown = [n for n in swap.values() if n not in {m.name for m in new_config.members}]
        if unknown:
            names = ", ".join(m.name for m in new_config.members)
            raise TimeTravelError(f"--member: {unknown[0]} is not a member ({names})")
        stored = await saver.aget_tuple(before.config)
        assert stored is not None
        checkpoint = stored.checkpoint
        if swap:
            checkpoint = _swapped(checkpoint, ROLE_OF_NODE[from_node], swap)
        fork = f"{thread}.fork{await _next_fork(saver, thread)}"
        step = int(before.metadata.get("step", -1))
        metadata = {
            **stored.metadata,
            "source": "fork",
            "forked_from": {
                "thread_id": thread,
                "checkpoint_id": checkpoint["id"],
                "step": step,
                "node": from_node,
            },
        }
        fork_config = {"configurable": {"thread_id": fork, "checkpoint_ns": ""}}
        await saver.aput(fork_config, checkpoint, metadata, checkpoint["channel_versions"])
        if members is None:
            check_member_models(new_config)
            members = await asyncio.to_thread(load_members, new_config)
            stack.callback(members.close)
        context = GraContext.create(
            new_config, with_faults(members, new_config), int(manifest.get("seed", 0)), prompts
        )
        thread_config = {"configurable": {"thread_id": fork}}
        async for _ in graph_.astream(
            None, thread_config, context=context, stream_mode="updates", durability="sync"
        ):
            pass
        final = await graph_.aget_state(thread_config)
        if final.next:
            raise TimeTravelError(f"the fork {fork} stopped before its end at {final.next}")
        record = build_record(final.values, parent["run_id"], members)
        forked = ForkRecord(
            **record.model_dump(),
            parent=ForkOrigin(
                thread_id=thread,
                checkpoint_id=checkpoint["id"],
                step=step,
                status=parent["status"],
                reason=parent["reason"],
            ),
            fork_thread=fork,
            from_node=from_node,
            member_swap=swap,
            settings=dict(settings or {}),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        run.append(run.forks_path, forked.model_dump(mode="json"))
    return forked


async def _next_fork(saver: Any, thread: str) -> int:
    """1 + the highest fork number of ``thread`` so far."""
    numbers = [
        int(t.rsplit(".fork", 1)[1])
        for t in await checkpoints.stored_threads(saver)
        if t.startswith(f"{thread}.fork") and t.rsplit(".fork", 1)[1].isdigit()
    ]
    return max(numbers, default=0) + 1


def fork_records(run_dir: str | Path) -> list[ForkRecord]:
    """Every fork record of a run, in the order they were written."""
    run = RunDir(run_dir)
    return [ForkRecord.model_validate(row) for row in run.journal_rows(run.forks_path)]
