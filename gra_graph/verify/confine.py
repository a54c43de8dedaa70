"""Confinement a sandboxed Python process applies to itself: Landlock, seccomp, an audit hook.

This file uses the standard library only: the sandbox's child process (``child.py``) imports it
by path, with ``python -I -S``, before it runs untrusted code. Each function confines the
calling process for the rest of its life and every process it could start; none can be undone.
Each returns ``None`` when it worked, or a sentence saying why it could not be applied (an old
kernel, another architecture), so the caller can report which layers really held.

What each layer guarantees (Linux):

- :func:`apply_landlock` (Landlock LSM, kernel 5.13+): files may be written, created, removed or
  renamed only beneath the work directory; files and directories may be read only beneath the
  work directory and the read-only roots (the Python installation, system libraries). From
  Landlock ABI 4 (kernel 6.7) TCP ``bind`` and ``connect`` are refused; from ABI 6 (kernel 6.12)
  signals to processes outside the sandbox and abstract Unix sockets are refused. It does not
  cover UDP or Unix sockets before ABI 6, nor ``/proc`` entries opened before it was applied.
- :func:`apply_seccomp` (seccomp BPF, x86_64 only): the process cannot start processes (``fork``,
  ``vfork``, ``clone`` without ``CLONE_THREAD``; ``clone3`` answers ``ENOSYS`` so threads fall
  back to ``clone``), cannot ``execve``, cannot create sockets, cannot signal any process but
  itself, and cannot use ``ptrace``, mounts, namespaces, keyrings, BPF, perf events,
  ``userfaultfd``, ``io_uring`` or another process's memory. Refused calls fail with ``EPERM``;
  threads still work. On other architectures it is not applied (the syscall table differs).
- :func:`install_audit_hook` (PEP 578, every platform): refuses, inside the Python process,
  sockets, subprocesses, ``os.fork``/``exec``/``spawn``/``system``/``kill``, ``ctypes``, writes
  outside the work directory and reads outside the read roots. It is a tripwire with clear
  error messages, not a boundary: code that reaches native memory could remove it, which is
  why the kernel layers exist.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

# ---- Landlock (include/uapi/linux/landlock.h)

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
_FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is absent or disabled."""
    if sys.platform != "linux":
        return 0
    version = _libc().syscall(
        _SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(version), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def apply_landlock(workdir: str, read_roots: list[str]) -> str | None:
    """Allow writes beneath ``workdir`` only and reads beneath it and ``read_roots`` only.

    A read root that does not exist is skipped. Returns ``None`` once the process is
    restricted, else why it is not.
    """
    abi = landlock_abi()
    if abi < 1:
        return "Landlock is not available in this kernel"
    libc = _libc()
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net, size = _NET_BIND_TCP | _NET_CONNECT_TCP, 16
    if abi >= 6:
        attr.scoped, size = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL, 24
    ruleset = libc.syscall(
        _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0
    )
    if ruleset < 0:
        return f"landlock_create_ruleset failed: {_errno_text()}"
    try:
        read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
        rules = [(workdir, handled)] + [(root, read_rights) for root in read_roots]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= _FS_FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled, fd)
                if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), 0) != 0:  # fmt: skip
                    return f"landlock_add_rule({path}) failed: {_errno_text()}"
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {_errno_text()}"
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return f"landlock_restrict_self failed: {_errno_text()}"
    finally:
        os.close(ruleset)
    return None


