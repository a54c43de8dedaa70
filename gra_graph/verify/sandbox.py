"""Run untrusted Python in a confined subprocess and say what happened.

:func:`run_python` runs a program, or a solution and its tests, in a child process
(``child.py``) and returns a :class:`SandboxResult`: ``passed``, ``failed``, ``error``,
``timeout`` or ``killed``, with the captured output (capped). It blocks; async code calls it
through ``asyncio.to_thread``.

The child is confined in layers; ``SandboxResult.layers`` names the ones that held, and
``missing`` says why any requested one did not. What each guarantees:

- **process** (always): a fresh temporary directory as working directory, ``HOME`` and
  ``TMPDIR``, deleted afterwards; a minimal environment; ``python -I -S -B`` (no site-packages,
  no ``PYTHON*`` variables, no bytecode written); stdin from ``/dev/null``; its own session and
  process group; resource limits ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``,
  ``RLIMIT_NOFILE``, ``RLIMIT_NPROC`` and no core files; a wall-clock timeout after which the
  whole process group is killed; stdout and stderr read up to ``output_bytes`` each, the
  process group killed when it writes more. ``RLIMIT_NPROC`` counts every process of the user
  and does not bind root at all, which is why process creation is also refused by seccomp.
- **namespaces** (``unshare --user --map-root-user --net --pid --fork --kill-child``, where
  unprivileged user namespaces work): no network interface but a loopback that is down, so no
  connection of any kind leaves; an own PID namespace, so the child sees no other process and
  every process it starts dies with it, even one that left its process group.
- **landlock**, **seccomp**, **audit_hook**: see :mod:`gra_graph.verify.confine`. In short:
  writes only beneath the work directory and reads only beneath it and the Python installation
  and system libraries (Landlock); no new processes, no exec, no sockets, no signals to others
  (seccomp, x86_64); the same refusals with readable messages inside Python (audit hook).

Not covered: CPU cache or timing side channels; the kernel itself (a kernel exploit escapes
every layer); on a machine without Landlock, reads of world-readable files outside the work
directory are refused only by the audit hook, which native code could bypass. Results are
reported by the child process in which the code runs, so hostile code could forge its own
test results: the sandbox protects the machine, not the verdict, from adversarial code.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

CHILD_SCRIPT = Path(__file__).with_name("child.py")
JOB_FILE = ".gra-job.json"
MAX_REPORT_BYTES = 1 << 20
UNSHARE_ARGS = ("--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child")
SYSTEM_READ_ROOTS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")


class Outcome(StrEnum):
    """How a sandboxed run ended."""

    PASSED = "passed"  # exit 0; with tests: the code loaded and every test passed
    FAILED = "failed"  # the program raised or exited non-zero; with tests: not all passed
    ERROR = "error"  # the sandbox could not run the job (nothing is known about the code)
    TIMEOUT = "timeout"  # wall-clock limit reached; the process group was killed
    KILLED = "killed"  # ended by a signal (CPU or file-size limit) or for too much output


class Layer(StrEnum):
    """Confinement layers beyond the process layer (see the module docstring)."""

    NAMESPACES = "namespaces"
    LANDLOCK = "landlock"
    SECCOMP = "seccomp"
    AUDIT_HOOK = "audit_hook"


ALL_LAYERS: tuple[Layer, ...] = tuple(Layer)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    timeout_s: float = 10.0
    memory_mb: int = 512
    cpu_s: int | None = None  # default: the wall timeout, rounded up
    file_mb: int = 16
    open_files: int = 64
    processes: int = 32
    output_bytes: int = 64 * 1024
    test_timeout_s: float = 2.0

    def child_limits(self) -> dict[str, int]:
        """The rlimit values handed to the child."""
        cpu = self.cpu_s if self.cpu_s is not None else max(1, math.ceil(self.timeout_s))
        return {
            "cpu_s": cpu,
            "memory_mb": self.memory_mb,
            "file_mb": self.file_mb,
            "open_files": self.open_files,
            "processes": self.processes,
        }


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed run did. ``events`` are the child's reports (load, each test)."""

    outcome: Outcome
    reason: str
    returncode: int | None
    stdout: str
    stderr: str
    truncated: bool
    seconds: float
    layers: tuple[str, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)
    events: tuple[dict[str, Any], ...] = ()

    def tests(self) -> list[dict[str, Any]]:
        """The per-test reports, in test order."""
        return sorted(
            (e for e in self.events if e.get("event") == "test"), key=lambda e: e["index"]
        )

    def load(self) -> dict[str, Any] | None:
        """The report on running the solution before its tests, if it got that far."""
        return next((e for e in self.events if e.get("event") == "load"), None)


