"""Speed of the bundled models on both engines: prompt read-in and generation, one call at a time.

For each model and engine, after one warm-up call:

- ``prompt``: a ~400-token prompt with ``max_tokens=1``: prompt tokens read per second.
- ``generate``: a short prompt answered with up to ``--max-tokens`` tokens, minus the time of
  the same-length prompt answered with one token: generated tokens per second.

Every prompt starts with a different line, so the batched engine's prefix cache borrows nothing
and both engines read every prompt whole. Each figure is the median of ``--repeats`` calls.
The machine's load average is printed with the figures: on a shared machine, read them as
rough.

Usage::

    python evals/bench_models.py                                   # both Qwen models
    python evals/bench_models.py --models smollm2-135m --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gra_graph.llm.bundled import BUNDLED, bundled_path  # noqa: E402
from gra_graph.llm.engine import (  # noqa: E402
    BatchSettings,
    CompletionRequest,
    EngineKind,
    LoadSettings,
    ModelEngine,
)
from gra_graph.llm.loader import load_engine  # noqa: E402

TOPICS = [
    "volcanoes", "prime numbers", "photosynthesis", "jazz", "sorting algorithms", "the moon",
    "coffee", "glaciers", "bees", "electric motors", "black holes", "bread baking",
]  # fmt: skip
CONTEXT = (
    "A function that sorts a list must say whether it sorts in place, whether it is stable, "
    "what it does with equal keys and what it costs in time and memory for n items. "
)


def _request(index: int, max_tokens: int, long_prompt: bool) -> CompletionRequest:
    topic = TOPICS[index % len(TOPICS)]
    body = CONTEXT * 10 if long_prompt else ""  # about 400 tokens
    ask = f"Note {index}: write a long, detailed lesson about {topic}.\n{body}"
    return CompletionRequest(
        messages=(("system", "You are a patient teacher."), ("user", ask)),
        max_tokens=max_tokens,
        temperature=0.7,
        seed=index,
    )


async def _measure(engine: ModelEngine, max_tokens: int, repeats: int) -> dict[str, float]:
    await engine.complete(_request(99, 8, long_prompt=False))  # warm-up
    prompt_rates, generate_rates, generated = [], [], []
    for i in range(repeats):
        read = await engine.complete(_request(i, 1, long_prompt=True))
        prompt_rates.append((read.prompt_tokens - read.reused_prompt_tokens) / read.seconds)
        short = await engine.complete(_request(100 + i, 1, long_prompt=False))
        full = await engine.complete(_request(200 + i, max_tokens, long_prompt=False))
        extra_tokens = full.completion_tokens - short.completion_tokens
        generate_rates.append(extra_tokens / max(full.seconds - short.seconds, 1e-9))
        generated.append(full.completion_tokens)
    return {
        "prompt_tok_s": round(statistics.median(prompt_rates), 1),
        "generate_tok_s": round(statistics.median(generate_rates), 1),
        "prompt_tokens": read.prompt_tokens,
        "generated_tokens": round(statistics.mean(generated), 1),
    }


def bench(name: str, kind: EngineKind, threads: int, max_tokens: int, repeats: int) -> dict:
    model = BUNDLED[name]
    settings = LoadSettings(
        bundled_path(name), model.chat_format, 2048, threads, 0, kind, BatchSettings()
    )
    engine = load_engine(settings)
    try:
        return {"model": name, "engine": kind, **asyncio.run(_measure(engine, max_tokens, repeats))}
    finally:
        engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=sorted(BUNDLED),
        default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"],
    )
    parser.add_argument("--engines", nargs="+", choices=["simple", "batched"],
                        default=["simple", "batched"])  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96, help="per generation call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rows = []
    for name in args.models:
        for kind in args.engines:
            rows.append(bench(name, kind, args.threads, args.max_tokens, args.repeats))
            print(json.dumps({**rows[-1], "load_average": os.getloadavg()}), flush=True)
    result = {"threads": args.threads, "cpus": os.cpu_count(), "rows": rows,
              "load_average_after": os.getloadavg()}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
