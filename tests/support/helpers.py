"""Paths and graph-file copies shared by the tests."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipped_graph_text(name: str = "gra.yaml") -> str:
    """A shipped graph file's text with prompt paths made absolute, to save it anywhere."""
    text = (ROOT / "graphs" / name).read_text(encoding="utf-8")
    return text.replace("../prompts/", f"{ROOT / 'prompts'}/")


def shipped_prompts_yaml() -> str:
    """A ``prompts:`` section naming each stage's shipped prompt file by absolute path."""
    from gra_graph.stages import STAGES

    files = [ROOT / "prompts" / spec.prompt_file for spec in STAGES.values()]
    return "prompts:\n" + "".join(f"  {p.stem}: {p}\n" for p in files)


def scripted_graph_text(name: str = "scripted", extra: str = "") -> str:
    """A small graph file (five members with fixed roles, n-gram dedup) to save anywhere.

    Its members name a bundled model, so the file also runs on real models; the tests run it
    through ``tests.support.cli_fake``, which scripts them.
    """
    members = "".join(
        f"  - {{name: {member}, model: smollm2-135m, n_ctx: 2048, roles: [{roles}]}}\n"
        for member, roles in (
            ("gen", "generator, enricher"),
            ("r1", "reviewer"),
            ("r2", "reviewer"),
            ("r3", "reviewer"),
            ("adj", "adjudicator"),
        )
    )
    return (
        f"name: {json.dumps(name)}\nmembers:\n{members}dedup: {{embedder: ngram}}\n"
        f"{extra}{shipped_prompts_yaml()}"
    )


def stop_process(process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Stop a ``gra`` subprocess as Ctrl-C would (SIGINT), killing it if it does not exit in
    ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def checkpointed_calls(db: Path, thread_ids: Iterable[str]) -> dict[str, list[dict]]:
    """The model calls each thread had recorded in its latest checkpoint in ``db``."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from gra_graph.graph import build_graph

    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        graph = build_graph(checkpointer=saver)
        found = {}
        for thread_id in thread_ids:
            state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
            found[thread_id] = list(state.values.get("calls", []))
        return found
