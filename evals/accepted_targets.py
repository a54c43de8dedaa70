"""Issue targets for accepted data: run graphs on the example seeds and report what they keep.

Usage:
    python evals/accepted_targets.py graphs/gra_qwen.yaml graphs/gra.yaml \
        --seeds examples/seeds.jsonl --samples-per-seed 2 --out runs/targets \
        [--markdown FILE] [--show 5]

Each graph runs through ``gra run`` (so this measures exactly what a user runs; a run directory
that already exists resumes or, when finished, is only read). Per graph it reports:

- the seed-samples and how many were accepted (the committee's verdict) and kept (in
  ``accepted.jsonl``, after the near-duplicate filter);
- the instruction-check pass rate: of the seed-samples whose instruction reached the
  reviewers, the fraction that passed the committee's instruction check;
- why the others were rejected (the reason's first clause), adjudications, and the seconds and
  generated tokens per seed-sample (not a speed benchmark: other work may share the machine);
- the first ``--show`` kept rows, unedited.

The figures of the README's "Accepted data" section come from this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from gra_graph.config import Judging, Thresholds
from gra_graph.decision import instruction_check_outcome
from gra_graph.export import reason_kind
from gra_graph.rundirs import RunDir
from gra_graph.state import InstructionCheck

CHECK_RULES = ("any_fail", "majority", "mean_probability")


def check_pass_by_rule(records: list[dict]) -> dict[str, int]:
    """How many of the checked instructions each check rule passes, read from the same calls
    (each check records its verdicts and its P(pass) per criterion), with the paper's
    ``min_valid_reviews`` of 2."""
    passed = dict.fromkeys(CHECK_RULES, 0)
    thresholds = Thresholds()
    for record in records:
        checks = [InstructionCheck.model_validate(c) for c in record["checks"]]
        for rule in CHECK_RULES:
            if instruction_check_outcome(checks, thresholds, Judging(check_rule=rule)) is None:
                passed[rule] += 1
    return passed


def verifier_outcomes(records: list[dict]) -> dict[str, int]:
    """Verifications by outcome (passed, failed, inconclusive), and how many vetoed."""
    counts: Counter[str] = Counter()
    for record in records:
        for v in record.get("verifications") or []:
            counts[str(v.get("outcome"))] += 1
            counts["vetoed"] += bool(v.get("vetoed"))
    return dict(counts)


def run_graph(graph: Path, seeds: Path, out: Path, samples: int, seed: int) -> None:
    """Run (or resume) one graph through the CLI, as a user would."""
    command = [
        sys.executable,
        "-m",
        "gra_graph.cli",
        "run",
        str(graph),
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--samples-per-seed",
        str(samples),
        "--seed",
        str(seed),
        "--quiet",
    ]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=False)


def figures(out: Path) -> dict[str, object]:
    """What one finished run directory adds up to."""
    run = RunDir(out)
    records = list(run.journal_rows(run.records_path))
    kept = list(run.journal_rows(run.accepted_path)) if run.accepted_path.exists() else []
    reviewed = [r for r in records if r.get("checks")]
    passed = [r for r in reviewed if not reason_kind(r["reason"]).startswith("instruction check")]
    accepted = [r for r in records if r["status"] == "accepted"]
    n = len(records) or 1
    return {
        "seed_samples": len(records),
        "accepted": len(accepted),
        "kept": len(kept),
        "kept_rate": round(len(kept) / n, 3),
        "check_pass_rate": round(len(passed) / len(reviewed), 3) if reviewed else None,
        "checked": len(reviewed),
        "check_pass_by_rule": check_pass_by_rule(reviewed),
        "verifications": verifier_outcomes(records),
        "adjudicated": sum(1 for r in records if r.get("adjudication")),
        "rejections": dict(
            Counter(reason_kind(r["reason"]) for r in records if r["status"] == "rejected")
        ),
        "seconds_per_sample": round(sum(r["seconds"] for r in records) / n, 1),
        "tokens_per_sample": round(sum(r["completion_tokens"] for r in records) / n, 1),
        "rows": kept,
    }


def markdown(results: dict[str, dict[str, object]], show: int) -> str:
    lines = [
        "| graph | seed-samples | accepted | kept | kept rate | instruction check pass "
        "| adjudicated | s / seed-sample |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in results.items():
        check = f["check_pass_rate"]
        check_text = "n/a" if check is None else f"{check:.0%} of {f['checked']}"
        lines.append(
            f"| {name} | {f['seed_samples']} | {f['accepted']} | {f['kept']} "
            f"| {f['kept_rate']:.0%} | {check_text} | {f['adjudicated']} "
            f"| {f['seconds_per_sample']} |"
        )
    lines.append("")
    for name, f in results.items():
        lines.append(
            f"Rejections of {name}: "
            + ", ".join(
                f"{kind} {count}"
                for kind, count in sorted(f["rejections"].items())  # type: ignore[union-attr]
            )
        )
    for name, f in results.items():
        rules = f["check_pass_by_rule"]
        lines.append(
            f"Instruction checks of {name} passed under each rule (same calls, of "
            f"{f['checked']}): " + ", ".join(f"{k} {v}" for k, v in rules.items())  # type: ignore[union-attr]
        )
        lines.append(f"Verifications of {name}: {f['verifications'] or 'none'}")
    for name, f in results.items():
        rows = f["rows"][:show]  # type: ignore[index]
        if rows:
            lines += ["", f"First {len(rows)} kept rows of {name}, unedited:", "", "```jsonl"]
            lines += [json.dumps(row, ensure_ascii=False) for row in rows]
            lines.append("```")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graphs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=Path, default=Path("examples/seeds.jsonl"))
    parser.add_argument("--samples-per-seed", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="run seed (default: 0)")
    parser.add_argument("--out", type=Path, default=Path("runs/targets"))
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--show", type=int, default=5, help="kept rows to print per graph")
    args = parser.parse_args()
    results = {}
    for graph in args.graphs:
        out = args.out / graph.stem
        run_graph(graph, args.seeds, out, args.samples_per_seed, args.seed)
        results[graph.name] = figures(out)
    report = markdown(results, args.show)
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
