"""The Bladen et al. (2025) reproduction script, ``benchmarks/bladen2025.py``, on a tiny grid."""

import importlib.util
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bladen2025", os.path.join(ROOT, "benchmarks", "bladen2025.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bladen2025", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(bench):
    settings = [bench.Setting(200, 3, 0.0), bench.Setting(200, 3, 0.66), bench.Setting(63, 6, 0.33)]
    replicates = bench.run_grid(settings, "ols", reps=100)
    return settings, replicates, bench.summarise(replicates)


def test_ols_matches_the_adjusted_closed_forms(tiny):
    # Each mean of 100 replicates is compared with the paper's finite-sample adjusted closed form in units of
    # its Monte Carlo standard error (sd / sqrt(100)). 15 checks (5 quantities x 3 settings) at |z| <= 4:
    # a false alarm has probability about 15 x 6.3e-5 ~ 1e-3 if the theory holds; the seeds are literal
    # (each setting's random_state is fixed by the setting), so the outcome does not change between runs.
    _, _, summary = tiny
    checked = summary[summary["estimator"].isin(["pap", "loco", "loco_drop", "t", "c"])]
    assert len(checked) == 15
    z = np.where(checked["estimator"] == "c", checked["z_raw"], checked["z_adjusted"])
    assert np.all(np.abs(z) <= 4.0), checked[["estimator", "n", "p", "delta", "mean", "theory_adjusted"]]
    assert (checked["reps"] == 100).all()


def test_regenerated_training_data_are_the_runners(bench, tiny):
    # t and c are recomputed from the training data regenerated from each replicate's seed; check that these
    # are the runner's data by recomputing drop-and-refit LOCO by hand (exact up to rounding).
    from vimp.simulation import BladenDesign

    settings, replicates, _ = tiny
    setting = settings[2]
    dgp = BladenDesign(setting.p, setting.delta)
    part = replicates[(replicates["estimator"] == "loco_drop") & (replicates["delta"] == setting.delta)]
    for value, seed in list(zip(part["value"], part["seed"]))[:5]:
        X, y, rng = bench.training_data(dgp, setting.n, seed)
        X_eval, y_eval = dgp.sample(setting.n, rng)

        def mse(columns):
            design = np.column_stack([np.ones(setting.n), X[:, columns]])
            coef = np.linalg.lstsq(design, y, rcond=None)[0]
            pred = np.column_stack([np.ones(setting.n), X_eval[:, columns]]) @ coef
            return np.mean((y_eval - pred) ** 2)

        by_hand = np.sqrt(max(mse(list(range(1, setting.p))) - mse(list(range(setting.p))), 0.0))
        assert value == pytest.approx(by_hand, rel=1e-9, abs=1e-12)


def test_authors_bundle_reads_in_their_order(bench):
    authors = bench.load_authors()
    assert authors is not None
    # the authors' four tables in full: 100 replicates x 200 settings each, no value missing
    counts = authors.groupby(["model", "estimator"]).size().to_dict()
    assert counts == {("ols", "loco"): 20_000, ("ols", "pap"): 20_000, ("rf", "loco"): 20_000,
                      ("rf", "pap"): 20_000}
    assert authors.groupby(["model", "estimator", "n", "p", "delta"]).size().eq(100).all()
    assert (authors["value"] >= 0).all()  # sqrt(max(., 0)) of their script
    # the first value of their loco_rf.csv (row 1, V1: n = 20, p = 3, delta = 0), as stored there
    first = authors[(authors["model"] == "rf") & (authors["estimator"] == "loco") & (authors["replicate"] == 1)
                    & (authors["n"] == 20) & (authors["p"] == 3) & (authors["delta"] == 0.0)]
    assert first["value"].tolist() == [0.47387316611843]
    # Column order: at delta = 0 the authors' OLS LOCO is about 1 (theory: exactly 1 for every p) and at
    # delta = 0.99 about 0.01; a column shift would put a delta = 0.99 value where a delta = 0 one belongs.
    ols = authors[(authors["model"] == "ols") & (authors["estimator"] == "loco") & (authors["n"] >= 200)]
    assert ols.loc[ols["delta"] == 0.0, "value"].between(0.6, 1.4).all()
    assert ols.loc[ols["delta"] == 0.99, "value"].between(0.005, 0.03).all()


