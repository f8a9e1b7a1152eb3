"""Benchmark: a process running only vimp against one whose heap is warm (issue 12, "fewer temporaries").

glibc's allocator serves blocks above its mmap threshold (128 KiB at start) with ``mmap`` and returns the
top of its heap to the system when more than its trim threshold (256 KiB) is free there; both thresholds
rise when a large block is freed (up to 32 MiB). A process that has run other libraries first has high
thresholds ("warm"); a process running only vimp starts low ("cold"), and a call whose temporaries exceed
the thresholds faults their pages in again at every call. This script times, in fresh processes, the calls
of issue 12's workload W1 (OLS, n = 10,000, p = 50):

* ``pap``: ``PermutationImportance(LinearRegression(), n_permutations=10, shared_permutations=True)``,
  fitted on 5,000 rows and evaluated on the other 5,000;
* ``gcm``: ``GCM(LinearRegression(), cv=5)`` on all 10,000 rows, ``fit`` then ``importance``;

each cold (nothing before the calls but the imports and the data) and warm (8, 16 and 32 MiB arrays
allocated and freed first, what other libraries' work leaves behind), single-threaded (BLAS, OpenMP and
Numba at one thread, so the numbers do not depend on the machine's load as much). Per call, after one
untimed call: median wall and CPU time over 7 calls and the minor page faults (``getrusage``).

Usage::

    python benchmarks/heap.py            # both methods, cold and warm, 2 processes each, alternating

Writes ``benchmarks/results/heap.csv``. Reports only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from sklearn.linear_model import LinearRegression
import vimp
method, warm = sys.argv[1], sys.argv[2] == "warm"
if warm:
    for mb in (8, 16, 32):
        block = np.ones(mb * 2**20 // 8)
        del block
rng = np.random.default_rng(0)
n, p = 10_000, 50
X = rng.standard_normal((n, p))
y = X @ np.ones(p) + rng.standard_normal(n)
if method == "pap":
    est = vimp.PermutationImportance(LinearRegression(), n_permutations=10, shared_permutations=True,
                                     random_state=0)
    est.fit(X[:5000], y[:5000])
    call = lambda: est.importance(X[5000:], y[5000:])
else:
    est = vimp.GCM(LinearRegression(), cv=5, random_state=0)
    call = lambda: est.fit(X, y).importance()
call()
walls, cpus = [], []
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(7):
    w, c = time.perf_counter(), time.process_time()
    call()
    walls.append(time.perf_counter() - w)
    cpus.append(time.process_time() - c)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 7
print(json.dumps({{"wall_ms": 1e3 * float(np.median(walls)), "cpu_ms": 1e3 * float(np.median(cpus)),
                   "minor_faults_per_call": faults}}))
"""


def run(method, heap):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=ROOT), method, heap], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="fresh processes per cell (default 2)")
    args = parser.parse_args(argv)
    rows = []
    for k in range(args.processes):
        for method in ("pap", "gcm"):
            for heap in ("cold", "warm"):
                row = {"method": method, "heap": heap, "process": k, **run(method, heap)}
                print(row, flush=True)
                rows.append(row)
    frame = pd.DataFrame(rows)
    table = frame.groupby(["method", "heap"])[["wall_ms", "cpu_ms", "minor_faults_per_call"]].median()
    print(table.round(1).to_string())
    for method in ("pap", "gcm"):
        cold, warm = table.loc[(method, "cold")], table.loc[(method, "warm")]
        print(f"{method}: cold / warm CPU time {cold['cpu_ms'] / warm['cpu_ms']:.2f}, "
              f"wall {cold['wall_ms'] / warm['wall_ms']:.2f}")
    out = os.path.join(ROOT, "benchmarks", "results", "heap.csv")
    frame.to_csv(out, index=False)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
