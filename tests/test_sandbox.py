"""The sandbox contains hostile code: each attack with every layer on, and with each layer alone
that is meant to stop it, with a control run (no layer) showing that the attack is real.

These run real subprocesses under the real kernel layers (unshare, Landlock, seccomp); a layer
this machine cannot apply makes its test fail rather than skip, because the sandbox's
documentation promises it here (Linux x86_64 with user namespaces and Landlock).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from gra_graph.verify.sandbox import (
    ALL_LAYERS,
    Layer,
    Limits,
    Outcome,
    namespaces_available,
    run_python,
)

FAST = Limits(timeout_s=5.0)
NONE: tuple[Layer, ...] = ()


def test_every_layer_holds_on_this_machine() -> None:
    result = run_python("print('hi')", strict=True)
    assert result.outcome == Outcome.PASSED, result
    assert set(result.layers) == {str(layer) for layer in ALL_LAYERS}
    assert result.missing == {}
    assert result.stdout == "hi\n"


def test_a_program_that_raises_fails_with_its_traceback() -> None:
    result = run_python("raise ValueError('nope')")
    assert result.outcome == Outcome.FAILED
    assert "ValueError: nope" in result.stderr


def test_tests_mode_reports_each_test() -> None:
    result = run_python(
        "def double(x):\n    return 2 * x\n",
        tests=[
            "assert double(2) == 4",
            "assert double(3) == 7",
            "assert triple(1) == 3",
            "assert double(",
            "while True: pass",
        ],
        limits=Limits(timeout_s=10, test_timeout_s=0.5),
    )
    assert result.outcome == Outcome.FAILED
    assert [t["outcome"] for t in result.tests()] == [
        "passed",
        "failed",
        "error",
        "invalid",
        "timeout",
    ]
    assert result.tests()[2]["kind"] == "NameError"
    assert result.load() == {"event": "load", "ok": True}


def test_tests_mode_with_code_that_does_not_load() -> None:
    result = run_python("def f(:\n    pass", tests=["assert f() is None"])
    assert result.outcome == Outcome.FAILED
    assert result.load()["kind"] == "SyntaxError"
    assert result.tests() == []


# ---- fork bomb


FORK_BOMB = "import os\nwhile True:\n    os.fork()\n"


@pytest.mark.parametrize(
    "layers", [ALL_LAYERS, (Layer.SECCOMP,), (Layer.AUDIT_HOOK,)], ids=["all", "seccomp", "hook"]
)
def test_fork_bomb_is_refused_at_the_first_fork(layers: tuple[Layer, ...]) -> None:
    started = time.monotonic()
    result = run_python(FORK_BOMB, layers=layers, limits=FAST)
    assert result.outcome == Outcome.FAILED
    assert "not allowed" in result.stderr or "Operation not permitted" in result.stderr
    assert time.monotonic() - started < 3


def _sleepers(marker: Path, count: int, leave_group: bool) -> str:
    """Code that forks ``count`` children which, 1.5 s later, would create ``marker``."""
    escape = "os.setsid()\n        " if leave_group else ""
    return (
        "import os, time\n"
        f"for _ in range({count}):\n"
        "    if os.fork() == 0:\n"
        f"        {escape}time.sleep(1.5)\n"
        f"        open({str(marker)!r}, 'a').write('escaped\\n')\n"
        "        os._exit(0)\n"
        "time.sleep(30)\n"
    )


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """Without seccomp or namespaces (root is exempt from RLIMIT_NPROC), forked children are
    still killed with their parent when the wall timeout strikes."""
    marker = tmp_path / "escaped"
    result = run_python(_sleepers(marker, 20, False), layers=NONE, limits=Limits(timeout_s=1.0))
    assert result.outcome == Outcome.TIMEOUT
    time.sleep(2.0)
    assert not marker.exists()


def test_pid_namespace_kills_children_that_left_the_group(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    code = _sleepers(marker, 5, True).replace("time.sleep(30)", "pass")
    result = run_python(code, layers=(Layer.NAMESPACES,), limits=Limits(timeout_s=5.0))
    assert result.outcome == Outcome.PASSED  # the parent ends at once...
    time.sleep(2.0)
    assert not marker.exists()  # ...and takes its namespace's processes with it


def test_control_children_that_left_the_group_survive_without_namespaces(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    code = _sleepers(marker, 1, True).replace("time.sleep(30)", "pass")
    assert run_python(code, layers=NONE, limits=FAST).outcome == Outcome.PASSED
    time.sleep(2.5)
    assert marker.exists()  # the attack is real: only the PID namespace stops it


# ---- time, memory, files, output


def test_infinite_loop_times_out() -> None:
    started = time.monotonic()
    result = run_python("while True:\n    pass\n", limits=Limits(timeout_s=1.5))
    assert result.outcome == Outcome.TIMEOUT
    assert time.monotonic() - started < 4


def test_cpu_limit_kills_a_busy_loop_before_the_wall_timeout() -> None:
    result = run_python("while True:\n    pass\n", limits=Limits(timeout_s=20, cpu_s=1))
    assert result.outcome == Outcome.KILLED
    assert "CPU time limit" in result.reason or "SIGKILL" in result.reason
    assert result.seconds < 10


def test_memory_hog_gets_memory_error() -> None:
    result = run_python("x = bytearray(4 * 1024**3)\nprint(len(x))", limits=FAST)
    assert result.outcome == Outcome.FAILED
    assert "MemoryError" in result.stderr


def test_memory_limit_is_the_configured_one() -> None:
    code = "x = bytearray(300 * 1024 * 1024)\nprint('ok')"
    assert run_python(code, limits=Limits(memory_mb=1024)).outcome == Outcome.PASSED
    assert run_python(code, limits=Limits(memory_mb=256)).outcome == Outcome.FAILED


def test_growing_memory_hog_is_stopped() -> None:
    result = run_python("chunks = []\nwhile True:\n    chunks.append(b' ' * 10**6)\n", limits=FAST)
    assert result.outcome in (Outcome.FAILED, Outcome.KILLED)
    assert result.seconds < 5


def test_huge_output_is_capped_and_killed() -> None:
    result = run_python("while True:\n    print('x' * 1000)\n", limits=Limits(output_bytes=10_000))
    assert result.outcome == Outcome.KILLED
    assert result.truncated
    assert len(result.stdout) == 10_000


def test_file_size_limit() -> None:
    code = "with open('big', 'wb') as f:\n    f.write(b'x' * (3 * 1024 * 1024))\n"
    result = run_python(code, limits=Limits(file_mb=1))
    assert result.outcome in (Outcome.FAILED, Outcome.KILLED)
    assert "File too large" in result.stderr or "SIGXFSZ" in result.reason


def test_open_files_limit() -> None:
    code = "files = [open(f'f{i}', 'w') for i in range(200)]\n"
    result = run_python(code, limits=Limits(open_files=32))
    assert result.outcome == Outcome.FAILED
    assert "Too many open files" in result.stderr


def test_work_directory_is_fresh_home_and_cwd() -> None:
    code = (
        "import os\nopen('note', 'w').write('x')\n"
        "print(os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'], os.listdir('.'))"
    )
    first, second = run_python(code), run_python(code)
    assert first.stdout == second.stdout == "True ['note']\n"


# ---- writing and reading outside the work directory

WRITE_LAYERS = [ALL_LAYERS, (Layer.LANDLOCK,), (Layer.AUDIT_HOOK,)]


@pytest.mark.parametrize("layers", WRITE_LAYERS, ids=["all", "landlock", "hook"])
def test_writing_outside_the_work_directory_is_refused(
    tmp_path: Path, layers: tuple[Layer, ...]
) -> None:
    target = tmp_path / "outside.txt"
    code = f"open({str(target)!r}, 'w').write('pwned')"
    result = run_python(code, layers=layers)
    assert result.outcome == Outcome.FAILED
    assert not target.exists()


@pytest.mark.parametrize("layers", WRITE_LAYERS, ids=["all", "landlock", "hook"])
def test_deleting_outside_the_work_directory_is_refused(
    tmp_path: Path, layers: tuple[Layer, ...]
) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    result = run_python(f"import os\nos.remove({str(target)!r})", layers=layers)
    assert result.outcome == Outcome.FAILED
    assert target.read_text() == "precious"


def test_control_writing_outside_succeeds_without_layers(tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    run_python(f"open({str(target)!r}, 'w').write('pwned')", layers=NONE)
    assert target.read_text() == "pwned"


@pytest.mark.parametrize("layers", WRITE_LAYERS, ids=["all", "landlock", "hook"])
def test_reading_a_file_outside_is_refused(tmp_path: Path, layers: tuple[Layer, ...]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    result = run_python(f"print(open({str(secret)!r}).read())", layers=layers)
    assert result.outcome == Outcome.FAILED
    assert "s3cret" not in result.stdout + result.stderr


def test_control_reading_outside_succeeds_without_layers(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    assert run_python(f"print(open({str(secret)!r}).read())", layers=NONE).stdout == "s3cret\n"


def test_the_standard_library_still_imports() -> None:
    code = "import json, math, re, collections, itertools, functools, fractions, decimal\nprint(1)"
    assert run_python(code).outcome == Outcome.PASSED


# ---- network


@pytest.fixture
def listener():
    """A TCP server on localhost that counts the connections it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.5)

    def accepted() -> int:
        count = 0
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                return count
            conn.close()
            count += 1

    yield server.getsockname()[1], accepted
    server.close()


