"""Deterministic seed derivation.

Contract: ``derive_seed(*parts)`` is a pure function of its parts (str, int,
bytes), stable across processes, platforms and Python versions, and returns an
int in ``[0, 2**63)``. Every seed stochbox hands to a sandbox or a model comes
from here, so a run is reproducible from its root seed alone and the same
episode gets the same seed in native and tool mode.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 63


def derive_seed(*parts: str | int | bytes) -> int:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            raw = b"b" + part
        elif isinstance(part, bool) or not isinstance(part, (int, str)):
            raise TypeError(f"seed parts must be str, int or bytes, got {type(part).__name__}")
        elif isinstance(part, int):
            raw = b"i" + str(part).encode()
        else:
            raw = b"s" + part.encode()
        h.update(len(raw).to_bytes(8, "big") + raw)
    return int.from_bytes(h.digest()[:8], "big") >> (64 - SEED_BITS)
