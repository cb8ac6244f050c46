"""How an Inspect ``exec(cmd, input, cwd, env)`` becomes one execution of stochbox's fork-server.

stochbox's sandbox runs *Python source* in a fresh, already-warm process (no
``fork``/``exec`` of an interpreter per call: that is why it is fast). So:

* ``python``/``python3`` with ``-c CODE``, with ``-`` or no argument (the code
  on ``input``), or with ``SCRIPT.py`` (a file written with ``write_file``) is
  the fast path: the code runs directly in the warm process, with
  ``sys.argv`` as Python would set it.
* Any other command (``bash -c ...``, ``ls``, ``python3 -m ...``) runs as a
  child process of a fresh warm Python process in the same jail
  (``subprocess.run``): it sees the same confinement (no network, read-only
  system, only the work dir writable, the same limits), costs one ``execve``
  more, and finds only what the jail or image has on ``PATH``
  (``/usr/local/bin:/usr/bin:/bin``).

Contract of :func:`build_program`: returns ``(code, globals)`` for
:meth:`stochbox.sandbox.Sandbox.execute`; the code materialises ``files``
(relative path -> bytes) in the fresh work dir, applies ``cwd`` and ``env``,
feeds ``input`` to stdin, runs the command, and leaves the exit status as the
process status. Plain ``python -c CODE`` with no files, cwd, env or input is
sent as ``CODE`` itself, byte for byte what ``stochbox`` runs for its own tools.
"""

from __future__ import annotations

import base64
import posixpath
import re
from typing import Any

#: Flags of the interpreter that change nothing a fresh, unbuffered sandbox process does not already do.
_HARMLESS_FLAGS = {"-u", "-B", "-s", "-E", "-I", "-P", "-q"}
_PYTHON_NAME = re.compile(r"^python(3(\.\d+)?)?$")


def is_python(argv0: str) -> bool:
    return bool(_PYTHON_NAME.match(posixpath.basename(argv0)))


def python_fast_path(cmd: list[str], input: str | bytes | None) -> tuple[str, str, list[str]] | None:
    """``(kind, source_or_path, argv)`` when ``cmd`` runs Python source directly, else None.

    ``kind`` is ``code`` (source in hand) or ``script`` (a file path in the work dir).
    """
    if not cmd or not is_python(cmd[0]):
        return None
    args = list(cmd[1:])
    while args and args[0] in _HARMLESS_FLAGS:
        args.pop(0)
    if args[:1] == ["-c"] and len(args) >= 2:
        return "code", args[1], ["-c", *args[2:]]
    if not args or args[0] == "-":
        text = input.decode("utf-8", "replace") if isinstance(input, bytes) else (input or "")
        return "code", text, ["-", *args[1:]]
    if not args[0].startswith("-"):
        return "script", args[0], list(args)
    return None


def normalize_path(path: str) -> str:
    """A work-dir-relative path, normalised; raises PermissionError for paths that leave the work dir."""
    if posixpath.isabs(path):
        raise PermissionError(
            f"{path}: the stochbox sandbox keeps files only in the per-sample work dir; use a relative path"
        )
    norm = posixpath.normpath(path)
    if norm == "." or norm.startswith("../") or norm == "..":
        raise PermissionError(f"{path}: outside the per-sample work dir")
    return norm


# The wrapper runs as the snippet's __main__; its names are prefixed so user code run via exec() in a fresh
# namespace never sees them.
_WRAPPER = r'''
import base64 as _sb_b64, io as _sb_io, os as _sb_os, sys as _sb_sys
for _sb_path, _sb_data in _sb_files.items():
    _sb_dir = _sb_os.path.dirname(_sb_path)
    if _sb_dir:
        _sb_os.makedirs(_sb_dir, exist_ok=True)
    with open(_sb_path, "wb") as _sb_fh:
        _sb_fh.write(_sb_b64.b64decode(_sb_data))
if _sb_cwd:
    _sb_os.makedirs(_sb_cwd, exist_ok=True)
    _sb_os.chdir(_sb_cwd)
_sb_os.environ.update(_sb_env)
_sb_stdin = _sb_b64.b64decode(_sb_input) if _sb_input is not None else None
if _sb_kind == "command":
    import subprocess as _sb_subprocess
    try:
        _sb_proc = _sb_subprocess.run(_sb_argv, input=_sb_stdin if _sb_stdin is not None else b"", capture_output=True)
    except FileNotFoundError:
        _sb_sys.stderr.write(f"{_sb_argv[0]}: command not found in the stochbox sandbox (PATH={_sb_os.environ.get('PATH')})\n")
        _sb_sys.exit(127)
    except PermissionError as _sb_exc:
        _sb_sys.stderr.write(f"{_sb_argv[0]}: {_sb_exc}\n")
        _sb_sys.exit(126)
    _sb_sys.stdout.flush()
    _sb_sys.stdout.buffer.write(_sb_proc.stdout)
    _sb_sys.stderr.buffer.write(_sb_proc.stderr)
    _sb_code = _sb_proc.returncode
    _sb_sys.exit(_sb_code if _sb_code >= 0 else 128 - _sb_code)
if _sb_stdin is not None and _sb_kind == "code" and _sb_argv[:1] != ["-"]:
    _sb_sys.stdin = _sb_io.TextIOWrapper(_sb_io.BytesIO(_sb_stdin), encoding="utf-8")
_sb_sys.argv = _sb_argv
if _sb_kind == "script":
    import runpy as _sb_runpy
    _sb_runpy.run_path(_sb_argv[0], run_name="__main__")
else:
    exec(compile(_sb_source, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
'''


def _b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def build_program(
    cmd: list[str],
    *,
    input: str | bytes | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    files: dict[str, bytes] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The code and globals that run ``cmd`` in one sandbox execution (see the module contract)."""
    if not cmd:
        raise ValueError("exec needs a command (cmd is empty)")
    fast = python_fast_path(cmd, input)
    if fast is not None and fast[0] == "code" and not files and not cwd and not env and (input is None or fast[2][:1] == ["-"]):
        kind, source, argv = fast
        if argv == ["-c"] or argv == ["-"]:
            return source, {}
    if fast is not None:
        kind, source, argv = fast
        if kind == "script":
            argv = [normalize_path(source), *argv[1:]]
    else:
        kind, source, argv = "command", "", list(cmd)
    globals_ = {
        "_sb_files": {path: _b64(data) for path, data in (files or {}).items()},
        "_sb_cwd": normalize_path(cwd) if cwd else "",
        "_sb_env": dict(env or {}),
        "_sb_input": None if input is None else _b64(input),
        "_sb_kind": kind,
        "_sb_argv": argv,
        "_sb_source": source if kind == "code" else "",
    }
    return _WRAPPER, globals_
