"""Discrete KS test: the count-based exact null vs the naive permutation test, at equal accuracy.

Both compute the same Monte-Carlo permutation p-value of the two-sample KS
statistic with the same number of null draws (so the same Monte-Carlo error);
the naive test shuffles the N + M raw pooled values per draw, the count-based
one draws the agent's counts per distinct value (multivariate hypergeometric).

Run:  .venv/bin/python benchmarks/discrete_ks.py [--draws 9999] [--repeat 3]
Prints one line per case with both timings, both p-values and the speed ratio.
"""

from __future__ import annotations

import argparse

import numpy as np

from stochbox.evaluators.ks import ks_discrete_mc, ks_naive_permutation
from stochbox.testing.timing import best_of

CASES = {
    # name: (agent sampler, reference sampler); N = 100 agent values vs M = 10,000 reference values
    "die (6 values)": (lambda g, n: g.integers(1, 7, n), lambda g, m: g.integers(1, 7, m)),
    "poisson(4) (~15 values)": (lambda g, n: g.poisson(4.3, n), lambda g, m: g.poisson(4, m)),
    "binomial(100, .5) (~40 values)": (lambda g, n: g.binomial(100, 0.5, n), lambda g, m: g.binomial(100, 0.5, m)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=9999, help="null draws for both tests")
    ap.add_argument("--repeat", type=int, default=3, help="best-of repeats per timing")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--m", type=int, default=10_000)
    args = ap.parse_args()
    print(f"N={args.n} agent values, M={args.m} reference values, {args.draws} null draws each")
    ratios = []
    for name, (agent_of, ref_of) in CASES.items():
        g = np.random.default_rng(0)
        a, r = agent_of(g, args.n), ref_of(g, args.m)
        t_fast, fast = best_of(args.repeat, lambda: ks_discrete_mc(a, r, draws=args.draws, rng=np.random.default_rng(1)))
        t_naive, naive = best_of(args.repeat, lambda: ks_naive_permutation(a, r, draws=args.draws, rng=np.random.default_rng(2)))
        ratios.append(t_naive / t_fast)
        print(
            f"{name:32s} counts {t_fast * 1e3:8.1f} ms  naive {t_naive * 1e3:9.1f} ms  "
            f"ratio {t_naive / t_fast:7.0f}x   p(counts)={fast.pvalue:.4f} p(naive)={naive.pvalue:.4f} D={fast.statistic:.4f}"
        )
    print(f"geometric-mean speed-up: {float(np.exp(np.mean(np.log(ratios)))):.0f}x")


if __name__ == "__main__":
    main()
