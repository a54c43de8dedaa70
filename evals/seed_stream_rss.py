"""Peak memory of reading a seeds file and scheduling its seed-samples, for two file sizes.

Usage:
    python evals/seed_stream_rss.py [--sizes 1000 100000] [--concurrency 4]

For each size it writes a seeds file of that many annotated seeds (about 290 bytes a line) to a
temporary folder and, in a fresh Python process, does what ``gra run`` does with it before and
around the model calls: the streaming validation pass (:meth:`SeedFile.scan`), then a
:class:`~gra_graph.runner.Runner` on scripted members whose per-sample work is replaced by an
instant rejection record, so every seed goes through the runner's annotation pass, pool pass,
lazy scheduling with bounded concurrency, the ``records.jsonl`` journal and the end-of-run pass
over it. It prints the process's peak resident set size (``ru_maxrss``) for each size. No model
is loaded and no graph runs (the graph's own per-sample memory does not depend on the file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import asyncio, resource, sys, time
from gra_graph.records import failed_record
from gra_graph.runner import Runner
from gra_graph.seeds import SeedFile
from tests.support.fakes import committee_config, fake_members

path, out, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])

class SchedulingOnly(Runner):
    async def _run_one(self, key, original, seed, pools):
        await asyncio.sleep(0)
        self._initial_state(key, seed, pools)  # the few-shot pick, as a real sample does
        return failed_record(self.run_id, key[0], key[1], seed.domain, "scheduling only")

async def main():
    started = time.perf_counter()
    seeds = SeedFile.scan(path)
    config = committee_config(dedup={"enabled": False})
    runner = SchedulingOnly(config, seeds, out, concurrency=concurrency,
                            members=fake_members(config))
    n = 0
    async with runner:
        async for _ in runner.records():
            n += 1
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{len(seeds)} {n} {peak_kib} {time.perf_counter() - started:.1f}")

asyncio.run(main())
"""

DOMAINS = ("coding", "math", "qa", "reasoning", "roleplay", "language", "creative_writing")


def write_seeds(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            seed = {
                "instruction": f"Task number {i}: explain the idea behind item {i} in two lines.",
                "response": f"Item {i} works because of a simple rule that applies to item {i}.",
                "domain": DOMAINS[i % len(DOMAINS)],
                "keywords": [f"item {i}", "simple rule", "two lines"],
                "summary": f"Explaining item {i} by the simple rule behind it.",
            }
            fh.write(json.dumps(seed) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    print("seeds  records  peak RSS (MiB)  file (MiB)  seconds")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            seeds = Path(tmp) / f"seeds-{n}.jsonl"
            write_seeds(seeds, n)
            out = Path(tmp) / f"run-{n}"
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(seeds), str(out), str(args.concurrency)],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            )
            count, records, peak_kib, seconds = result.stdout.split()
            size = seeds.stat().st_size / 2**20
            peak = int(peak_kib) / 1024
            print(f"{count:>6} {records:>8} {peak:>15.1f} {size:>11.1f} {seconds:>8}")


if __name__ == "__main__":
    main()
