"""Benchmark the batched llama.cpp engine against the simple one, side by side in one run.

Every figure is a ratio of two measurements taken in the same process, one after the other, on
the same requests, so a noisy machine moves both sides together. Sections:

- ``throughput``: aggregate generated tokens/s at 1, 4, 8 and 16 concurrent requests.
- ``grammar``: JSON-schema-constrained against free generation, on both bundled models.
- ``prefix``: prompt reading with one ~700-token rubric, different tails, two roles taking
  turns (the simple engine reads every prompt whole).
- ``e2e``: ``gra run`` seed-samples per minute at concurrency 8, batched against simple.
- ``memory``: peak RSS of a process running 16 sequences, and the KV memory configured.

Usage::

    python evals/bench_engine.py                      # everything (about 15 minutes, 2 cores)
    python evals/bench_engine.py --only throughput grammar --json bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gra_graph.llm.bundled import bundled_path  # noqa: E402
from gra_graph.llm.engine import (  # noqa: E402
    BatchSettings,
    CompletionRequest,
    EngineKind,
    LoadSettings,
    ModelEngine,
)
from gra_graph.llm.loader import load_engine  # noqa: E402

FORMATS = {"smollm2-135m": "chatml", "gemma3-270m": "gemma"}
TOPICS = [
    "volcanoes", "the French revolution", "prime numbers", "photosynthesis", "jazz",
    "sorting algorithms", "the moon", "coffee", "glaciers", "the printing press", "bees",
    "electric motors", "the Silk Road", "black holes", "bread baking", "chess openings",
]  # fmt: skip
LONG_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 320}},
        "required": ["answer"],
    }
)
RUBRIC_LINES = [
    "Accuracy: every fact must be correct and checkable; penalise invented numbers and names.",
    "Clarity: the answer reads in one pass; sentences are short and terms are explained.",
    "Depth: the answer covers causes, mechanisms and consequences, not only a definition.",
    "Relevance: everything in the answer serves the question; digressions cost points.",
    "Structure: ideas come in a sensible order, with a clear opening and a clear close.",
    "Helpfulness: a reader could act on the answer or explain it to someone else.",
]


def _settings(model: str, kind: EngineKind, threads: int, max_sequences: int = 16) -> LoadSettings:
    batch = BatchSettings(max_sequences=max_sequences, prefix_cache=8, n_batch=512)
    return LoadSettings(bundled_path(model), FORMATS[model], 1024, threads, 0, kind, batch)


def _request(
    topic: str, max_tokens: int, seed: int, schema: str | None = None
) -> CompletionRequest:
    ask = f"Write a short lesson about {topic} for a curious twelve-year-old."
    if schema:
        ask += ' Reply as JSON: {"answer": "..."}.'
    return CompletionRequest(
        messages=(("system", "You are a patient teacher."), ("user", ask)),
        max_tokens=max_tokens,
        temperature=0.7,
        seed=seed,
        json_schema=schema,
    )


async def _timed(engine: ModelEngine, requests: Sequence[CompletionRequest]) -> tuple[float, int]:
    started = time.perf_counter()
    done = await asyncio.gather(*(engine.complete(r) for r in requests))
    return time.perf_counter() - started, sum(c.completion_tokens for c in done)


def _rate(seconds: float, tokens: int) -> float:
    return tokens / seconds if seconds else 0.0


async def throughput(model: str, threads: int, max_tokens: int) -> dict[str, object]:
    """Aggregate tok/s at 1, 4, 8, 16 concurrent requests, simple then batched."""
    rows = []
    engines = {kind: load_engine(_settings(model, kind, threads)) for kind in ("simple", "batched")}
    try:
        for n in (1, 4, 8, 16):
            requests = [_request(TOPICS[i], max_tokens, seed=i) for i in range(n)]
            row: dict[str, object] = {"concurrent": n}
            for kind, engine in engines.items():
                seconds, tokens = await _timed(engine, requests)
                row[kind] = round(_rate(seconds, tokens), 1)
            row["ratio"] = round(float(row["batched"]) / float(row["simple"]), 2)  # type: ignore[arg-type]
            rows.append(row)
            print(f"  {model} n={n}: {row}", flush=True)
    finally:
        for engine in engines.values():
            engine.close()
    return {"model": model, "max_tokens": max_tokens, "rows": rows}


async def grammar(model: str, threads: int, max_tokens: int) -> dict[str, object]:
    """Generated tok/s with and without a JSON-schema grammar, one request at a time."""
    result: dict[str, object] = {"model": model, "max_tokens": max_tokens}
    for kind in ("batched", "simple"):
        engine = load_engine(_settings(model, kind, threads))
        try:
            rates = {}
            for label, schema in (("free", None), ("json", LONG_SCHEMA)):
                seconds = tokens = 0.0
                for i in range(4):
                    s, t = await _timed(engine, [_request(TOPICS[i], max_tokens, i, schema)])
                    seconds, tokens = seconds + s, tokens + t
                rates[label] = round(tokens / seconds, 1)
            rates["slowdown"] = round(rates["free"] / rates["json"], 2)
            result[kind] = rates
            print(f"  {model} {kind}: {rates}", flush=True)
        finally:
            engine.close()
    return result


def _rubric_prompt(role: str, tail: str) -> CompletionRequest:
    rubric = "\n".join(RUBRIC_LINES * 6)  # about 700 tokens
    system = f"You are reviewer {role}. Score answers against this rubric.\n{rubric}"
    return CompletionRequest(
        messages=(("system", system), ("user", f"Answer to score: {tail}\nScore:")),
        max_tokens=1,
        temperature=0.0,
    )


async def prefix(model: str, threads: int, calls: int = 12) -> dict[str, object]:
    """Prompt reading with a shared rubric, roles A and B taking turns, one call at a time."""
    requests = [_rubric_prompt("AB"[i % 2], TOPICS[i % len(TOPICS)]) for i in range(calls)]
    result: dict[str, object] = {"model": model, "calls": calls}
    for kind in ("simple", "batched"):
        engine = load_engine(_settings(model, kind, threads))
        try:
            started = time.perf_counter()
            reused = prompt = 0
            for request in requests:
                done = await engine.complete(request)
                reused += done.reused_prompt_tokens
                prompt += done.prompt_tokens
            result[kind] = {
                "seconds": round(time.perf_counter() - started, 2),
                "prompt_tokens": prompt,
                "reused_tokens": reused,
            }
            print(f"  {model} {kind}: {result[kind]}", flush=True)
        finally:
            engine.close()
    simple, batched = result["simple"], result["batched"]
    result["speedup"] = round(simple["seconds"] / batched["seconds"], 2)  # type: ignore[index]
    return result


def e2e(seeds: int, concurrency: int) -> dict[str, object]:
    """``gra run`` on the bundled graph, simple then batched, in fresh processes."""
    result: dict[str, object] = {"seeds": seeds, "concurrency": concurrency}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("simple", "batched"):
            out = Path(tmp) / kind
            cmd = [
                sys.executable, "-m", "gra_graph.cli", "run", "graphs/gra.yaml",
                "--seeds", "examples/seeds.jsonl", "--limit", str(seeds),
                "--concurrency", str(concurrency), "--engine", kind, "--out", str(out), "--quiet",
            ]  # fmt: skip
            started = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            wall = time.perf_counter() - started
            summary = json.loads((out / "summary.json").read_text())
            per_minute = summary["seed_samples"] / (summary["wall_seconds"] / 60)
            result[kind] = {
                "seed_samples": summary["seed_samples"],
                "run_seconds": summary["wall_seconds"],
                "process_seconds": round(wall, 1),
                "seed_samples_per_minute": round(per_minute, 2),
                "generated_tokens": summary["completion_tokens"],
            }
            print(f"  e2e {kind}: {result[kind]}", flush=True)
    simple, batched = result["simple"], result["batched"]
    result["speedup"] = round(
        batched["seed_samples_per_minute"] / simple["seed_samples_per_minute"],  # type: ignore[index]
        2,
    )
    return result


def _kv_bytes_per_cell(model: str) -> int:
    from llama_cpp import Llama

    llm = Llama(model_path=str(bundled_path(model)), n_ctx=256, verbose=False, vocab_only=True)
    meta = llm.metadata
    arch = meta["general.architecture"]
    layers = int(meta[f"{arch}.block_count"])
    heads = int(meta[f"{arch}.attention.head_count"])
    kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads))
    key = int(
        meta.get(f"{arch}.attention.key_length", int(meta[f"{arch}.embedding_length"]) // heads)
    )
    value = int(meta.get(f"{arch}.attention.value_length", key))
    llm.close()
    return layers * kv_heads * (key + value) * 2  # f16 K and V


def memory_child(model: str, threads: int) -> None:
    """(in a fresh process) run 16 sequences and print peak RSS and KV size as JSON."""
    settings = _settings(model, "batched", threads, max_sequences=16)
    engine = load_engine(settings)
    requests = [_request(TOPICS[i], 64, seed=i) for i in range(16)]
    asyncio.run(_timed(engine, requests))
    peak = engine.stats.peak_sequences  # type: ignore[attr-defined]
    cells = engine.kv_cells  # type: ignore[attr-defined]
    engine.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kv_mb = cells * _kv_bytes_per_cell(model) / 2**20
    print(json.dumps({"model": model, "peak_sequences": peak, "kv_cells": cells,
                      "kv_mib": round(kv_mb, 1), "peak_rss_mib": round(rss_mb, 1)}))  # fmt: skip


def memory(threads: int) -> list[dict[str, object]]:
    rows = []
    for model in FORMATS:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", model, "--threads", str(threads)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  memory: {rows[-1]}", flush=True)
    return rows


SECTIONS = ("throughput", "grammar", "prefix", "e2e", "memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-tokens", type=int, default=64, help="per request (default 64)")
    parser.add_argument("--e2e-seeds", type=int, default=8, help="seeds for the e2e section")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.threads)
        return 0
    results: dict[str, object] = {"threads": args.threads}
    if "throughput" in args.only:
        print("throughput (generated tok/s, simple vs batched):", flush=True)
        results["throughput"] = asyncio.run(
            throughput("smollm2-135m", args.threads, args.max_tokens)
        )
    if "grammar" in args.only:
        print("grammar (tok/s free vs JSON schema, one request at a time):", flush=True)
        results["grammar"] = [
            asyncio.run(grammar(m, args.threads, args.max_tokens)) for m in FORMATS
        ]
    if "prefix" in args.only:
        print("prefix (12 calls, ~700-token rubric, roles A/B alternating):", flush=True)
        results["prefix"] = [asyncio.run(prefix(m, args.threads)) for m in FORMATS]
    if "e2e" in args.only:
        print("e2e (gra run, concurrency 8):", flush=True)
        results["e2e"] = e2e(args.e2e_seeds, 8)
    if "memory" in args.only:
        print("memory (16 sequences, fresh process per model):", flush=True)
        results["memory"] = memory(args.threads)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
