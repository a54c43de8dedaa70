"""What llama.cpp's extra buffer types (weight repacking) would buy, where they do not crash.

Both engines load models with ``use_extra_bufts = False`` (see
``gra_graph/llm/load_params.py``): on AMX CPUs the default crashes. This script measures what
that costs on a machine where the default works. For each bundled model it loads the file
twice through the simple engine's own load path, extra buffer types off and on, and in one
run, alternating which side goes first each round:

- prompt reading: one ~450-token prompt read in a single decode, in tokens/s;
- generation: 64 greedy tokens, one decode per token, in tokens/s;
- token identity: the same prompts, greedy (temperature 0), 64 tokens each: are the token ids
  on and off identical, and if not, where do they first differ?

It also prints how many bytes of weights llama.cpp repacked (0 means the setting changes
nothing for that model on this CPU). Figures are medians over rounds, with the slowest and
fastest round; on a busy machine compare the best rounds too.

Usage::

    python evals/bench_repack.py                  # both models, 3 rounds, 2 threads
    python evals/bench_repack.py --rounds 5 --models gemma3-270m --json repack.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402
from llama_cpp import Llama  # noqa: E402

from gra_graph.llm.bundled import BUNDLED, bundled_path  # noqa: E402
from gra_graph.llm.engine import LoadSettings  # noqa: E402
from gra_graph.llm.load_params import load_llama  # noqa: E402

RUBRIC = [
    "Accuracy: every fact must be correct and checkable; penalise invented numbers and names.",
    "Clarity: the answer reads in one pass; sentences are short and terms are explained.",
    "Depth: the answer covers causes, mechanisms and consequences, not only a definition.",
    "Relevance: everything in the answer serves the question; digressions cost points.",
    "Structure: ideas come in a sensible order, with a clear opening and a clear close.",
    "Helpfulness: a reader could act on the answer or explain it to someone else.",
]
TOPICS = ["volcanoes", "prime numbers", "photosynthesis", "the printing press", "bees", "jazz"]
GEN_TOKENS = 64


def long_prompt() -> str:
    """About 450 tokens on both models: the rubric four times over, then a question."""
    lines = [f"{i + 1}. {line}" for i, line in enumerate(RUBRIC * 4)]
    return "Review the answer below against this rubric.\n" + "\n".join(lines) + "\nAnswer:"


def short_prompt(topic: str) -> str:
    return f"Question: Explain {topic} to a curious twelve-year-old.\nAnswer:"


class Side:
    """One loaded copy of a model, extra buffer types on or off."""

    def __init__(self, model: str, extra_bufts: bool, threads: int) -> None:
        settings = LoadSettings(bundled_path(model), BUNDLED[model].chat_format, 1024, threads, 0)
        self.extra_bufts = extra_bufts
        repacked = _RepackLog()
        with repacked:
            self.llama: Llama = load_llama(settings, extra_bufts=extra_bufts)
        self.repacked_mib = repacked.mib
        self.n_vocab = self.llama.n_vocab()

    def tokens(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def read(self, tokens: Sequence[int]) -> float:
        """Seconds to read ``tokens`` from an empty cache, in one decode."""
        self.llama.reset()
        started = time.perf_counter()
        self.llama.eval(tokens)
        return time.perf_counter() - started

    def greedy(self, tokens: Sequence[int], n: int = GEN_TOKENS) -> tuple[list[int], float]:
        """``n`` greedy tokens after ``tokens``, and the seconds the ``n`` decodes took."""
        self.read(tokens)
        out: list[int] = []
        seconds = 0.0
        for _ in range(n):
            logits = np.ctypeslib.as_array(self.llama._ctx.get_logits(), shape=(self.n_vocab,))
            token = int(np.argmax(logits))
            out.append(token)
            started = time.perf_counter()
            self.llama.eval([token])
            seconds += time.perf_counter() - started
        return out, seconds

    def close(self) -> None:
        self.llama.close()


class _RepackLog:
    """Sums llama.cpp's ``CPU_REPACK model buffer size`` log lines while a model loads."""

    _PATTERN = "CPU_REPACK model buffer size ="

    def __init__(self) -> None:
        self.mib = 0.0
        self._callback: Any = None

    def _log(self, level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", "replace")
        if self._PATTERN in line:
            self.mib += float(line.split("=")[1].split()[0])

    def __enter__(self) -> _RepackLog:
        self._callback = llama_cpp.llama_log_callback(self._log)
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))
        return self

    def __exit__(self, *exc: object) -> None:
        from llama_cpp._logger import llama_log_callback as quiet

        llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))


def first_difference(a: Sequence[int], b: Sequence[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def bench_model(model: str, rounds: int, threads: int) -> dict[str, Any]:
    sides = {False: Side(model, False, threads), True: Side(model, True, threads)}
    try:
        prompt = sides[False].tokens(long_prompt())
        gen_prompt = sides[False].tokens(short_prompt(TOPICS[0]))
        for side in sides.values():  # warm-up: first decodes allocate compute buffers
            side.read(prompt)
            side.greedy(gen_prompt, 8)
        read: dict[bool, list[float]] = {False: [], True: []}
        gen: dict[bool, list[float]] = {False: [], True: []}
        for r in range(rounds):
            for extra in (False, True) if r % 2 == 0 else (True, False):
                side = sides[extra]
                read[extra].append(len(prompt) / side.read(prompt))
                _, seconds = side.greedy(gen_prompt)
                gen[extra].append(GEN_TOKENS / seconds)
        identity = []
        for topic in TOPICS:
            tokens = sides[False].tokens(short_prompt(topic))
            off, _ = sides[False].greedy(tokens)
            on, _ = sides[True].greedy(tokens)
            identity.append({"topic": topic, "first_difference": first_difference(off, on)})
        return {
            "model": model,
            "prompt_tokens": len(prompt),
            "repacked_mib": sides[True].repacked_mib,
            "read_off": read[False],
            "read_on": read[True],
            "gen_off": gen[False],
            "gen_on": gen[True],
            "identity": identity,
        }
    finally:
        for side in sides.values():
            side.close()


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.0f}-{max(values):.0f})"


def _ratio(on: list[float], off: list[float]) -> str:
    """On/off of the medians, then of the best rounds (less hurt by other jobs' bursts)."""
    median = statistics.median(on) / statistics.median(off)
    return f"{median:.2f}x (best {max(on) / max(off):.2f}x)"


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| model | repacked weights | prompt read tok/s, off | on | on/off "
        "| generated tok/s, off | on | on/off | greedy 64 tokens identical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        firsts = [item["first_difference"] for item in res["identity"]]
        same = firsts.count(None)
        diffs = [str(first) for first in firsts if first is not None]
        where = f" (others first differ at token {', '.join(diffs)})" if diffs else ""
        rows.append(
            f"| {res['model']} | {res['repacked_mib']:.2f} MiB | {_fmt(res['read_off'])} "
            f"| {_fmt(res['read_on'])} | {_ratio(res['read_on'], res['read_off'])} "
            f"| {_fmt(res['gen_off'])} | {_fmt(res['gen_on'])} "
            f"| {_ratio(res['gen_on'], res['gen_off'])} "
            f"| {same} of {len(res['identity'])} prompts{where} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BUNDLED), choices=list(BUNDLED))
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="n_threads (default 2)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    command = "python evals/bench_repack.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    results = [bench_model(model, args.rounds, args.threads) for model in args.models]
    print(f"`{command.strip()}` (n_threads={args.threads}, {args.rounds} rounds per side, "
          "medians with min-max; on = extra buffer types on)\n")  # fmt: skip
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
