"""One run per directory: an exclusive ``flock`` on ``DIR/run.lock`` while a run holds it.

The kernel releases an ``flock`` when its process dies, however it dies, so a run killed with
SIGKILL leaves no live lock: the next ``gra run`` / ``gra resume`` simply takes it over. The
file also names the holder (pid, host, start time) so a refused second run can say who holds
the directory. The file is never deleted: unlinking a lock file lets two processes lock two
different files of the same name.

``flock`` is advisory and local: it works on local disks (Linux, macOS); on some network file
systems it is not shared between hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_FILE = "run.lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run directory."""


@dataclass
class RunLock:
    """A held lock on a run directory; :meth:`release` (or process death) lets it go."""

    path: Path
    fd: int

    def release(self) -> None:
        """Unlock and close (the file stays, with the last holder's details)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def holder(run_dir: Path) -> dict[str, Any]:
    """What the lock file says about its last holder (empty if unreadable)."""
    try:
        data = json.loads((run_dir / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_held(run_dir: Path) -> bool:
    """Whether a live process holds the run directory's lock right now (never blocks)."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def acquire(run_dir: Path, *, wait_seconds: float = 1.0) -> RunLock:
    """Take the run directory's lock, or raise :class:`RunLockedError` naming the holder.

    A lock left by a dead process is free (the kernel dropped it) and is taken over. A short
    wait absorbs a concurrent ``is_held`` probe (``gra runs``) holding it for a moment.
    """
    path = run_dir / LOCK_FILE
    # O_NOFOLLOW: a run.lock planted as a symbolic link must not truncate the link's target
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                info = holder(run_dir)
                who = (
                    f"pid {info.get('pid', '?')} on host {info.get('host', '?')} "
                    f"(since {info.get('started', '?')})"
                    if info
                    else "another process"
                )
                raise RunLockedError(
                    f"{run_dir} is in use by a live run: {who}. Wait for it to finish, or "
                    "stop that process; one run per directory at a time."
                ) from None
            time.sleep(0.05)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    data = (json.dumps(info) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    return RunLock(path, fd)