@cache
def namespaces_available() -> str | None:
    """``None`` when ``unshare`` can give a child its own user, network and PID namespaces
    here, else why not (checked once per process)."""
    unshare = shutil.which("unshare")
    if sys.platform != "linux" or unshare is None:
        return "no unshare program (util-linux) on PATH"
    try:
        probe = subprocess.run(
            [unshare, *UNSHARE_ARGS, "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if probe.returncode != 0:
        return f"unshare failed: {probe.stderr.decode(errors='replace').strip()[:200]}"
    return None


def read_roots() -> list[str]:
    """What sandboxed code may read besides its work directory: the Python installation and
    the system's shared libraries (a virtual environment's own site-packages is left out)."""
    roots = {sys.base_prefix, sys.base_exec_prefix, *SYSTEM_READ_ROOTS, *DEVICES}
    return sorted(r for r in roots if os.path.exists(r))


def _command(job_file: Path, namespaces: bool) -> list[str]:
    python = [sys.executable, "-I", "-S", "-B", "-X", "utf8", str(CHILD_SCRIPT), str(job_file)]
    if namespaces:
        return [shutil.which("unshare") or "unshare", *UNSHARE_ARGS, *python]
    return python


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class _Capture:
    """Bounded reads of the child's stdout, stderr and report pipe until EOF or a deadline."""

    def __init__(self, process: subprocess.Popen[bytes], report_fd: int, limit: int) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.limit = limit
        self.buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.report = bytearray()
        self.truncated = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(process.stdout, selectors.EVENT_READ, "stdout")
        self.selector.register(process.stderr, selectors.EVENT_READ, "stderr")
        self.selector.register(report_fd, selectors.EVENT_READ, "report")

    def pump(self, deadline: float) -> str | None:
        """Read until every pipe is closed (``None``), the deadline passes (``"timeout"``)
        or output goes over the cap (``"output"``)."""
        while self.selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            for key, _ in self.selector.select(timeout=min(left, 0.5)):
                fd = key.fd if isinstance(key.fileobj, int) else key.fileobj.fileno()
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.selector.unregister(key.fileobj)
                    continue
                if key.data == "report":
                    room = MAX_REPORT_BYTES - len(self.report)
                    self.report += chunk[:room]
                    continue
                buffer = self.buffers[key.data]
                room = self.limit - len(buffer)
                buffer += chunk[: max(room, 0)]
                if len(chunk) > room:
                    self.truncated = True
                    return "output"
        return None

    def close(self) -> None:
        self.selector.close()

    def text(self, name: str) -> str:
        return self.buffers[name].decode("utf-8", "replace")

    def events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.report.decode("utf-8", "replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events


def _signal_reason(signum: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    meaning = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "file size limit"}.get(name, "")
    return f"killed by {name}" + (f" ({meaning})" if meaning else "")


def run_python(
    code: str,
    *,
    tests: Sequence[str] | None = None,
    limits: Limits = Limits(),
    layers: Sequence[Layer] = ALL_LAYERS,
    strict: bool = False,
) -> SandboxResult:
    """Run ``code`` in the sandbox: as a program, or with ``tests`` (Python statements, usually
    asserts) run one by one after it, each on a copy of its namespace.

    With ``strict`` a requested layer that cannot be applied makes the run an ``error``
    instead of going on without it. Never raises for anything the code does.

    >>> run_python("print(6 * 7)").stdout  # doctest: +SKIP
    '42\\n'
    """
    started = time.monotonic()
    requested = [Layer(layer) for layer in layers]
    missing: dict[str, str] = {}
    if Layer.NAMESPACES in requested and (why := namespaces_available()) is not None:
        requested.remove(Layer.NAMESPACES)
        missing[Layer.NAMESPACES] = why
        if strict:
            return SandboxResult(Outcome.ERROR, why, None, "", "", False, 0.0, (), missing)
    workdir = tempfile.mkdtemp(prefix="gra-sandbox-")
    report_read, report_write = os.pipe()
    try:
        job = {
            "workdir": workdir,
            "read_roots": read_roots(),
            "layers": [str(layer) for layer in requested],
            "strict": strict,
            "limits": limits.child_limits(),
            "report_fd": report_write,
            "mode": "script" if tests is None else "tests",
            "code": code,
            "tests": list(tests or []),
            "test_timeout_s": limits.test_timeout_s,
        }
        job_file = Path(workdir) / JOB_FILE
        job_file.write_text(json.dumps(job), encoding="utf-8")
        try:
            process = subprocess.Popen(
                _command(job_file, Layer.NAMESPACES in requested),
                cwd=workdir,
                env=_environment(workdir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(report_write,),
                start_new_session=True,
            )
        except OSError as exc:
            why = f"cannot start the sandbox: {exc}"
            return SandboxResult(Outcome.ERROR, why, None, "", "", False, 0.0, (), missing)
        os.close(report_write)
        report_write = -1
        capture = _Capture(process, report_read, limits.output_bytes)
        try:
            stop, returncode = _supervise(process, capture, started + limits.timeout_s)
        finally:
            capture.close()
        seconds = round(time.monotonic() - started, 3)
        return _result(stop, returncode, capture, seconds, limits, missing, tests is not None)
    finally:
        for fd in (report_read, report_write):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)


def _exited(pid: int, deadline: float) -> bool:
    """Wait until ``pid`` has exited or ``deadline``, leaving it unreaped: while it is a
    zombie its process-group id cannot be reused, so killing the group is safe."""
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _supervise(
    process: subprocess.Popen[bytes], capture: _Capture, deadline: float
) -> tuple[str | None, int]:
    """Read the child's output until it ends or a limit stops it; then kill what is left of
    its process group and reap it. Returns (what stopped it, or None; its exit status)."""
    stop = capture.pump(deadline)
    if stop is None and not _exited(process.pid, deadline):
        stop = "timeout"
    _kill_group(process)  # leftovers of a finished child, or the child itself when stopped
    returncode = process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return stop, returncode


def _ending_signal(returncode: int, events: list[dict[str, Any]]) -> int | None:
    """The signal that ended the code: reported by the namespace's init, else the status."""
    end = next((e for e in events if e.get("event") == "end"), None)
    if end is not None:
        return end.get("signal")
    return -returncode if returncode < 0 else None


def _result(
    stop: str | None,
    returncode: int,
    capture: _Capture,
    seconds: float,
    limits: Limits,
    missing: dict[str, str],
    with_tests: bool,
) -> SandboxResult:
    events = capture.events()
    ready = next((e for e in events if e.get("event") == "ready"), None)
    refused = dict(ready.get("missing", {})) if ready else {}

    def result(outcome: Outcome, reason: str) -> SandboxResult:
        return SandboxResult(
            outcome,
            reason,
            returncode,
            capture.text("stdout"),
            capture.text("stderr"),
            capture.truncated,
            seconds,
            tuple(ready.get("layers", [])) if ready else (),
            {**missing, **refused},
            tuple(events),
        )

    if stop == "timeout":
        return result(Outcome.TIMEOUT, f"no end within {limits.timeout_s:g} s; killed")
    if stop == "output":
        return result(Outcome.KILLED, f"wrote more than {limits.output_bytes} bytes; killed")
    if ready is None:
        last = capture.text("stderr").strip().splitlines()[-1:] or [f"exit status {returncode}"]
        return result(Outcome.ERROR, f"the sandbox did not start: {last[0][:300]}")
    if refused and ready.get("strict"):
        return result(Outcome.ERROR, f"layer(s) not applied: {', '.join(refused)}")
    if (signum := _ending_signal(returncode, events)) is not None:
        return result(Outcome.KILLED, _signal_reason(signum))
    if not with_tests:
        if returncode == 0:
            return result(Outcome.PASSED, "exit status 0")
        return result(Outcome.FAILED, f"exit status {returncode}")
    load = next((e for e in events if e.get("event") == "load"), None)
    if load is None:
        return result(Outcome.ERROR, f"the child ended (status {returncode}) before the code ran")
    if not load.get("ok"):
        return result(Outcome.FAILED, f"the code does not run: {load.get('error', '')}")
    tests = [e for e in events if e.get("event") == "test"]
    passed = sum(e.get("outcome") == "passed" for e in tests)
    outcome = Outcome.PASSED if tests and passed == len(tests) else Outcome.FAILED
    return result(outcome, f"{passed} of {len(tests)} test(s) passed")
