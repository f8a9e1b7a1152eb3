"""
Your own Monte Carlo study on a dask cluster, interrupted and resumed
=====================================================================

A simulation study is a long loop, and long loops get interrupted: a job hits its wall-time limit, a
laptop goes to sleep, a cluster node is reclaimed. :func:`vimp.simulation.monte_carlo` writes every
finished chunk of replicates to an SQLite file (``store=``) in one transaction, so a run killed at any
moment leaves whole chunks behind, and ``resume=True`` computes only the replicates that are missing.
Every replicate's data and randomness descend from its own seed, so the resumed table is the table an
uninterrupted run would have produced, whatever the machine, the number of workers or the chunking.

The question of this study: **does LOCO's default test hold its level for a ridge regression with
5-fold cross-fitting, at a feature that does not matter but is correlated with four that do?**
"""

# %%
# The study
# ---------
# Five equicorrelated Gaussian features (correlation 0.5), the first with coefficient 0, the others 1;
# :math:`n = 200` rows a replicate, 200 replicates. The definition is kept in one string so that the
# same study can be started in another process below; a configuration that differs in anything (the
# design, the estimator's parameters, ``n``, ``reps``, the seed, the vimp version) is refused by the
# store, with the differences named.
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from scipy import stats

pd.set_option("display.width", 130)
pd.set_option("display.max_columns", 12)

STUDY = """
from sklearn.linear_model import Ridge
from vimp import LOCO
from vimp.simulation import EquicorrelatedLinear, monte_carlo

design = EquicorrelatedLinear(5, 0.5, [0.0, 1.0, 1.0, 1.0, 1.0], noise_sd=2.0)
estimators = {"loco": LOCO(Ridge(alpha=1.0), cv=5)}
settings = dict(n=200, reps=200, validation="cv", features=["x0", "x1"], random_state=20261201)
"""
exec(STUDY)  # defines design, estimators, settings here too

folder = tempfile.mkdtemp(prefix="vimp-study-")
store = os.path.join(folder, "ridge_loco.sqlite")


def finished(path):
    """Replicates stored so far (read while another process writes: SQLite allows it)."""
    if not os.path.exists(path):
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM finished").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is not written yet
            return 0


# %%
# First run: started, then killed
# -------------------------------
# We start the study in a separate Python process, as a batch job would run it, in chunks of 10
# replicates, and kill that process (``SIGKILL``: no chance to clean up) as soon as about half of the
# replicates are stored. This is an honest interruption: nothing in the study knows it is coming.
job = subprocess.Popen([sys.executable, "-c", STUDY + f"""
monte_carlo(design, estimators, **settings, store={store!r}, chunk_size=10)
"""])
start = time.perf_counter()
while job.poll() is None and finished(store) < 100:
    time.sleep(0.05)
job.kill()
job.wait()
# The page is about a run stopped midway: fail loudly if the job died early or finished first.
assert 0 < finished(store) < settings["reps"], (job.returncode, finished(store))
print(f"killed after {time.perf_counter() - start:.1f} s with {finished(store)} of "
      f"{settings['reps']} replicates stored (exit code {job.returncode})")

# %%
# Without ``resume=True`` the store is never reused by accident:
from vimp.simulation import monte_carlo, run_replicate  # noqa: E402

try:
    monte_carlo(design, estimators, **settings, store=store)
except ValueError as error:
    print("ValueError:", error)

# %%
# Resume on a dask cluster
# ------------------------
# A :class:`distributed.LocalCluster` here, with two single-threaded workers. They run in this process
# (``processes=False``), which keeps the page self-contained; with worker processes (the default), a
# script must create the cluster under ``if __name__ == "__main__":``, because each new process imports
# the script again. On a real cluster you would pass its scheduler's address
# (``scheduler="tcp://host:8786"``) or a ``Client`` of it. vimp sends the replicates in chunks, one task
# each, and runs each worker's BLAS and OpenMP pools on one thread.
from distributed import Client, LocalCluster  # noqa: E402

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None)
client = Client(cluster)
before = finished(store)
start = time.perf_counter()
table = monte_carlo(design, estimators, **settings, store=store, resume=True, scheduler=client,
                    chunk_size=10)
print(f"resumed: {before} replicates read from the store, {settings['reps'] - before} computed on "
      f"{len(client.scheduler_info()['workers'])} dask workers in {time.perf_counter() - start:.1f} s")
client.close()
cluster.close()
print(table.head())

# %%
# Is the resumed table the uninterrupted one?
# -------------------------------------------
# Each row carries its replicate's seed; :func:`~vimp.simulation.run_replicate` recomputes a replicate
# from it alone, here in this process, with no store and no cluster. One replicate from the killed run and
# one from the resumed run:
for r in (0, settings["reps"] - 1):
    part = table[table.replicate == r].reset_index(drop=True)
    again = run_replicate(design, estimators, settings["n"], int(part.seed[0]), validation="cv",
                          features=settings["features"], replicate=r)
    same = np.allclose(part[["importance", "pvalue"]].to_numpy(), again[["importance", "pvalue"]].to_numpy(),
                       rtol=1e-12, atol=0)
    print(f"replicate {r}: recomputed from its seed, identical: {same}")

# %%
# The answer
# ----------
# The rejection rate at level 5% for the null feature ``x0`` (its binomial 95% interval, Clopper–Pearson)
# and the power for ``x1``:
for feature in settings["features"]:
    p = table.loc[table.feature == feature, "pvalue"].to_numpy()
    k, m = int((p < 0.05).sum()), p.size
    ci = stats.binomtest(k, m).proportion_ci(0.95)
    print(f"{feature}: rejected in {k} of {m} replicates = {k / m:.3f} "
          f"(95% interval {ci.low:.3f} to {ci.high:.3f})")
one = estimators["loco"].fit(*design.sample(200, np.random.default_rng(0))).importance()
print(f"the test that test='auto' picked for this learner: {one.test!r} ({one.question})")

# %%
# With 200 replicates the interval for the null rejection rate is about ±3 percentage points wide, enough
# to catch a grossly anti-conservative test, not a rate of 6% against 5%; a study for that needs a few
# thousand replicates, which is what the store and the cluster are for. The repository's
# ``benchmarks/inference.py`` measures the tests this way on a larger grid (the user guide's *Can I trust
# this p-value?* reports it).