@pytest.mark.parametrize("argv", [
    ["--quick", "--full"],
    ["--model", "svm"],
    ["--reps", "0"],
    ["--n-jobs", "0"],
    ["--n-jobs", "two"],
    ["--resume"],
    ["--store", "/nonexistent/folder/for/bladen"],
    ["--settings", "632:9"],
    ["--settings", "633:9:0"],
    ["--settings", "632:9:0.5"],
    ["--settings", ","],
    ["--model", "ols", "--replicates", os.path.join(ROOT, "benchmarks", "results", "bladen2025_rf_replicates.csv")],
    ["--model", "rf", "--replicates", "/nonexistent/replicates.csv"],
])
def test_cli_rejects_bad_options(bench, argv, capsys):
    with pytest.raises(SystemExit) as info:
        bench.parse_args(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_defaults_to_quick_ols(bench):
    args = bench.parse_args([])
    assert args.quick and not args.full and args.model == "ols" and args.store is None


def test_training_sets_are_training_data(bench):
    # The stacked training sets of the auxiliary quantities (Generators seeded in bulk) are training_data's,
    # exactly, and so is the permutation of the absorbed coefficient.
    from vimp.simulation import BladenDesign

    dgp = BladenDesign(4, 0.5)
    seeds = [3, 2**40 + 7, 2**62 + 11]
    X, y = bench.training_sets(dgp, 20, seeds)
    for r, seed in enumerate(seeds):
        X_one, y_one, _ = bench.training_data(dgp, 20, seed)
        np.testing.assert_array_equal(X[r], X_one)
        np.testing.assert_array_equal(y[r], y_one)
    perms = [gen.permutation(20) for gen in bench._generators(seeds, bench._C_STREAM)]
    for perm, seed in zip(perms, seeds):
        expected = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=bench._C_STREAM)).permutation(20)
        np.testing.assert_array_equal(perm, expected)


def test_auxiliary_t_and_c_are_the_ols_fits_by_hand(bench):
    # t (on the LOCO scale) and c against statsmodels' OLS of each regenerated training set, one replicate
    # at a time: the t-statistic of x1, and the mean coefficient of x2..xp after permuting x1 with the c
    # stream's permutation, minus 1. Both are computed from normal equations of the centred design (the
    # condition number of this design's Gram matrix is about 3e2), so they agree with QR to far below 1e-9.
    import pandas as pd
    import statsmodels.api as sm

    from vimp.simulation import BladenDesign

    setting = bench.Setting(63, 6, 0.77)
    dgp = BladenDesign(setting.p, setting.delta, beta=1.0, noise_sd=bench.NOISE_SD)
    seeds = pd.DataFrame({"replicate": [0, 1, 2, 3], "seed": [5, 2**40 + 3, 2**63 + 9, 17]})
    frame = bench.auxiliary(dgp, setting, seeds)
    assert frame.columns.tolist() == ["model", "estimator", "n", "p", "delta", "replicate", "value", "seed"]
    assert frame["estimator"].tolist() == ["t", "c"] * 4
    assert frame["replicate"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    for replicate, seed in zip(seeds["replicate"], seeds["seed"]):
        X, y, _ = bench.training_data(dgp, setting.n, seed)
        t_value = sm.OLS(y, sm.add_constant(X)).fit().tvalues[1]
        perm = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=bench._C_STREAM)).permutation(setting.n)
        permuted = X.copy()
        permuted[:, 0] = X[perm, 0]
        c_value = sm.OLS(y, sm.add_constant(permuted)).fit().params[2:].mean() - 1.0
        got = frame[frame["replicate"] == replicate].set_index("estimator")["value"]
        assert got["t"] == pytest.approx(abs(t_value) * bench.NOISE_SD / np.sqrt(setting.n - 1), rel=1e-9)
        assert got["c"] == pytest.approx(c_value, rel=1e-9, abs=1e-12)


