"""How well the executable verifiers catch wrong answers, and how often they cry wolf.

Runs the coding and math verifiers (``gra_graph/nodes/verify.py``'s ``run_verifier``, the code
the graph runs) on the labelled pairs of those domains, with one real model as the member that
writes tests, test databases (SQL answers) and solutions. Reports, over the coding and math pairs:

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
    python evals/bench_verifiers.py --solver-check evals/data/solve_dev.jsonl  # solutions only
    python evals/bench_verifiers.py --solver-check evals/data/complexity_dev.jsonl

Resumable: each pair's verification is appended to a cache file (``--cache``, by default next
to ``--json``), keyed by the pair, the model and its sampling, the verifier settings and the
prompts; the same command again verifies only the pairs not yet there.

``--solver-check`` runs only the independent answers on lines of ``instruction`` and ``answer``
and counts how often their consensus is right, wrong or missing: math solutions
(``evals/data/solve_dev.jsonl``: questions outside the labelled pairs, on which the solve
prompt was chosen) or, on lines marked ``"kind": "complexity"``, Big-O answers
(``evals/data/complexity_dev.jsonl``, likewise outside the labelled pairs).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
from gra_graph.nodes.calls import ask_stage  # noqa: E402
from gra_graph.nodes.verify import run_verifier, verifier_calls  # noqa: E402
from gra_graph.stages import Stage  # noqa: E402
from gra_graph.state import Verification  # noqa: E402
from gra_graph.verify.answers import consensus, same_answer  # noqa: E402
from gra_graph.verify.checks import ComplexityPlan, SqlPlan, plan_coding  # noqa: E402
from gra_graph.verify.complexity import complexity_consensus, growths, same_classes  # noqa: E402

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


def cache_key(config: GraphConfig, pair: BenchPair) -> str:
    """What a pair's verification depends on: the pair, the member's model and sampling, the
    verifier settings and the prompt files (the SQL one only for an SQL answer and the
    complexity one only for a complexity answer, so the keys of the other pairs are those of the
    benches before those answers were checked)."""
    member = config.member(MEMBER)
    stages = [Stage.WRITE_TESTS, Stage.SOLVE]
    if pair.pair.domain == "coding":
        plan = plan_coding(pair.pair.instruction, pair.pair.response)
        if isinstance(plan, SqlPlan):
            stages.append(Stage.WRITE_SQL_CHECK)
        if isinstance(plan, ComplexityPlan):
            stages.append(Stage.SOLVE_COMPLEXITY)
    prompts = "".join(config.prompt_path(stage).read_text(encoding="utf-8") for stage in stages)
    text = json.dumps(
        [
            pair.id,
            member.model,
            member.sampling.model_dump(),
            config.verifiers.model_dump(),
            prompts,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def read_cache(path: Path | None) -> dict[str, dict[str, Any]]:
    """Verifications already made (one JSON line each), by :func:`cache_key`."""
    if path is None or not path.is_file():
        return {}
    cached = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        cached[row["key"]] = row
    return cached


async def verify_pairs(
    ctx: GraContext, pairs: list[BenchPair], concurrency: int, cache: Path | None = None
) -> list[tuple[BenchPair, Verification, float]]:
    gate = asyncio.Semaphore(concurrency)
    done = 0
    cached = read_cache(cache)

    async def one(pair: BenchPair) -> tuple[BenchPair, Verification, float]:
        nonlocal done
        key = cache_key(ctx.config, pair)
        if key in cached:
            done += 1
            row = cached[key]
            return pair, Verification.model_validate(row["verification"]), row["seconds"]
        async with gate:
            started = time.perf_counter()
            p = pair.pair
            count = verifier_calls(p.domain, p.instruction, p.response, ctx.config.verifiers)
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
            seconds = time.perf_counter() - started
            if cache is not None:  # one line per pair, so a killed bench loses one pair
                row = {"key": key, "verification": verification.model_dump(), "seconds": seconds}
                with cache.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            return pair, verification, seconds

    return await asyncio.gather(*(one(p) for p in pairs))


async def solver_check(ctx: GraContext, path: Path) -> dict[str, Any]:
    """The independent answers alone on (instruction, answer) lines: how often their consensus
    is the right answer, a wrong one, or none. A line with ``"kind": "complexity"`` asks the
    complexity answer (``solve_complexity``), any other the math solution (``solve``)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    count = ctx.config.verifiers.solutions
    results = []
    for index, row in enumerate(rows):
        complexity = row.get("kind") == "complexity"
        stage = Stage.SOLVE_COMPLEXITY if complexity else Stage.SOLVE
        outs = await asyncio.gather(
            *(
                ask_stage(
                    ctx,
                    MEMBER,
                    stage,
                    {
                        "domain": "coding" if complexity else "math",
                        "instruction": row["instruction"],
                    },
                    (index, 0, "verify", 0, "solution", i),
                )
                for i in range(count)
            )
        )
        answers = [o.value.answer if o.value is not None else None for o in outs]  # type: ignore[attr-defined]
        truth = row["answer"]
        if complexity:
            agreed = complexity_consensus(answers)
            found = agreed.answer
            right = found is not None and same_classes(growths(truth), agreed.classes)
        else:
            found = consensus(answers).answer
            right = found is not None and same_answer(truth, found)
        verdict = "none" if found is None else "right" if right else "wrong"
        results.append({**row, "answers": answers, "consensus": found, "verdict": verdict})
        print(f"  {verdict:5} {row['instruction'][:50]:50} {answers}", file=sys.stderr, flush=True)
    tally = Counter(r["verdict"] for r in results)
    return {
        "questions": len(results),
        **{k: tally[k] for k in ("right", "wrong", "none")},
        "rows": results,
    }


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


def cache_path(args: argparse.Namespace) -> Path | None:
    if args.cache:
        return Path(args.cache)
    out = args.json_out or args.markdown
    return Path(out).with_suffix(".cache.jsonl") if out else None


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default=str(ROOT / "evals" / "data" / "review_pairs.jsonl"))
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument(
        "--solutions",
        type=int,
        default=None,
        help="independent answers per check (default: the graph default)",
    )
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--limit", type=int, default=None, help="first N lines of the file")
    parser.add_argument("--concurrency", type=int, default=3, help="pairs verified at once")
    parser.add_argument("--n-threads", type=int, default=None)
    parser.add_argument(
        "--solver-check",
        default=None,
        metavar="FILE",
        help="only the independent answers (math, or complexity on lines with kind), on JSONL "
        "lines of instruction and answer",
    )
    parser.add_argument(
        "--cache",
        default=None,
        metavar="FILE",
        help="verifications kept one per line; a re-run skips the pairs already there "
        "(default: next to --json or --markdown, as NAME.cache.jsonl)",
    )
    parser.add_argument("--json", dest="json_out", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)

    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    config = bench_config(args.model, args.temperature, args.n_threads, args.solutions)
    members = LazyMembers(config)
    ctx = GraContext.create(config, members, run_seed=0)
    if args.solver_check:
        try:
            checked = await solver_check(ctx, Path(args.solver_check))
        finally:
            members.close()
        checked |= {"model": args.model, "temperature": args.temperature}
        print({k: v for k, v in checked.items() if k != "rows"})
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(checked, indent=2, ensure_ascii=False))
        return 0
    pairs = [p for p in read_pairs(args.pairs, limit=args.limit) if p.pair.domain in domains]
    print(f"verifying {len(pairs)} pairs with {args.model}", file=sys.stderr)
    started = time.perf_counter()
    try:
        results = await verify_pairs(ctx, pairs, args.concurrency, cache_path(args))
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
