"""Benchmark: when does PaP's all-groups kernel pay for Numba's threads? (``vimp._threads.COARSE_WORK``)

Design: OLS through the exact linear fitter, ``PermutationImportance(LinearRegression(),
n_permutations=R)`` fitted on half of n rows and scored on the other half (m = n / 2 evaluation rows),
p equicorrelated Gaussian features (rho = 0.5, as ``benchmarks/threads.py``), every feature its own group.
The call is timed, model fit included, under vimp's thread policy (``threads="auto"``: BLAS on one thread
for these small data) in two settings that differ only in the Numba threads of the one kernel that runs
every group's permutations and losses (:func:`vimp._kernels.linear_nb.pap_linear_groups`):

* ``serial``: ``COARSE_WORK`` set above every size, the kernel on one thread (the policy before);
* ``coarse``: ``COARSE_WORK = 0``, the kernel on the Numba threads the process has (2 here).

Both for independent and for shared permutations, idle and with one other CPU-bound process
(``python -c "while True: pass"``, started for that part of each round). Rounds interleave the settings
in an order rotated from round to round; a timing is the mean of ``k`` back-to-back calls (k = 20 for
m <= 500, 5 above). Reported per cell: median time of each setting, and the median over rounds of the
paired ratio coarse / serial. The work of a cell is m * R * p (inner steps of the kernel); the threshold
is the smallest work from which, in every cell of at least that work and both permutation kinds, the
threads gain when the machine is idle (ratio at most 1.0) and cost at most 5% with one other busy process
(ratio at most 1.05: the paired ratios of one setting move by a few percent from run to run, and the
issue's bound is 10%).

Usage::

    python benchmarks/coarse_threads.py           # 7 rounds: benchmarks/results/coarse_threads.csv
    python benchmarks/coarse_threads.py --quick   # 2 rounds, fewer cells: results/coarse_threads_quick.csv

The script only reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's vimp, whatever is installed

import numpy as np  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

import vimp  # noqa: E402
from vimp import _threads  # noqa: E402

FULL = [(200, 5, 10), (500, 10, 1), (500, 10, 10), (1_000, 10, 10), (2_000, 10, 10), (2_000, 50, 1),
        (2_000, 50, 10), (10_000, 10, 10), (10_000, 50, 10)]
QUICK = [(500, 10, 10), (2_000, 10, 10), (10_000, 50, 10)]
SETTINGS = {"serial": 10**18, "coarse": 0}


def data(n, p, rho=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.sqrt(1.0 - rho) * rng.normal(size=(n, p)) + np.sqrt(rho) * rng.normal(size=(n, 1))
    beta = (np.arange(p) < p // 2).astype(float)
    return X, X @ beta + rng.normal(size=n)


def call(X, y, R, shared):
    h = len(y) // 2
    est = vimp.PermutationImportance(LinearRegression(), n_permutations=R, shared_permutations=shared,
                                     random_state=0)
    return est.fit(X[:h], y[:h]).importance(X[h:], y[h:])


def timed(X, y, R, shared, k):
    start = time.perf_counter()
    for _ in range(k):
        call(X, y, R, shared)
    return (time.perf_counter() - start) / k


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    cells = QUICK if args.quick else FULL
    rounds = args.rounds or (2 if args.quick else 7)
    datasets = {(n, p): data(n, p) for n, p, _ in cells}
    times = {}
    for n, p, R in cells:  # compile and warm
        for shared in (False, True):
            call(*datasets[(n, p)], R, shared)
    for r in range(rounds):
        for load in ("idle", "busy"):
            busy = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None)
            try:
                if busy is not None:
                    time.sleep(0.5)
                for n, p, R in cells:
                    k = 20 if n // 2 <= 500 else 5
                    for shared in (False, True):
                        names = list(SETTINGS)
                        if r % 2:
                            names.reverse()
                        for name in names:
                            _threads.COARSE_WORK = SETTINGS[name]
                            time.sleep(0.05)
                            times.setdefault((load, n, p, R, shared, name), []).append(
                                timed(*datasets[(n, p)], R, shared, k))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    rows = []
    for load in ("idle", "busy"):
        for n, p, R in cells:
            for shared in (False, True):
                serial = np.array(times[(load, n, p, R, shared, "serial")])
                coarse = np.array(times[(load, n, p, R, shared, "coarse")])
                rows.append({"load": load, "n": n, "m": n // 2, "p": p, "R": R,
                             "permutations": "shared" if shared else "independent",
                             "work": n // 2 * R * p, "serial_ms": round(1e3 * float(np.median(serial)), 3),
                             "coarse_ms": round(1e3 * float(np.median(coarse)), 3),
                             "ratio": round(float(np.median(coarse / serial)), 3)})
    out = ROOT / "benchmarks" / "results" / ("coarse_threads_quick.csv" if args.quick else "coarse_threads.csv")
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(" ".join(f"{key}={value}" for key, value in row.items()))
    works = sorted({row["work"] for row in rows})
    bound = {"idle": 1.0, "busy": 1.05}
    threshold = next((w for w in works if all(row["ratio"] <= bound[row["load"]] for row in rows
                                              if row["work"] >= w)), None)
    print(f"smallest work from which coarse threads gain idle and cost at most 5% busy: {threshold} "
          f"(rounds {rounds}; written {out})")


if __name__ == "__main__":
    main()
