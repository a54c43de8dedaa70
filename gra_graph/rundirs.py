"""Reading run directories from outside a run: what ``gra runs`` lists and ``gra resume`` needs.

Nothing here writes: a listing may run while runs are writing (a torn last line of a journal
is skipped, not repaired; the lock is only probed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gra_graph import runlock
from gra_graph.checkpoints import database_bytes

STATUSES = ("running", "complete", "incomplete", "interrupted", "crashed")
"""``running``: a live process holds the directory; ``crashed``: run.json says running but no
process holds the lock (killed, or died of an error); the others as in run.json."""


class RunInfoError(ValueError):
    """A directory that is not a readable run directory."""


@dataclass(frozen=True)
class RunInfo:
    """One run directory at a glance."""

    path: str
    status: str
    done: int
    total: int
    accepted: int
    graph: str
    started: str
    checkpoint_bytes: int
    holder: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of a run directory, or :class:`RunInfoError` saying why not."""
    path = run_dir / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunInfoError(f"{run_dir} is not a gra run directory (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise RunInfoError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise RunInfoError(f"{path} is not a JSON object")
    return data


def _journal_rows(path: Path) -> list[dict[str, Any]]:
    """The complete rows of a journal, read-only (a torn tail is skipped, not cut off)."""
    rows: list[dict[str, Any]] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return rows
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
    return rows


def run_status(run_dir: Path, manifest: dict[str, Any]) -> str:
    """One of :data:`STATUSES` (see there)."""
    if runlock.is_held(run_dir):
        return "running"
    status = str(manifest.get("status", "running"))
    return "crashed" if status == "running" else status


def run_info(run_dir: Path) -> RunInfo:
    """Status, progress and outcome of one run directory."""
    manifest = read_manifest(run_dir)
    status = run_status(run_dir, manifest)
    rows = _journal_rows(run_dir / "records.jsonl")
    done = {(r.get("seed_index"), r.get("sample_index")) for r in rows}
    accepted = sum(r.get("status") == "accepted" for r in rows)
    total = int(manifest.get("seeds", 0)) * int(manifest.get("samples_per_seed", 1))
    who = runlock.holder(run_dir) if status == "running" else {}
    return RunInfo(
        path=str(run_dir),
        status=status,
        done=len(done),
        total=total,
        accepted=accepted,
        graph=str(manifest.get("graph", "?")),
        started=str(manifest.get("created", "?")),
        checkpoint_bytes=database_bytes(run_dir / "checkpoints.sqlite"),
        holder=f"pid {who.get('pid')} on {who.get('host')}" if who else "",
    )


def list_runs(parent: Path) -> list[RunInfo]:
    """Every run directory directly under ``parent`` (and ``parent`` itself if it is one)."""
    if not parent.is_dir():
        raise RunInfoError(f"{parent} is not a directory")
    candidates = [parent] if (parent / "run.json").is_file() else []
    candidates += sorted(
        p for p in parent.iterdir() if p.is_dir() and (p / "run.json").is_file()
    )
    infos = []
    for run_dir in candidates:
        try:
            infos.append(run_info(run_dir))
        except RunInfoError:
            continue  # an unreadable run.json is not a run to list
    return infos


def resume_argv(run_dir: Path, overrides: dict[str, Any] | None = None) -> list[str]:
    """The ``gra run`` arguments that started the run in ``run_dir``, for ``gra resume``.

    Every option the run was started with comes from ``run.json``'s ``command``; ``overrides``
    replaces some (``concurrency``, a moved ``graph`` or ``seeds`` file). Whether the graph and
    seeds are still the same is checked by the runner against the fingerprints.

    Raises:
        RunInfoError: no run here, no command recorded, or the graph or seeds file is gone.
    """
    manifest = read_manifest(run_dir)
    command = manifest.get("command")
    if not isinstance(command, dict) or not command.get("graph") or not command.get("seeds"):
        raise RunInfoError(
            f"{run_dir / 'run.json'} does not record the command that started the run (it was "
            "started from the Python API); resume it with the same run_seeds(...) call"
        )
    command = {**command, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    for key, flag in (("graph", "--graph"), ("seeds", "--seeds")):
        if not Path(command[key]).is_file():
            raise RunInfoError(
                f"the {key} file {command[key]} recorded in {run_dir / 'run.json'} is gone; "
                f"pass its new place with gra resume {run_dir} {flag} PATH"
            )
    argv = ["run", str(command.pop("graph")), "--out", str(run_dir)]
    for key, value in command.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv
