"""The Docker sandbox's hardened container options, and how configuration may extend them.

Contract: :func:`hardened_options` is the complete option set every sandbox
container starts with. :func:`merge_options` lets configuration *add*
confinement (a gVisor runtime, ulimits, a cpuset, extra labels, more
dropped capabilities or security options, a smaller tmpfs) but never drop any:
an option that would weaken or bypass the defaults -- a network, a writable
root, a host mount, a capability, root, host environment variables,
``seccomp=unconfined`` -- raises :class:`~stochbox.errors.ConfigError`
naming the option. Unknown options are refused too (an allow-list, so a
future SDK option cannot slip through unreviewed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stochbox.errors import ConfigError
from stochbox.sandbox.base import SandboxSpec
from stochbox.sandbox.transport import SERVER_ENV

SANDBOX_USER = "65534:65534"
LABEL = "stochbox.sandbox"

# Options configuration may set freely: they only add limits or metadata.
_ADDITIVE = frozenset({
    "ulimits", "runtime", "cpuset_cpus", "cpuset_mems", "cpu_shares", "cpu_period", "cpu_quota",
    "blkio_weight", "blkio_weight_device", "device_read_bps", "device_read_iops", "device_write_bps",
    "device_write_iops", "mem_reservation", "mem_swappiness", "oom_score_adj", "shm_size", "storage_opt",
    "log_config", "stop_signal", "platform", "isolation",
})
# Hardened options whose value is set by a SandboxSpec field, not by raw options.
_FROM_SPEC = {"mem_limit": "memory_mb", "memswap_limit": "memory_mb", "nano_cpus": "cpus", "pids_limit": "pids", "image": "image"}
_WEAKENING_SECURITY_OPT = ("unconfined", "no-new-privileges:false", "no-new-privileges=false", "label=disable", "label:disable")


def hardened_options(spec: SandboxSpec, *, tmp_mb: int = 64) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create`` (without image, command and labels)."""
    return {
        "network_mode": "none",
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={tmp_mb}m,mode=1777"},  # noexec: no dropped binaries
        "mem_limit": f"{spec.memory_mb}m",
        "memswap_limit": f"{spec.memory_mb}m",  # equal to mem_limit: no swap on top
        "nano_cpus": int(spec.cpus * 1e9),
        "pids_limit": spec.pids,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "user": SANDBOX_USER,
        "init": True,
        "ipc_mode": "private",
        # Exactly the fork-server environment; nothing is copied from the host.
        "environment": dict(SERVER_ENV),
        "working_dir": "/tmp",
        "hostname": "sandbox",
        "stdin_open": True,
        "tty": False,
    }


def merge_options(hardened: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``hardened`` plus ``extra``; raises ConfigError for any option that would weaken it."""
    merged = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in hardened.items()}
    for key, value in (extra or {}).items():
        where = f"docker sandbox option '{key}'"
        if key in _ADDITIVE:
            merged[key] = value
        elif key in _FROM_SPEC:
            raise ConfigError(f"{where} is set from the sandbox spec", hint=f"set '{_FROM_SPEC[key]}' instead")
        elif key == "network_mode":
            if value != "none":
                raise ConfigError(f"{where}={value!r} would give sandboxed code a network", hint="only 'none' is allowed")
        elif key == "network_disabled":
            if value is not True:
                raise ConfigError(f"{where}={value!r} would enable networking", hint="only true is allowed")
        elif key in ("read_only", "init"):
            if value is not True:
                raise ConfigError(f"{where}={value!r} would drop a hardened default", hint="only true is allowed")
        elif key == "user":
            if str(value).split(":")[0] in ("", "0", "root"):
                raise ConfigError(f"{where}={value!r} would run sandboxed code as root", hint="use a non-zero uid")
            merged["user"] = str(value)
        elif key == "ipc_mode":
            if value not in ("private", "none"):
                raise ConfigError(f"{where}={value!r} would share IPC with others", hint="use 'private' or 'none'")
            merged["ipc_mode"] = value
        elif key == "cap_drop":
            merged["cap_drop"] = sorted(set(merged["cap_drop"]) | set(value))
        elif key == "security_opt":
            for opt in value:
                if any(bad in str(opt).replace(" ", "") for bad in _WEAKENING_SECURITY_OPT):
                    raise ConfigError(f"{where} entry {opt!r} would disable a security profile", hint="remove it")
            merged["security_opt"] = list(dict.fromkeys([*merged["security_opt"], *value]))
        elif key == "tmpfs":
            for path, mount_opts in dict(value).items():
                if "size=" not in str(mount_opts):
                    raise ConfigError(f"{where} for {path!r} has no size= cap", hint="add e.g. size=64m")
                merged["tmpfs"][path] = mount_opts
        elif key == "labels":
            if any(str(k).startswith("stochbox.") for k in value):
                raise ConfigError(f"{where} may not set stochbox.* labels", hint="they identify sandbox containers")
            merged.setdefault("labels", {}).update(value)
        else:
            raise ConfigError(
                f"{where} is not allowed: it could weaken or bypass the sandbox's hardened defaults",
                hint="allowed: " + ", ".join(sorted(_ADDITIVE | {"network_mode", "read_only", "init", "user", "ipc_mode", "cap_drop", "security_opt", "tmpfs", "labels"})),
            )
    return merged
