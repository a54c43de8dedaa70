"""Report on finished runs: outcomes, reviewer behaviour and speed, from their records.

Usage:
    python evals/report.py runs/demo [runs/other ...]

Per run it prints the decision counts, the rejection reasons, each member's abstention rate and
mean composite score as a reviewer, each member's failed call attempts by fault kind, the mean
absolute disagreement between reviewers of the same response, and the generated tokens per
second and seconds per seed-sample from ``summary.json``. Everything is read from the run
directory; no model is loaded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path


def load_records(run: Path) -> list[dict]:
    with (run / "records.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def composite(review: dict) -> float | None:
    scores = review.get("scores") or {}
    return statistics.fmean(scores.values()) if scores and not review["abstained"] else None


FAULT_KINDS = ("exception", "timeout", "empty", "invalid_json", "schema")


def fault_lines(records: list[dict]) -> list[str]:
    """A table of failed call attempts per member and fault kind (from each call's ``faults``)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    calls: Counter[str] = Counter()
    for r in records:
        for call in r["calls"]:
            calls[call["member"]] += 1
            counts[call["member"]].update(call.get("faults", []))
    header = "member           calls  " + "  ".join(f"{k:>12}" for k in FAULT_KINDS)
    lines = ["failed call attempts by kind:", header]
    for member in sorted(calls):
        row = "  ".join(f"{counts[member][k]:>12}" for k in FAULT_KINDS)
        lines.append(f"{member:<16} {calls[member]:>6}  {row}")
    return lines


def report(run: Path) -> str:
    records = load_records(run)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    status = Counter(r["status"] for r in records)
    reasons = Counter(r["reason"].split(":", 1)[0] for r in records if r["status"] == "rejected")
    per_member: dict[str, list[float | None]] = defaultdict(list)
    checks_abstained: Counter[str] = Counter()
    checks_total: Counter[str] = Counter()
    disagreements = []
    for r in records:
        for c in r["checks"]:
            checks_total[c["reviewer"]] += 1
            checks_abstained[c["reviewer"]] += c["abstained"]
        by_round: dict[int, list[float]] = defaultdict(list)
        for review in r["reviews"]:
            value = composite(review)
            per_member[review["reviewer"]].append(value)
            if value is not None:
                by_round[review["round"]].append(value)
        for values in by_round.values():
            disagreements += [abs(a - b) for a, b in itertools.combinations(values, 2)]
    lines = [
        f"== {run}",
        f"seed-samples: {len(records)}  "
        + "  ".join(f"{k}: {v}" for k, v in sorted(status.items())),
    ]
    lines += [f"  rejected, {k}: {v}" for k, v in reasons.most_common()]
    lines.append(
        f"adjudicated: {sum(r['adjudication'] is not None for r in records)}  "
        f"revised: {sum(bool(r['revisions']) for r in records)}  "
        f"kept after dedup: {summary['kept_after_dedup']}"
    )
    lines.append("member           checks  abst.  reviews  abst.  mean score")
    for member in sorted(set(checks_total) | set(per_member)):
        values = per_member.get(member, [])
        usable = [v for v in values if v is not None]
        mean = f"{statistics.fmean(usable):.2f}" if usable else "-"
        lines.append(
            f"{member:<16} {checks_total[member]:>6} {checks_abstained[member]:>6} "
            f"{len(values):>8} {len(values) - len(usable):>6}  {mean:>10}"
        )
    lines += fault_lines(records)
    if disagreements:
        lines.append(
            f"mean |score difference| between two reviewers of one response: "
            f"{statistics.fmean(disagreements):.2f} over {len(disagreements)} pairs"
        )
    lines.append(
        f"generated tokens: {summary['completion_tokens']}  wall s: "
        f"{summary['wall_seconds']}  tokens/s: {summary['generated_tokens_per_second']}"
        f"  s/seed-sample: {summary['seconds_per_seed_sample']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    for run in parser.parse_args().runs:
        print(report(run))


if __name__ == "__main__":
    main()
