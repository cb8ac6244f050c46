"""Energy test: power against a small 2-D mean shift, with a fixed 500-point vs an N-scaled reference subset.

Agent: N draws of a 2-D standard normal shifted by ``--shift`` sd in the first
coordinate; reference: 10,000 draws of the unshifted law. Power = share of
``--reps`` repetitions with p < 0.05. The oracle rows draw the agent from the
reference law itself (no shift): their pass rate (p >= 0.05) must stay within
0.95 +- 0.03, i.e. the bigger reference keeps the test calibrated.

"before" thins the reference to 500 points whatever N is (the old rule);
"after" uses ``energy.reference_size(N) = min(max(500, 5 N), 3000)``.

Run:  .venv/bin/python benchmarks/energy_power.py [--reps 200] [--oracle-reps 600] [--ns 100,300,1000]
Prints one line per (N, rule): power, its standard error, the oracle pass rate and seconds per test.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from stochbox.evaluators.energy import MIN_REFERENCE, energy_perm, reference_size


def rate(agent_of, reference: np.ndarray, n: int, max_reference: int, reps: int, seed: int) -> tuple[float, float]:
    """Share of reps with p < 0.05, and seconds per test."""
    rejected, t0 = 0, time.perf_counter()
    for i in range(reps):
        g = np.random.default_rng([seed, n, i])
        out = energy_perm(agent_of(g, n), reference, max_reference=max_reference, rng=g)
        rejected += out.pvalue < 0.05
    return rejected / reps, (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="repetitions per power estimate")
    ap.add_argument("--oracle-reps", type=int, default=600, help="repetitions per oracle pass-rate estimate")
    ap.add_argument("--ns", default="100,300,1000")
    ap.add_argument("--shift", type=float, default=0.1, help="mean shift of the first coordinate, in sd")
    ap.add_argument("--m", type=int, default=10_000, help="reference size")
    args = ap.parse_args()
    reference = np.random.default_rng(12345).standard_normal((args.m, 2))
    shifted = lambda g, n: g.standard_normal((n, 2)) + np.array([args.shift, 0.0])  # noqa: E731
    oracle = lambda g, n: g.standard_normal((n, 2))  # noqa: E731
    print(f"2-D standard normal, shift {args.shift} sd, reference {args.m}, 999 permutation draws, alpha 0.05")
    print(f"{'N':>5} {'rule':>7} {'ref used':>8} {'power':>7} {'(se)':>7} {'oracle pass':>11} {'(se)':>7} {'s/test':>7}")
    for n in (int(x) for x in args.ns.split(",")):
        for rule, used in (("before", MIN_REFERENCE), ("after", reference_size(n))):
            power, secs = rate(shifted, reference, n, used, args.reps, 1)
            rejected, _ = rate(oracle, reference, n, used, args.oracle_reps, 2)
            passed = 1 - rejected
            se_p = math.sqrt(power * (1 - power) / args.reps)
            se_o = math.sqrt(passed * (1 - passed) / args.oracle_reps)
            print(f"{n:>5} {rule:>7} {used:>8} {power:>7.3f} {se_p:>7.3f} {passed:>11.3f} {se_o:>7.3f} {secs:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