# ---- seccomp (include/uapi/linux/seccomp.h, filter.h)

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_EPERM, _ENOSYS = 1, 38
_CLONE_THREAD = 0x00010000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # struct seccomp_data; args[0] low half (little endian)

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
_X86_64_REFUSED = {
    "socket": 41, "socketpair": 53, "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101,
    "pivot_root": 155, "chroot": 161, "mount": 165, "umount2": 166, "tkill": 200,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321,
    "execveat": 322, "userfaultfd": 323, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "pidfd_getfd": 438, "mount_setattr": 442,
}  # fmt: skip
_X86_64_CLONE, _X86_64_CLONE3, _X86_64_KILL, _X86_64_TGKILL = 56, 435, 62, 234


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def seccomp_program(pid: int) -> bytes:
    """The BPF filter of :func:`apply_seccomp` for x86_64, for a process whose id is ``pid``."""
    eperm, enosys = _RET_ERRNO | _EPERM, _RET_ERRNO | _ENOSYS
    code = [
        _insn(_LD_W_ABS, _OFF_ARCH),
        _insn(_JEQ_K, _AUDIT_ARCH_X86_64, 1, 0),
        _insn(_RET_K, _RET_KILL_PROCESS),  # another ABI (i386 via int 0x80): no way around us
        _insn(_LD_W_ABS, _OFF_NR),
        _insn(_JGE_K, _X32_SYSCALL_BIT, 0, 1),
        _insn(_RET_K, eperm),  # the x32 ABI aliases
        _insn(_JEQ_K, _X86_64_CLONE3, 0, 1),
        _insn(_RET_K, enosys),  # glibc then falls back to clone, which we can inspect
    ]
    for nr in sorted(_X86_64_REFUSED.values()):
        code += [_insn(_JEQ_K, nr, 0, 1), _insn(_RET_K, eperm)]
    # clone: threads only (its flags are the first argument)
    code += [
        _insn(_JEQ_K, _X86_64_CLONE, 0, 4),
        _insn(_LD_W_ABS, _OFF_ARG0),
        _insn(_JSET_K, _CLONE_THREAD, 0, 1),
        _insn(_RET_K, _RET_ALLOW),
        _insn(_RET_K, eperm),
    ]
    # kill and tgkill: only to this process (the first argument is the pid / thread group)
    for nr in (_X86_64_KILL, _X86_64_TGKILL):
        code += [
            _insn(_JEQ_K, nr, 0, 4),
            _insn(_LD_W_ABS, _OFF_ARG0),
            _insn(_JEQ_K, pid, 0, 1),
            _insn(_RET_K, _RET_ALLOW),
            _insn(_RET_K, eperm),
        ]
    code.append(_insn(_RET_K, _RET_ALLOW))
    return b"".join(code)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def apply_seccomp() -> str | None:
    """Install the syscall filter described in the module docstring; ``None`` when it holds."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"the seccomp filter is written for x86_64 Linux, not {platform.machine()}"
    program = seccomp_program(os.getpid())
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {_errno_text()}"
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"prctl(PR_SET_SECCOMP) failed: {_errno_text()}"
    return None


# ---- PEP 578 audit hook

_REFUSED_EVENTS = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "os.startfile",
    "signal.pthread_kill",
    "ctypes.",
    "pty.",
    "sys.remote_exec",
)
_REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes"})
_PATH_EVENTS = {  # event -> indexes of its path arguments, all of which write
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "shutil.rmtree": (0,),
}
_READ_EVENTS = {"os.listdir": 0, "os.scandir": 0, "glob.glob": 0, "os.chdir": 0}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxViolation(PermissionError):
    """Raised by the audit hook for an operation the sandbox refuses."""


def install_audit_hook(workdir: str, read_roots: list[str]) -> None:
    """Refuse, in this interpreter, what the module docstring lists. Cannot be removed."""
    realpath, fspath, isabs, join = os.path.realpath, os.fspath, os.path.isabs, os.path.join
    getcwd = os.getcwd
    work = realpath(workdir)
    readable = tuple(realpath(r) for r in [work, *read_roots])

    def beneath(path: object, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: checked when it was opened
        try:
            text = fspath(path)  # type: ignore[call-overload]
        except TypeError:
            return False
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        full = realpath(text if isabs(text) else join(getcwd(), text))
        return any(full == root or full.startswith(root.rstrip("/") + "/") for root in roots)

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event.startswith(_REFUSED_EVENTS):
            raise SandboxViolation(f"sandbox: {event} is not allowed")
        if event == "import" and args and str(args[0]).split(".")[0] in _REFUSED_IMPORTS:
            raise SandboxViolation(f"sandbox: importing {args[0]} is not allowed")
        if event == "open" and args:
            path, mode, flags = (*args, None, None)[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and mode is None and flags & _WRITE_FLAGS
            )
            if writes and not beneath(path, (work,)):
                raise SandboxViolation(f"sandbox: writing {path!r} outside the work directory")
            if not writes and not beneath(path, readable):
                raise SandboxViolation(f"sandbox: reading {path!r} is not allowed")
        elif event in _PATH_EVENTS:
            for index in _PATH_EVENTS[event]:
                if index < len(args) and not beneath(args[index], (work,)):
                    raise SandboxViolation(f"sandbox: {event} outside the work directory")
        elif event in _READ_EVENTS and args and not beneath(args[0] or ".", readable):
            raise SandboxViolation(f"sandbox: {event}({args[0]!r}) is not allowed")

    sys.addaudithook(hook)
