"""How well the executable verifiers catch wrong answers, and how often they cry wolf.

Runs the coding and math verifiers (``gra_graph/nodes/verify.py``'s ``run_verifier``, the code
the graph runs) on the labelled pairs of those domains, with one real model as the member that
writes tests and solves. Reports, over the coding and math pairs:

- **catch rate**: of the ``wrong_answer`` pairs, the fraction the verifier fails (an
  inconclusive check counts as not caught); the same for every other defect kind;
- **false-alarm rate**: of the sound pairs, the fraction the verifier fails;
- **coverage**: the fraction of pairs where the verifier reached a verdict at all.

The verifier settings are the graph-file defaults (``Verifiers`` in ``gra_graph/config.py``);
nothing here is tuned to the pairs. The member samples at temperature 0.7 (the shipped graphs'
range) with a seed per call, so the ``solutions`` independent math answers differ as they would
from a committee's members, and a re-run gives the same figures.

Usage::

    python evals/bench_verifiers.py                          # qwen2.5-coder-0.5b, all pairs
    python evals/bench_verifiers.py --model qwen2.5-coder-1.5b --json out.json --markdown out.md
    python evals/bench_verifiers.py --limit 28               # the first 28 lines of the file
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gra_graph.bench.pairs import BenchPair, read_pairs  # noqa: E402
from gra_graph.config import GraphConfig  # noqa: E402
from gra_graph.context import GraContext  # noqa: E402
from gra_graph.llm.members import LazyMembers  # noqa: E402
from gra_graph.nodes.verify import run_verifier  # noqa: E402
from gra_graph.state import Verification  # noqa: E402

DOMAINS = ("coding", "math")
MEMBER = "verifier"


def bench_config(
    model: str, temperature: float, n_threads: int | None, solutions: int | None = None
) -> GraphConfig:
    """A graph whose member ``verifier`` runs ``model``; the other member only fills the
    Generator role the file format requires (the verifier is never the Generator)."""
    member = {"model": model, "n_ctx": 4096, "sampling": {"temperature": temperature, "seed": 7}}
    if n_threads:
        member["n_threads"] = n_threads
    return GraphConfig.model_validate(
        {
            "name": "bench-verifiers",
            "members": [
                {"name": MEMBER, "roles": ["reviewer"], **member},
                {"name": "generator", "roles": ["generator", "enricher"], **member},
            ],
            "committee_size": 1,
            "adjudication": False,
            "thresholds": {"min_valid_reviews": 1},
            "verifiers": {"enabled": True, **({"solutions": solutions} if solutions else {})},
            "engine": {"max_sequences": 8, "prefix_cache": 4},
            "base_dir": ROOT / "graphs",
        }
    )


async def verify_pairs(
    ctx: GraContext, pairs: list[BenchPair], concurrency: int
) -> list[tuple[BenchPair, Verification, float]]:
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(pair: BenchPair) -> tuple[BenchPair, Verification, float]:
        nonlocal done
        async with gate:
            started = time.perf_counter()
            p = pair.pair
            count = ctx.config.verifiers.solutions if p.domain == "math" else 1
            verification, _ = await run_verifier(
                ctx,
                [MEMBER] * count,
                p.domain,
                p.instruction,
                p.response,
                (pair.index, 0, "verify", 0),
            )
            done += 1
            print(
                f"  [{done}/{len(pairs)}] {p.domain:6} {p.label:9} {p.defect or '-':22} "
                f"{verification.outcome:12} {verification.reason[:70]}",
                file=sys.stderr,
                flush=True,
            )
            return pair, verification, time.perf_counter() - started

    return await asyncio.gather(*(one(p) for p in pairs))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summarize(results: list[tuple[BenchPair, Verification, float]]) -> dict[str, Any]:
    """Catch rates per defect kind, the false-alarm rate, coverage, per domain and overall."""
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for pair, verification, _ in results:
        kind = pair.pair.defect or "sound"
        for domain in (pair.pair.domain, "all"):
            groups[(domain, kind)][verification.outcome] += 1
    rows = []
    for (domain, kind), outcomes in sorted(groups.items()):
        total = sum(outcomes.values())
        rows.append(
            {
                "domain": domain,
                "kind": kind,
                "pairs": total,
                "failed": outcomes["failed"],
                "passed": outcomes["passed"],
                "inconclusive": outcomes["inconclusive"],
                # for a defect kind: caught; for sound pairs: false alarms
                "failed_rate": _rate(outcomes["failed"], total),
                "coverage": _rate(total - outcomes["inconclusive"], total),
            }
        )
    overall = {r["kind"]: r for r in rows if r["domain"] == "all"}
    wrong, sound = overall.get("wrong_answer", {}), overall.get("sound", {})
    return {
        "wrong_answer_catch_rate": wrong.get("failed_rate"),
        "wrong_answer_pairs": wrong.get("pairs", 0),
        "false_alarm_rate": sound.get("failed_rate"),
        "sound_pairs": sound.get("pairs", 0),
        "rows": rows,
    }


def per_pair(results: list[tuple[BenchPair, Verification, float]]) -> list[dict[str, Any]]:
    out = []
    for pair, verification, seconds in results:
        details = verification.details
        tests = details.get("tests") or []
        out.append(
            {
                "line": pair.line,
                "domain": pair.pair.domain,
                "label": pair.pair.label,
                "defect": pair.pair.defect,
                "instruction": pair.pair.instruction,
                "outcome": verification.outcome,
                "score": verification.score,
                "reason": verification.reason,
                "solver_answers": details.get("solver_answers"),
                "solver_answer": details.get("solver_answer"),
                "response_answer": details.get("response_answer"),
                "tests": [{k: t[k] for k in ("test", "source", "outcome")} for t in tests],
                "seconds": round(seconds, 2),
            }
        )
    return out


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"# Verifier bench: {report['model']} on {report['pairs_file']}",
        "",
        f"- wrong-answer catch rate: {s['wrong_answer_catch_rate']} "
        f"({s['wrong_answer_pairs']} pairs)",
        f"- false-alarm rate on sound pairs: {s['false_alarm_rate']} ({s['sound_pairs']} pairs)",
        "",
        "| domain | kind | pairs | failed | passed | inconclusive | failed rate | coverage |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in s["rows"]:
        lines.append(
            f"| {r['domain']} | {r['kind']} | {r['pairs']} | {r['failed']} | {r['passed']} | "
            f"{r['inconclusive']} | {r['failed_rate']} | {r['coverage']} |"
        )
    lines += [
        "",
        "| line | domain | label | defect | outcome | reason |",
        "|---|---|---|---|---|---|",
    ]
    for p in report["per_pair"]:
        reason = p["reason"].replace("|", "\\|").replace("\n", " ")[:120]
        lines.append(
            f"| {p['line']} | {p['domain']} | {p['label']} | {p['defect'] or ''} | "
            f"{p['outcome']} | {reason} |"
        )
    return "\n".join(lines) + "\n"


def print_table(summary: dict[str, Any]) -> None:
    print(f"{'domain':8} {'kind':24} {'pairs':>5} {'failed':>6} {'passed':>6} {'inconcl':>7}")
    for r in summary["rows"]:
        print(
            f"{r['domain']:8} {r['kind']:24} {r['pairs']:5} {r['failed']:6} {r['passed']:6} "
            f"{r['inconclusive']:7}"
        )
    print(
        f"\nwrong-answer catch rate: {summary['wrong_answer_catch_rate']} "
        f"(of {summary['wrong_answer_pairs']})   false-alarm rate: "
        f"{summary['false_alarm_rate']} (of {summary['sound_pairs']} sound)"
    )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default=str(ROOT / "evals" / "data" / "review_pairs.jsonl"))
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--solutions", type=int, default=None, help="math: override the default")
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--limit", type=int, default=None, help="first N lines of the file")
    parser.add_argument("--concurrency", type=int, default=3, help="pairs verified at once")
    parser.add_argument("--n-threads", type=int, default=None)
    parser.add_argument("--json", dest="json_out", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)

    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    pairs = [p for p in read_pairs(args.pairs, limit=args.limit) if p.pair.domain in domains]
    config = bench_config(args.model, args.temperature, args.n_threads, args.solutions)
    members = LazyMembers(config)
    ctx = GraContext.create(config, members, run_seed=0)
    print(f"verifying {len(pairs)} pairs with {args.model}", file=sys.stderr)
    started = time.perf_counter()
    try:
        results = await verify_pairs(ctx, pairs, args.concurrency)
    finally:
        members.close()
    summary = summarize(results)
    report = {
        "model": args.model,
        "temperature": args.temperature,
        "pairs_file": Path(args.pairs).name,
        "domains": list(domains),
        "verifiers": config.verifiers.model_dump(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "per_pair": per_pair(results),
    }
    print_table(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
