"""ks_exact against an independent implementation: R's ks.test(x, y, exact = TRUE).

R >= 4.2 computes the exact conditional null with ties (psmirnov over the
pooled sample). Skips without Rscript, unless STOCHBOX_REQUIRE_R=1 (CI
installs r-base-core).

R 4.2.2's ``alternative = "less"`` with ties disagrees with full enumeration
and with its own ``"greater"`` on the swapped samples (e.g. x = c(2,3,4,4,4,5,1),
y = c(1,2,2,3,3,3): R 0.0338, enumeration 0.0513 = R's greater(y, x)), so
"less" is checked as R's "greater" with the samples swapped, which is the
same null probability.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from machine_features import require_or_skip

from stochbox.evaluators import ks_exact

R_SCRIPT = r"""
con <- file("stdin"); lines <- readLines(con); close(con)
for (line in lines) {
  parts <- strsplit(line, ";", fixed = TRUE)[[1]]
  x <- as.numeric(strsplit(parts[1], ",", fixed = TRUE)[[1]])
  y <- as.numeric(strsplit(parts[2], ",", fixed = TRUE)[[1]])
  r <- suppressWarnings(ks.test(x, y, exact = TRUE, alternative = parts[3]))
  cat(sprintf("%.17g %.17g\n", r$statistic, r$p.value))
}
"""


def _cases() -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(42)
    cases = []
    for i in range(12):
        n, m = int(rng.integers(5, 40)), int(rng.integers(5, 60))
        k = int(rng.integers(2, 8))
        x = rng.integers(0, k, n).astype(float)
        y = (rng.integers(0, k, m) + (i % 3 == 0)).astype(float)
        cases.append((x, y, ("two.sided", "greater", "less")[i % 3]))
    # atoms plus a continuous part (rectified normals), and one tie-free case
    for i in range(3):
        x = np.round(np.maximum(rng.normal(0.2 * i, 1, 30), 0.0), 6)
        y = np.round(np.maximum(rng.normal(size=45), 0.0), 6)
        cases.append((x, y, "two.sided"))
    cases.append((np.round(rng.normal(size=20), 6), np.round(rng.normal(0.5, 1, 25), 6), "two.sided"))
    return cases


def _rscript() -> str:
    path = shutil.which("Rscript")
    require_or_skip("STOCHBOX_REQUIRE_R", path is not None, "Rscript not found (apt-get install r-base-core)")
    version = subprocess.run([path, "-e", "cat(getRversion() >= '4.2')"], capture_output=True, text=True, check=True)
    require_or_skip("STOCHBOX_REQUIRE_R", version.stdout.strip() == "TRUE", "R < 4.2 has no exact KS with ties")
    return path


def test_ks_exact_matches_r_ks_test_exact():
    rscript = _rscript()
    cases = _cases()
    # R's "less" with ties is wrong (module docstring): ask for "greater" on the swapped samples.
    asked = [(y, x, "greater") if alt == "less" else (x, y, alt) for x, y, alt in cases]
    text = "\n".join(
        ";".join([",".join(repr(float(v)) for v in x), ",".join(repr(float(v)) for v in y), alt]) for x, y, alt in asked
    )
    proc = subprocess.run([rscript, "-e", R_SCRIPT], input=text + "\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [tuple(map(float, line.split())) for line in proc.stdout.strip().splitlines()]
    assert len(rows) == len(cases)
    for (x, y, alt), (r_stat, r_p) in zip(cases, rows):
        ours = ks_exact(x, y, alternative={"two.sided": "two-sided"}.get(alt, alt))
        assert ours.statistic == pytest.approx(r_stat, abs=1e-12)
        # R computes 1 - P(inside): its absolute error is ~1e-14, ours is relative.
        assert ours.pvalue == pytest.approx(r_p, rel=1e-9, abs=1e-12), (x.tolist(), y.tolist(), alt)
