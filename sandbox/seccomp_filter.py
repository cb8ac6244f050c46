"""The seccomp filter the local jail loads (through ``bwrap --seccomp FD``).

Contract: :func:`build_bpf` returns a compiled classic-BPF program (the
bytes ``bwrap --seccomp`` expects) that *allows* everything except:

* ``socket()`` for any family but ``AF_UNIX`` (``EAFNOSUPPORT``): no
  network at all, loopback and DNS included, independent of the network
  namespace;
* syscalls that reach the kernel's attack surface or leave the jail --
  ptrace and cross-process memory, mounts, namespaces (``unshare``,
  ``setns``, ``clone`` with ``CLONE_NEW*``), keyrings, bpf, perf, module
  loading, kexec, io_uring, userfaultfd, ``TIOCSTI`` and friends (``EPERM``);
* ``clone3`` (``ENOSYS``: its flags cannot be inspected, and glibc falls
  back to ``clone``).

Foreign architectures (x32, i386 on x86_64) are killed by libseccomp's
default bad-arch action. Raises :class:`SeccompUnavailable` when pyseccomp
or libseccomp is missing; callers report the layer as inactive.
"""

from __future__ import annotations

import errno
import os
import socket

#: Syscalls denied with EPERM. Names unknown to this architecture are skipped.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    "unshare", "setns",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init", "lookup_dcookie",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_by_handle_at", "name_to_handle_at",
    "acct", "swapon", "swapoff", "reboot", "syslog", "quotactl", "quotactl_fd",
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm", "vhangup", "nfsservctl", "uselib", "personality",
)

_CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C


class SeccompUnavailable(RuntimeError):
    """pyseccomp or libseccomp is not usable on this machine."""


def build_bpf() -> bytes:
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so missing
        raise SeccompUnavailable(f"pyseccomp/libseccomp not available: {exc}") from exc
    filt = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (ValueError, OSError):
            continue  # not a syscall on this architecture
    filt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    for flag in _CLONE_NAMESPACE_FLAGS:
        filt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for request in (_TIOCSTI, _TIOCLINUX):
        filt.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    fd = os.memfd_create("stochbox-seccomp", 0)
    try:
        with os.fdopen(os.dup(fd), "wb") as sink:
            filt.export_bpf(sink)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def bpf_fd(program: bytes) -> int:
    """A readable descriptor holding ``program``, for ``bwrap --seccomp FD`` (caller closes it)."""
    fd = os.memfd_create("stochbox-seccomp", 0)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
