"""Effect sizes: how far apart two samples are, whatever the p-value says.

Keys (stable, they appear in reports): ``ks_distance`` (sup |F_agent -
F_ref|, 1-D numeric only), ``w1_scaled`` (Wasserstein-1 divided by the
reference's interquartile range; by its standard deviation when the IQR is 0,
unscaled when both are 0 -- :func:`reference_spread` says which, and results
record it as ``extra['w1_scale']``), ``tv_distance`` (total
variation between empirical laws: discrete, categorical, permutations),
``energy_distance`` (multivariate, on standardised coordinates). For vectors
``ks_distance`` and ``w1_scaled`` are the largest over coordinates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import stats


def ks_distance(agent: np.ndarray, reference: np.ndarray) -> float:
    return float(stats.ks_2samp(agent, reference, method="asymp").statistic)


def reference_spread(reference: np.ndarray) -> tuple[float, str]:
    """The scale W1 is divided by: IQR, else sd, else 1 (with its name)."""
    q75, q25 = np.percentile(reference, [75, 25])
    if q75 - q25 > 0:
        return float(q75 - q25), "iqr"
    sd = float(np.std(reference))
    if sd > 0:
        return sd, "sd"
    return 1.0, "none"


def w1_scaled(agent: np.ndarray, reference: np.ndarray) -> tuple[float, str]:
    spread, how = reference_spread(reference)
    return float(stats.wasserstein_distance(agent, reference)) / spread, how


def tv_distance(agent: Sequence, reference: Sequence) -> float:
    """Total variation between the empirical distributions of two samples of hashable values."""
    ca, cr = Counter(agent), Counter(reference)
    n, m = len(agent), len(reference)
    # fsum over sorted keys: the result must not depend on set order (hash randomisation)
    return 0.5 * math.fsum(abs(ca[v] / n - cr[v] / m) for v in sorted(set(ca) | set(cr), key=str))


def numeric_effects(agent: np.ndarray, reference: np.ndarray, *, discrete: bool) -> dict[str, float]:
    out = {"ks_distance": ks_distance(agent, reference), "w1_scaled": w1_scaled(agent, reference)[0]}
    if discrete:
        out["tv_distance"] = tv_distance(agent.tolist(), reference.tolist())
    return out


def vector_effects(agent: np.ndarray, reference: np.ndarray, energy: float | None) -> dict[str, float]:
    per = [numeric_effects(agent[:, j], reference[:, j], discrete=False) for j in range(agent.shape[1])]
    out = {"ks_distance": max(p["ks_distance"] for p in per), "w1_scaled": max(p["w1_scaled"] for p in per)}
    if energy is not None:
        out["energy_distance"] = float(np.sqrt(max(energy, 0.0)))
    return out