def test_ols_run_limits_every_blas_to_one_thread():
    # threadpool_limits acts on the BLAS libraries loaded when it is entered; SciPy brings its own OpenBLAS,
    # loaded late (by the runner's first import), which then ran on all cores. A fresh interpreter, as the
    # script starts: inside _threads_for("ols", None) every BLAS reports one thread.
    import subprocess

    script = os.path.join(ROOT, "benchmarks", "bladen2025.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('bladen2025', {script!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['bladen2025'] = module\n"
        "spec.loader.exec_module(module)\n"
        "from threadpoolctl import threadpool_info\n"
        "with module._threads_for('ols', None):\n"
        "    import vimp.simulation, scipy.linalg, sklearn.linear_model\n"
        "    blas = [i for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "    print(len(blas), max(i['num_threads'] for i in blas))\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    count, most = map(int, out.stdout.split())
    assert count >= 1
    assert most == 1, out.stdout


def test_figures_are_written_with_fixed_margins(bench, tiny, tmp_path, monkeypatch):
    # The OLS figures of a tiny grid: written, at the size and resolution of the full run, and without
    # tight_layout (its margins are fixed in _LAYOUT).
    import matplotlib.figure
    from PIL import Image

    def refuse(self, *args, **kwargs):
        raise AssertionError("tight_layout called")

    monkeypatch.setattr(matplotlib.figure.Figure, "tight_layout", refuse)
    _, replicates, summary = tiny
    paths = {name: str(tmp_path / f"{name}.png") for name in ("importance", "c", "pooled", "loco_vs_t")}
    bench.plot_importance(summary, paths["importance"])
    bench.plot_absorption(summary, paths["c"])
    bench.plot_pooled(bench.pooled_errors(replicates), paths["pooled"])
    bench.plot_loco_vs_t(replicates, paths["loco_vs_t"])
    for name, path in paths.items():
        with Image.open(path) as image:
            width, height = image.size
        assert width > 300 and height > 300, (name, image.size)


def test_figures_over_workers_are_the_serial_figures(bench, tiny, tmp_path):
    # draw_figures with n_jobs=2 (the figures of a --n-jobs run, drawn in the grid's workers) writes the
    # same pixels as drawing them here, one after the other.
    from PIL import Image

    try:  # as in test_ols_grid_over_two_workers_is_the_serial_grid: the workers get the script by value
        import cloudpickle
    except ImportError:  # pragma: no cover
        from joblib.externals import cloudpickle

    _, replicates, summary = tiny
    figures = {"importance": (bench.plot_importance, summary), "loco_vs_t": (bench.plot_loco_vs_t, replicates),
               "c": (bench.plot_absorption, summary)}
    for folder, n_jobs in (("serial", None), ("workers", 2)):
        (tmp_path / folder).mkdir()
        jobs = [(plot, data, str(tmp_path / folder / f"{name}.png")) for name, (plot, data) in figures.items()]
        cloudpickle.register_pickle_by_value(bench)
        try:
            bench.draw_figures(jobs, n_jobs)
        finally:
            cloudpickle.unregister_pickle_by_value(bench)
    for name in figures:
        with Image.open(tmp_path / "serial" / f"{name}.png") as a, Image.open(tmp_path / "workers" / f"{name}.png") as b:
            assert a.size == b.size
            assert np.array_equal(np.asarray(a), np.asarray(b)), name


def test_independent_forest_gives_the_permuted_refit_its_own_stream(bench):
    # The authors' full and refitted forests are two successive randomForest calls (independent streams).
    # IndependentForest seeds each fit from random_state and the training rows: the same data and state
    # give the same forest (repeatable, clone-safe), permuted rows or another state give another stream.
    from sklearn.base import clone

    from vimp import LOCO

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X.sum(axis=1) + 0.1 * rng.normal(size=60)
    model = bench.IndependentForest(p=3, n_estimators=5, random_state=7)
    a, b = clone(model).fit(X, y), clone(model).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    seed = a.forest_.random_state
    assert seed == b.forest_.random_state
    permuted = X.copy()
    permuted[:, 0] = permuted[rng.permutation(60), 0]
    assert clone(model).fit(permuted, y).forest_.random_state != seed
    assert clone(model).set_params(random_state=8).fit(X, y).forest_.random_state != seed
    assert a.forest_.get_params()["min_samples_split"] == 4 and a.forest_.get_params()["max_features"] == 2
    # LOCO's permute-and-refit through the wrapper: the refit's forest is seeded differently from the full one
    loco = LOCO(model, refit="permute", random_state=0).fit(X, y)
    full_seed = loco.fitters_[0].estimator_.forest_.random_state
    refit_seed = loco.reduced_fitters_[0][0].estimator_.forest_.random_state
    assert full_seed != refit_seed


def test_ols_grid_over_two_workers_is_the_serial_grid(bench, tiny):
    # --n-jobs spreads the OLS grid's settings over joblib workers; every setting draws from its own seed,
    # so the table (row order included) is the serial one, value for value.
    import pandas as pd
    try:  # joblib >= 1.5 pickles with the cloudpickle package, older versions with their vendored copy
        import cloudpickle
    except ImportError:  # pragma: no cover
        from joblib.externals import cloudpickle

    settings, replicates, _ = tiny
    # the test loads the script by path (no importable name), so its functions go to the workers by value,
    # as they do from `python benchmarks/bladen2025.py` (__main__)
    cloudpickle.register_pickle_by_value(bench)
    try:
        parallel = bench.run_grid(settings, "ols", reps=100, n_jobs=2)
    finally:
        cloudpickle.unregister_pickle_by_value(bench)
    pd.testing.assert_frame_equal(parallel, replicates)


def test_settings_option_reads_cells_of_the_grid(bench):
    args = bench.parse_args(["--full", "--model", "rf", "--settings", "632:9:0, 2000:3:.66,632:9:0.00"])
    assert args.settings == [bench.Setting(632, 9, 0.0), bench.Setting(2000, 3, 0.66)]  # duplicates dropped


def test_merge_replicates_replaces_the_cells_run_again(bench):
    import pandas as pd

    def table(n, p, delta, reps, value):
        return pd.DataFrame({"model": "rf", "estimator": "pap", "n": n, "p": p, "delta": delta,
                             "replicate": range(reps), "value": value, "seed": range(reps)})

    earlier = pd.concat([table(632, 3, 0.0, 10, 1.0), table(632, 3, 0.11, 10, 2.0), table(2000, 3, 0.0, 10, 3.0)])
    earlier = pd.concat([earlier, table(632, 3, 0.0, 10, 9.0).assign(model="ols")])  # another model: ignored
    run = table(632, 3, 0.11, 100, 5.0)  # one cell again, with 100 replicates
    merged = bench.merge_replicates(run, earlier)
    counts = merged.groupby(["n", "p", "delta"])["value"].agg(["count", "mean"])
    assert counts.loc[(632, 3, 0.11)].tolist() == [100, 5.0]  # the new run's values only
    assert counts.loc[(632, 3, 0.0)].tolist() == [10, 1.0] and counts.loc[(2000, 3, 0.0)].tolist() == [10, 3.0]
    assert (merged["model"] == "rf").all() and list(merged["n"]) == sorted(merged["n"])  # the grid's order
    with pytest.raises(ValueError, match="lacks the columns"):
        bench.merge_replicates(run, earlier.drop(columns="seed"))


def test_authors_allow_marks_where_their_error_allows_a_verdict(bench):
    import pandas as pd

    keys = {"model": "rf", "estimator": "pap", "n": 632, "p": 3}
    summary = pd.DataFrame([dict(keys, delta=d, reps=10, mean=1.0, sd=0.1, mc_se=0.1 / np.sqrt(10), theory=1.0,
                                 theory_adjusted=1.0) for d in (0.0, 0.11)])
    # the authors' 100 replicates: sd 0.1 (relative SE 0.01: 3 x 0.01 inside 5%) and sd 0.2 (3 x 0.02 outside)
    rng = np.random.default_rng(0)
    rows = []
    for delta, sd in ((0.0, 0.1), (0.11, 0.2)):
        values = rng.standard_normal(100)
        values = 1.0 + sd * (values - values.mean()) / values.std(ddof=1)
        rows += [dict(keys, delta=delta, replicate=r, value=v) for r, v in enumerate(values)]
    out = bench.compare_authors(summary, pd.DataFrame(rows))
    assert out["authors_mc_se"].tolist() == pytest.approx([0.01, 0.02])
    assert out["authors_allow"].tolist() == [True, False]
    assert out["ratio"].tolist() == pytest.approx([1.0, 1.0]) and (out["within_5pct"] == "yes").all()