def _connect(port: int) -> str:
    return (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        f"s.connect(('127.0.0.1', {port}))\n"
        "print('connected')\n"
    )


@pytest.mark.parametrize(
    "layers",
    [ALL_LAYERS, (Layer.NAMESPACES,), (Layer.LANDLOCK,), (Layer.SECCOMP,), (Layer.AUDIT_HOOK,)],
    ids=["all", "namespaces", "landlock", "seccomp", "hook"],
)
def test_socket_connect_is_refused(listener, layers: tuple[Layer, ...]) -> None:
    port, accepted = listener
    result = run_python(_connect(port), layers=layers, limits=FAST)
    assert result.outcome == Outcome.FAILED
    assert "connected" not in result.stdout
    assert accepted() == 0


def test_control_socket_connect_works_without_layers(listener) -> None:
    port, accepted = listener
    result = run_python(_connect(port), layers=NONE, limits=FAST)
    assert result.stdout == "connected\n"
    assert accepted() == 1


# ---- other processes


@pytest.mark.parametrize(
    "layers", [ALL_LAYERS, (Layer.SECCOMP,), (Layer.AUDIT_HOOK,)], ids=["all", "seccomp", "hook"]
)
def test_starting_a_program_is_refused(layers: tuple[Layer, ...]) -> None:
    code = "import subprocess\nprint(subprocess.run(['echo', 'ran'], capture_output=True).stdout)"
    result = run_python(code, layers=layers)
    assert result.outcome == Outcome.FAILED
    assert "ran" not in result.stdout


@pytest.mark.parametrize(
    "layers", [ALL_LAYERS, (Layer.LANDLOCK,), (Layer.SECCOMP,)], ids=["all", "landlock", "seccomp"]
)
def test_signalling_the_parent_is_refused(layers: tuple[Layer, ...]) -> None:
    import os

    code = f"import os\nos.kill({os.getpid()}, 0)\nprint('reached')"
    result = run_python(code, layers=layers)
    assert result.outcome == Outcome.FAILED
    assert "reached" not in result.stdout


def test_strict_refuses_to_run_without_a_requested_layer(monkeypatch) -> None:
    from gra_graph.verify import sandbox

    monkeypatch.setattr(sandbox, "namespaces_available", lambda: "no unshare here")
    strict = run_python("print(1)", strict=True)
    assert strict.outcome == Outcome.ERROR
    assert strict.missing == {"namespaces": "no unshare here"}
    lenient = run_python("print(1)")
    assert lenient.outcome == Outcome.PASSED
    assert "namespaces" not in lenient.layers and "namespaces" in lenient.missing


def test_namespaces_probe_says_yes_here() -> None:
    assert namespaces_available() is None
