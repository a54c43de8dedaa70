"""How large ``checkpoints.sqlite`` grows, with and without ``checkpoints.prune_finished``.

Runs the same seeds twice through the runner on scripted members (no model, seconds per run)
whose replies are as long as a real member's can be (each text fills its stage's token budget
of ``graphs/gra.yaml`` at about 4 characters per token, review feedback fills its schema's
length limit) and whose reviewers all pass, so every sample goes the longest common way:
generate, check, score, enrich. That is more steps and larger states than the bundled models'
typical sample (rejected at the instruction check), so the figures are an upper estimate.

For each run it samples the sizes of the database file and its WAL after every record and
reports their peaks during the run, the size at the end (after compaction when pruning), and
the database file's bytes per seed-sample, scaled to 1,000 seed-samples (the WAL is capped by
SQLite's auto-checkpoint at about 4 MB either way). ``--real RUN_DIR`` adds the same per-seed-sample
figure for a real run made with ``prune_finished: false`` (to check the scripted payload is
representative).

Example::

    python evals/checkpoint_size.py --seeds 50 --samples-per-seed 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gra_graph.checkpoints import database_bytes  # noqa: E402
from gra_graph.config import GraphConfig  # noqa: E402
from gra_graph.runner import Runner, RunObserver  # noqa: E402
from gra_graph.state import SCORE_DIMENSIONS, Record, Seed  # noqa: E402
from tests.support.fakes import fake_members  # noqa: E402

CHARS_PER_TOKEN = 4


def filler(n_chars: int, salt: int) -> str:
    """Distinct text of ``n_chars`` characters (no two calls alike, as real outputs)."""
    words = " ".join(f"w{salt}x{i}" for i in range(n_chars // 4 + 1))
    return words[:n_chars]


def replies(config: GraphConfig) -> dict[str, dict[str, Any]]:
    """Per-member scripted replies sized to the graph's budgets."""
    budgets = config.budgets
    counter = iter(range(10**9))

    def text(title: str, prompt: str) -> str:
        n = next(counter)
        if prompt.startswith("Write one new task"):
            return filler(budgets.write_instruction * CHARS_PER_TOKEN, n)
        return filler(budgets.write_response * CHARS_PER_TOKEN, n)

    def scores(title: str, prompt: str) -> str:
        n = next(counter)
        return json.dumps(
            {
                **dict.fromkeys(SCORE_DIMENSIONS, 9),
                "strengths": filler(200, n),
                "weaknesses": filler(200, n + 1),
            }
        )

    def check(title: str, prompt: str) -> str:
        return json.dumps(
            {
                "rationality": "pass",
                "completeness": "pass",
                "clarity": "pass",
                "reason": filler(150, next(counter)),
            }
        )

    def metadata(title: str, prompt: str) -> str:
        n = next(counter)
        return json.dumps(
            {
                "keywords": [filler(30, n), filler(30, n + 1), filler(30, n + 2)],
                "summary": filler(300, n),
            }
        )

    script = {
        "text": text,
        "ScoreOutput": scores,
        "InstructionCheckOutput": check,
        "Metadata": metadata,
    }
    return {m.name: script for m in config.members}


class SizeProbe(RunObserver):
    """Samples the database and WAL sizes after every record."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.peak = self.peak_main = self.peak_wal = 0

    def on_record(self, record: Record, resumed: bool) -> None:
        self.peak = max(self.peak, database_bytes(self.db))
        self.peak_main = max(self.peak_main, _size(self.db))
        self.peak_wal = max(self.peak_wal, _size(self.db.with_name(self.db.name + "-wal")))


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def seeds(n: int) -> list[Seed]:
    domains = ["coding", "math", "qa", "reasoning", "roleplay", "language", "creative_writing"]
    return [
        Seed(
            instruction=filler(300, i),
            response=filler(600, i + 1),
            domain=domains[i % 7],
            keywords=[filler(20, i), filler(20, i + 1), filler(20, i + 2)],
            summary=filler(200, i),
        )
        for i in range(n)
    ]


async def measure(prune: bool, n_seeds: int, samples: int, concurrency: int, work: Path):
    raw = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml").model_dump()
    raw["checkpoints"] = {"prune_finished": prune}
    raw["dedup"] = {**raw["dedup"], "embedder": "ngram"}
    config = GraphConfig.model_validate({**raw, "base_dir": ROOT / "graphs"})
    out = work / ("pruned" if prune else "kept")
    probe = SizeProbe(out / "checkpoints.sqlite")
    runner = Runner(
        config,
        seeds(n_seeds),
        out,
        samples_per_seed=samples,
        concurrency=concurrency,
        members=fake_members(config, replies(config)),
        observer=probe,
    )
    async with runner:
        async for _ in runner.records():
            pass
    total = n_seeds * samples
    final = runner.summary.checkpoint_db_bytes
    return {
        "prune_finished": prune,
        "seed_samples": total,
        "peak_bytes_during_run": probe.peak,
        "peak_database_file_bytes": probe.peak_main,
        "peak_wal_file_bytes": probe.peak_wal,
        "bytes_at_end": final,
        # the WAL is capped by SQLite's auto-checkpoint (1000 pages), the database file is not
        "database_file_bytes_per_seed_sample": round(probe.peak_main / total),
        "database_file_bytes_per_1000_seed_samples": round(probe.peak_main / total * 1000),
        "records_bytes_per_seed_sample": round((out / "records.jsonl").stat().st_size / total),
    }


def real_figure(run_dir: Path) -> dict[str, Any]:
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    done = sum(1 for _ in (run_dir / "records.jsonl").open(encoding="utf-8"))
    size = database_bytes(run_dir / "checkpoints.sqlite")
    return {
        "run": run_dir.name,
        "graph": run.get("graph"),
        "seed_samples": done,
        "bytes": size,
        "bytes_per_seed_sample": round(size / max(done, 1)),
        "records_bytes_per_seed_sample": round(
            (run_dir / "records.jsonl").stat().st_size / max(done, 1)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="scripted seeds (default 50)")
    parser.add_argument("--samples-per-seed", type=int, default=4, help="(default 4)")
    parser.add_argument("--concurrency", type=int, default=4, help="(default 4)")
    parser.add_argument(
        "--real",
        type=Path,
        nargs="*",
        default=[],
        help="real run directories made with prune_finished: false",
    )
    parser.add_argument("--real-only", action="store_true", help="only report --real runs")
    args = parser.parse_args(argv)
    results = []
    if not args.real_only:
        with tempfile.TemporaryDirectory(prefix="gra-ckpt-") as tmp:
            results = [
                asyncio.run(
                    measure(prune, args.seeds, args.samples_per_seed, args.concurrency, Path(tmp))
                )
                for prune in (False, True)
            ]
    report = {"scripted": results, "real": [real_figure(d) for d in args.real]}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
