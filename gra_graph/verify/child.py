"""The sandbox's child process: confine itself, then run the untrusted code (and its tests).

Run by :mod:`gra_graph.verify.sandbox` as ``python -I -S -B child.py JOB`` in a fresh work
directory; never imported by the package. Standard library only. ``JOB`` is a JSON file the
parent wrote into the work directory; it is read and deleted before any untrusted code runs.

Order matters: resource limits first, then the kernel layers (:mod:`confine`), then the audit
hook, and only then the untrusted code. Everything this file reports goes, one JSON object per
line, to a pipe the parent passed (``report_fd``), apart from the code's own stdout and stderr:

- ``{"event": "ready", "layers": [...], "missing": {layer: why}}`` once confined;
- ``{"event": "load", "ok": bool, "kind": ..., "error": ...}`` after running the code;
- ``{"event": "test", "index": i, "outcome": "passed" | "failed" | "error" | "invalid" |
  "timeout", "kind": ..., "error": ...}`` per test (``tests`` mode).

Untrusted code runs in this same process, so it could write to the report pipe too: the
sandbox guarantees containment, not the honesty of a report (docs/verifiers.md).

Exit status: 0 when the job ran to its end (whatever the tests said), 1 when a ``script``
raised, 3 for an unusable job, 4 when ``strict`` and a requested layer could not be applied.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import traceback

_MAX_ERROR_CHARS = 300


class TestTimeout(BaseException):
    """One test ran past its time limit (a BaseException, so ``except Exception`` in the code
    under test does not swallow it)."""


def _report_to(fd: int):
    def report(**event: object) -> None:
        data = (json.dumps(event) + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(fd, data) :]

    return report


def _set_limits(limits: dict[str, int]) -> None:
    mib = 1024 * 1024
    for name, value in (
        ("RLIMIT_CPU", (limits["cpu_s"], limits["cpu_s"] + 1)),
        ("RLIMIT_AS", (limits["memory_mb"] * mib,) * 2),
        ("RLIMIT_FSIZE", (limits["file_mb"] * mib,) * 2),
        ("RLIMIT_NOFILE", (limits["open_files"],) * 2),
        ("RLIMIT_NPROC", (limits["processes"],) * 2),
        ("RLIMIT_CORE", (0, 0)),
    ):
        resource.setrlimit(getattr(resource, name), value)


def _confine(job: dict) -> tuple[list[str], dict[str, str]]:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import confine  # a sibling file, found by path: -I leaves it off sys.path

    del sys.path[0]
    workdir, roots = job["workdir"], job["read_roots"]
    active, missing = [], {}
    if "namespaces" in job["layers"]:
        active.append("namespaces")  # set up by the parent's unshare before this process began
    appliers = {
        "landlock": lambda: confine.apply_landlock(workdir, roots),
        "seccomp": confine.apply_seccomp,
        "audit_hook": lambda: confine.install_audit_hook(workdir, roots),
    }
    for layer in ("landlock", "seccomp", "audit_hook"):  # the hook last: it refuses ctypes
        if layer not in job["layers"]:
            continue
        try:
            why = appliers[layer]()
        except Exception as exc:  # a layer that cannot apply is reported, never half-applied
            why = f"{type(exc).__name__}: {exc}"
        if why is None:
            active.append(layer)
        else:
            missing[layer] = why
    return active, missing


def _error(exc: BaseException) -> dict[str, str]:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return {"kind": type(exc).__name__, "error": text[:_MAX_ERROR_CHARS]}


def _on_alarm(_signum: int, _frame: object) -> None:
    raise TestTimeout


def _run_tests(job: dict, report) -> None:
    namespace: dict[str, object] = {"__name__": "solution"}
    try:
        exec(compile(job["code"], "<solution>", "exec"), namespace)
    except BaseException as exc:  # the code itself fails: nothing can pass
        report(event="load", ok=False, **_error(exc))
        return
    report(event="load", ok=True)
    signal.signal(signal.SIGALRM, _on_alarm)
    for index, test in enumerate(job["tests"]):
        try:
            compiled = compile(test, f"<test {index}>", "exec")
        except (SyntaxError, ValueError) as exc:
            report(event="test", index=index, outcome="invalid", **_error(exc))
            continue
        signal.setitimer(signal.ITIMER_REAL, job["test_timeout_s"])
        try:
            exec(compiled, dict(namespace))  # each test on its own copy
            outcome, detail = "passed", {}
        except AssertionError as exc:
            outcome, detail = "failed", _error(exc)
        except TestTimeout:
            outcome, detail = "timeout", {"kind": "TestTimeout", "error": "test timed out"}
        except BaseException as exc:
            outcome, detail = "error", _error(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        report(event="test", index=index, outcome=outcome, **detail)


def main() -> int:
    try:
        path = sys.argv[1]
        with open(path, encoding="utf-8") as handle:
            job = json.load(handle)
        os.unlink(path)
        report = _report_to(int(job["report_fd"]))
        os.chdir(job["workdir"])
        _set_limits(job["limits"])
    except Exception as exc:
        print(f"sandbox child: unusable job: {exc}", file=sys.stderr)
        return 3
    layers, missing = _confine(job)
    report(event="ready", layers=layers, missing=missing, strict=bool(job.get("strict")))
    if missing and job.get("strict"):
        return 4
    if job["mode"] == "tests":
        _run_tests(job, report)
        return 0
    try:
        exec(compile(job["code"], "<program>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _init(report) -> int:
    """Be the PID namespace's init: run the job in a child process and report how it ended.

    The kernel shields a namespace's init from signals it has no handler for (SIGXCPU,
    SIGXFSZ, a SIGKILL the code sends itself), so the job must not run as PID 1.
    """
    worker = os.fork()
    if worker == 0:
        return main()
    while True:
        pid, status = os.wait()
        if pid == worker:
            break
    if os.WIFSIGNALED(status):
        report(event="end", signal=os.WTERMSIG(status))
        return 128 + os.WTERMSIG(status)
    report(event="end", status=os.WEXITSTATUS(status))
    return os.WEXITSTATUS(status)


def _entry() -> int:
    if os.getpid() != 1:
        return main()
    try:
        with open(sys.argv[1], encoding="utf-8") as handle:
            report = _report_to(int(json.load(handle)["report_fd"]))
    except Exception as exc:
        print(f"sandbox child: unusable job: {exc}", file=sys.stderr)
        return 3
    return _init(report)


if __name__ == "__main__":
    status = _entry()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the code may have closed or replaced it
            stream.flush()
    os._exit(status & 0xFF)  # no atexit handlers or thread joins of the code under test
