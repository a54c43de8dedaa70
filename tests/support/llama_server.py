"""llama-cpp-python's own OpenAI-compatible server on loopback, for the served-member tests.

It runs ``python -m llama_cpp.server`` on a bundled GGUF file and a free port, in its own
process group so a test can kill it (and only it) mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gra_graph.llm.bundled import bundled_path


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """A running server: its base URL (``.../v1``) and process."""

    base_url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL the server's process group, as a crash would end it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@contextmanager
def llama_server(
    model: str, log: Path, timeout: float = 120.0, extra: Sequence[str] = ()
) -> Iterator[LlamaServer]:
    """Start the server on the bundled ``model`` (``extra``: more server options) and wait
    until it answers ``/v1/models``."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_path(model))]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as reply:
                    if json.load(reply).get("data"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield server
    finally:
        server.kill()
