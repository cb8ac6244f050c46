"""Hostile code that is *not* in the battery stays contained in the local jail.

Each snippet prints ``CONTAINED`` only when its attack failed; anything else
(including the snippet dying in an unexpected way) fails the test. After
every attack the server must still be the same, healthy process.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

pytestmark = pytest.mark.jail

SYSCALL = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"

ATTACKS = {
    "read /proc/1/environ": "open('/proc/1/environ', 'rb').read()",
    "read server memory": "open('/proc/%d/mem' % os.getppid(), 'rb').read(1)",
    "open server channel via /proc/pid/fd": "[open('/proc/%d/fd/%s' % (os.getppid(), n), 'wb') for n in ('3', '4')]",
    "ptrace attach the server": SYSCALL + "assert libc.syscall(101, 16, os.getppid(), 0, 0) == 0, ctypes.get_errno()",
    "process_vm_readv": SYSCALL + "assert libc.syscall(310, os.getppid(), 0, 0, 0, 0, 0) >= 0, ctypes.get_errno()",
    "write /proc/self/oom_score_adj": "open('/proc/self/oom_score_adj', 'w').write('-1000')",
    "write /proc/sys": "open('/proc/sys/kernel/hostname', 'w').write('pwned')",
    "unshare a user namespace": SYSCALL + "assert libc.unshare(0x10000000) == 0, ctypes.get_errno()",
    "clone with CLONE_NEWNET": SYSCALL + "assert libc.syscall(56, 0x40000000 | 17, 0, 0, 0, 0) >= 0, ctypes.get_errno()",
    "mount tmpfs": SYSCALL + "assert libc.mount(b'none', b'.', b'tmpfs', 0, None) == 0, ctypes.get_errno()",
    "io_uring_setup": SYSCALL + "assert libc.syscall(425, 8, ctypes.create_string_buffer(120)) >= 0, ctypes.get_errno()",
    "bpf": SYSCALL + "assert libc.syscall(321, 0, 0, 0) >= 0, ctypes.get_errno()",
    "perf_event_open": SYSCALL + "assert libc.syscall(298, ctypes.create_string_buffer(128), 0, -1, -1, 0) >= 0, ctypes.get_errno()",
    "keyctl": SYSCALL + "assert libc.syscall(250, 0, -3, 0) >= 0, ctypes.get_errno()",
    "setuid 0": "os.setuid(0)",
    "raise the process limit": "import resource; resource.setrlimit(resource.RLIMIT_NPROC, (10**6, 10**6))",
    "kill the server": "import signal; os.kill(os.getppid(), signal.SIGKILL)",
    "kill -1": "import signal, time; os.kill(-1, signal.SIGKILL); time.sleep(0.2); raise OSError('survived kill(-1)')",
    "kill pid 1": "import signal; os.kill(1, signal.SIGKILL)",
    "symlink to another work dir": "os.symlink('..', 'up'); os.listdir('up')",
    "hard link a system file": "os.link('/usr/bin/python3', 'py')",
    "write /dev/shm": "open('/dev/shm/x', 'w').write('x')",
    "docker socket": "s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')",
    "host abstract unix socket": "s = socket.socket(socket.AF_UNIX); s.connect('\\0' + HOST_ABSTRACT)",
    "raw socket": "socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    "netlink socket": "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)",
    "TIOCSTI": "import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b'x')",
    "read the host's /root": "os.listdir('/root')",
    "read the host's /home": "os.listdir('/home')",
    "huge argv": "import subprocess; subprocess.run(['/usr/bin/true'] + ['x' * 1000] * 20000, check=True)",
    "exec a shell to reach the network": "import subprocess; subprocess.run(['/usr/bin/python3', '-c', 'import socket; socket.create_connection((\"1.1.1.1\", 443), timeout=2)'], check=True)",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_contained(jail, host_abstract_socket, attack):
    assert_attack_contained(jail, ATTACKS[attack], host_abstract_socket)


def assert_attack_contained(sandbox, attack: str, host_abstract: str) -> None:
    """The attack raises inside the sandbox, and the server serves the next execution without a restart."""
    body = textwrap.indent(attack, "    ")
    code = f"import os, socket\ntry:\n{body}\nexcept BaseException as e:\n    print('CONTAINED', type(e).__name__, e)\nelse:\n    print('ESCAPED')\n"
    restarts = sandbox.pool.restarts()
    res = sandbox.execute(code, timeout_s=10, globals_={"HOST_ABSTRACT": host_abstract})
    assert res.stdout.startswith("CONTAINED"), (res.stdout, res.stderr, res.sandbox_error)
    after = sandbox.execute("print('ok')")
    assert after.ok and sandbox.pool.restarts() == restarts, "the attack disturbed the server"


def test_huge_code_and_globals_pass_through(jail):
    big = "x = 1\n" * 20_000
    res = jail.execute(big + "print(len(BLOB))", globals_={"BLOB": "y" * (4 << 20)})
    assert res.ok and res.stdout == f"{4 << 20}\n"


def test_deep_recursion_crash_is_a_result(jail):
    # C-level recursion (repr of a deeply nested list) overflows the C stack: SIGSEGV.
    res = jail.execute("import sys\nsys.setrecursionlimit(10**8)\na = []\nfor _ in range(10**6):\n    a = [a]\nrepr(a)", timeout_s=20)
    assert res.exit_code not in (0, None) and res.sandbox_error is None
    assert jail.execute("print('ok')").ok


def test_host_files_do_not_appear(jail, tmp_path):
    marker = tmp_path / "marker"
    res = jail.execute(f"open({str(marker)!r}, 'w').write('x')")
    assert res.exit_code == 1 and not marker.exists()
    assert not os.path.exists("/dev/shm/x")


def test_cgroup_caps_memory_across_processes(jail):
    """rlimits bind per process; the jail's cgroup (root only) caps the whole tree."""
    cgroup = {l.name: l for l in jail.layers()}["cgroup"]
    if not cgroup.active:
        pytest.skip(f"no cgroup for the jail here: {cgroup.detail}")
    code = textwrap.dedent(
        """
        import os, time
        kids = []
        for i in range(8):
            pid = os.fork()
            if pid == 0:
                block = bytearray(200 << 20)  # within the 256 MiB rlimit; 1.6 GB together
                time.sleep(1)
                os._exit(0)
            kids.append(pid)
        print([os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids])
        """
    )
    restarts = jail.pool.restarts()
    res = jail.execute(code, timeout_s=30)
    codes = json.loads(res.stdout)
    assert -9 in codes, f"no process was stopped although 1.6 GB exceeds the cgroup cap: {codes}"
    assert jail.execute("print('ok')").ok and jail.pool.restarts() == restarts, "the OOM killer took the server"


def test_forged_exit_note_does_not_leave_a_process_behind(jail):
    """The code announces its own exit on the status pipe, closes its output and keeps spinning."""
    forged = "import os\nos.write(3, b'exit:%d:0\\n' % os.getpid())\nos.close(1)\nos.close(2)\nwhile True:\n    pass\n"
    res = jail.execute(forged, timeout_s=5)
    assert res.sandbox_error is None
    after = jail.execute("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pids = json.loads(after.stdout)
    assert len(pids) == 3, f"expected bwrap's init, the server and this execution only: {pids}"
