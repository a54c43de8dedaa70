"""The served path's overhead against the in-process path: same model, same seeds, one run each.

Four members, personas of one bundled model, run the same seeds three ways:

- ``in-process simple``: the GGUF file in this process, one call at a time (``--engine simple``);
- ``in-process batched``: the same file on the batched engine (the default);
- ``served``: every member ``provider: openai-compatible`` on one ``python -m llama_cpp.server``
  started here on the same file (it decodes one request at a time, like the simple engine).

Both sides use the same thread count, context size, sampling and token budgets. Each arm is one
``gra run`` into its own directory; the table gives its wall time, the seconds per seed-sample,
generated tokens per second of wall time, and the mean seconds of one model call. The served arm
against ``in-process simple`` is the transport's cost (HTTP, JSON, the OpenAI client); against
``batched`` it is what a served member gives up.

Usage::

    python evals/bench_served.py                        # smollm2-135m, 4 seeds, concurrency 4
    python evals/bench_served.py --model gemma3-270m --limit 8 --json served.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import shipped_prompts_yaml  # noqa: E402
from tests.support.llama_server import llama_server  # noqa: E402

PERSONAS = [
    ("careful", "You are a careful, precise assistant. You check facts and keep answers short."),
    ("teacher", "You are a patient teacher who explains things step by step in plain words."),
    ("critic", "You are a demanding critic who looks for mistakes and missing details."),
    ("editor", "You are an editor who wants every text to be complete, relevant and coherent."),
]


def graph_text(model: str, threads: int, base_url: str | None) -> str:
    """Four personas of ``model``, in-process (``base_url`` None) or all on the server."""
    members = []
    for i, (name, persona) in enumerate(PERSONAS):
        sampling = f"sampling: {{temperature: 0.7, top_p: 0.9, seed: {11 + i}}}"
        if base_url is None:
            where = f"model: {model}, n_ctx: 2048, n_threads: {threads}"
        else:
            where = (
                f"provider: openai-compatible, base_url: {json.dumps(base_url)}, "
                f"model: {model}, response_format: json_object"
            )
        members.append(f"  - {{name: {name}, {where}, persona: {json.dumps(persona)}, {sampling}}}")
    return (
        "name: overhead\ncommittee_size: 2\ndedup: {embedder: ngram}\n"
        "members:\n" + "\n".join(members) + "\n" + shipped_prompts_yaml()
    )


def run_arm(graph: Path, out: Path, args: argparse.Namespace, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "gra_graph.cli", "run", str(graph), "--seeds", args.seeds]
    command += ["--out", str(out), "--limit", str(args.limit), "--seed", "1", "--quiet"]
    command += ["--concurrency", str(args.concurrency), *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"gra run failed ({result.returncode}): {result.stderr[-2000:]}")
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    calls = [c for r in rows for c in r["calls"]]
    completion = sum(c["completion_tokens"] for c in calls)
    summary = json.loads((out / "summary.json").read_text())
    return {
        "process_wall_s": round(wall, 2),
        "run_wall_s": summary["wall_seconds"],
        "seconds_per_seed_sample": summary["seconds_per_seed_sample"],
        "calls": len(calls),
        "failed_calls": sum(not c["ok"] for c in calls),
        "completion_tokens": completion,
        "tokens_per_s": round(completion / summary["wall_seconds"], 2),
        "mean_call_s": round(sum(c["seconds"] for c in calls) / max(len(calls), 1), 3),
        "accepted": sum(r["status"] == "accepted" for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="a bundled model's name")
    parser.add_argument("--seeds", default=str(ROOT / "examples" / "seeds.jsonl"))
    parser.add_argument("--limit", type=int, default=4, help="seeds per arm (default: 4)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-served-") as tmp:
        work = Path(tmp)
        local = work / "local.yaml"
        local.write_text(graph_text(args.model, args.threads, None))
        for arm, engine in (("in-process simple", "simple"), ("in-process batched", "batched")):
            out = work / engine
            results[arm] = run_arm(local, out, args, ["--engine", engine])
        with llama_server(
            args.model, work / "server.log", extra=["--n_threads", str(args.threads)]
        ) as server:
            served = work / "served.yaml"
            served.write_text(graph_text(args.model, args.threads, server.base_url))
            results["served"] = run_arm(served, work / "served", args, [])
    keys = list(next(iter(results.values())))
    print("| arm | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for arm, row in results.items():
        print(f"| {arm} | " + " | ".join(str(row[k]) for k in keys) + " |")
    base = results["in-process simple"]["run_wall_s"]
    print(f"\nserved wall time / in-process simple: {results['served']['run_wall_s'] / base:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
