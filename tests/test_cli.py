"""The `vimp` command: the default run, CSV input (with text and True/False columns), JSON output,
one-line errors with exit code 2 found before any work, one-line warnings, a quiet closed pipe (141)
and Ctrl-C (130)."""

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import vimp
import vimp._compare
import vimp.cli
from vimp import NuisanceQualityWarning, __version__, compare
from vimp.cli import main

DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
# Subprocesses import the same copy of vimp as this test run.
ENV = dict(os.environ, PYTHONPATH=str(Path(vimp.__file__).resolve().parents[1]))
COMMAND = [sys.executable, "-m", "vimp.cli", "importance"]
FAST = ["--model", "ols", "--no-plot"]


def _mixed_frame(n=120, seed=0):
    """Numeric, text (three levels) and True/False columns; the target depends on all three."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], size=n),
                          "flag": rng.random(n) < 0.5})
    frame["y"] = (2 * frame["x1"] + 1.5 * (frame["colour"] == "red") - (frame["colour"] == "blue")
                  + frame["flag"] + rng.normal(size=n))
    return frame


def _write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _assert_one_line_error(capsys, match):
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith("vimp: error:"), err
    assert match in err, err
    assert "Traceback" not in err
    return err


# --------------------------------------------------------------------------------------------------
# Runs that work


def test_default_run_prints_every_feature_and_writes_a_png(tmp_path, capsys):
    plot = tmp_path / "importance.png"
    assert main(["importance", "--plot", str(plot), "--n-permutations", "2"]) == 0
    out = capsys.readouterr().out
    for feature in DIABETES_FEATURES:
        assert any(line.startswith(feature) for line in out.splitlines()), feature
    for method in ("PAP", "LOCO", "GCM"):
        assert method in out
    assert str(plot) in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_format_follows_the_extension(tmp_path, capsys):
    plot = tmp_path / "importance.pdf"
    assert main(["importance", "--methods", "pap", "--cv", "2", "--n-permutations", "1",
                 "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:5] == b"%PDF-"


def test_json_output_has_one_record_per_method_and_feature(tmp_path, capsys):
    assert main(["importance", "--json", "--methods", "pap,loco", "--cv", "3",
                 "--plot", str(tmp_path / "p.png")]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    records = payload["results"]
    assert len(records) == 2 * len(DIABETES_FEATURES)
    assert {"method", "feature", "importance", "std_error", "ci_low", "ci_high", "pvalue",
            "pvalue_adjusted"} <= set(records[0])
    assert "plot written to" in captured.err  # stdout stays pure JSON


# Whether GCM's nuisance check fires on 120 rows is not the point here; the CLI prints any warning
# as a "vimp: warning:" line, which the test checks.
@pytest.mark.filterwarnings("default::vimp.VimpWarning")
@pytest.mark.parametrize("method", ["pap", "loco", "gcm"])
def test_text_and_true_false_columns_work_for_every_method(method, tmp_path, capsys):
    path = _write(tmp_path, _mixed_frame())
    assert main(["importance", "--data", path, "--target", "y", "--methods", method, "--json",
                 *FAST, "--cv", "2"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    # one row per column the user gave, named as the user named it
    assert [r["feature"] for r in payload["results"]] == ["x1", "colour", "flag"]
    assert all(np.isfinite(r["importance"]) for r in payload["results"])
    assert "2 text or True/False columns one-hot encoded" in payload["data"]
    assert all(line.startswith("vimp: warning:") for line in captured.err.splitlines()), captured.err


def test_text_columns_are_groups_of_their_indicators(tmp_path, capsys):
    """The CLI's numbers equal compare() on the same one-hot encoding (first level dropped) with the
    indicators of each text column grouped under the column's name."""
    frame = _mixed_frame()
    path = _write(tmp_path, frame)
    assert main(["importance", "--data", path, "--target", "y", "--methods", "pap,loco", "--json",
                 *FAST, "--cv", "2", "--n-permutations", "3", "--seed", "7"]) == 0
    cli = pd.DataFrame(json.loads(capsys.readouterr().out)["results"]).set_index(["method", "feature"])

    X = pd.DataFrame({"x1": frame["x1"],
                      "colour=green": (frame["colour"] == "green").astype(float),  # "blue" dropped
                      "colour=red": (frame["colour"] == "red").astype(float),
                      "flag": frame["flag"].astype(float)})
    groups = {"x1": ["x1"], "colour": ["colour=green", "colour=red"], "flag": ["flag"]}
    direct = compare(X, frame["y"], LinearRegression(), methods=["pap", "loco"], cv=2, groups=groups,
                     n_permutations=3, random_state=7)
    np.testing.assert_allclose(cli["importance"].to_numpy(), direct["importance"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(cli["std_error"].to_numpy(), direct["std_error"].to_numpy(), rtol=1e-12)


def test_encoding_drops_the_first_level_and_keeps_true_false_as_one_column():
    X = pd.DataFrame({"x": [0.5, 1.0, 2.0, 3.0], "c": ["b", "a", "c", "a"], "f": [True, False, True, True],
                      "k": ["same"] * 4})
    encoded, groups, n_encoded = vimp.cli._encode(X)
    assert groups == {"x": ["x"], "c": ["c=b", "c=c"], "f": ["f"], "k": ["k=same"]}
    assert n_encoded == 3
    assert encoded["c=b"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert encoded["c=c"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert encoded["f"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert encoded["k=same"].tolist() == [1.0] * 4  # one level: a constant column, like a numeric one
    assert all(dtype == float for dtype in encoded.dtypes)


def test_encoded_names_never_clash_with_the_users_columns():
    X = pd.DataFrame({"c=b": [1.0, 2.0, 3.0], "c": ["a", "b", "b"]})
    encoded, groups, _ = vimp.cli._encode(X)
    assert groups["c=b"] == ["c=b"] and groups["c"] == ["c=b'"]
    assert encoded["c=b"].tolist() == [1.0, 2.0, 3.0]


def test_numeric_csv_gives_the_same_numbers_as_compare_without_groups(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    y = X["a"] + rng.normal(size=80)
    path = _write(tmp_path, X.assign(y=y))
    assert main(["importance", "--data", path, "--target", "y", "--methods", "pap,loco", "--json",
                 *FAST, "--cv", "2", "--n-permutations", "2"]) == 0
    cli = pd.DataFrame(json.loads(capsys.readouterr().out)["results"])
    direct = compare(X, y, LinearRegression(), methods=["pap", "loco"], cv=2, n_permutations=2,
                     random_state=0)
    np.testing.assert_allclose(cli["importance"].to_numpy(), direct["importance"].to_numpy(), rtol=1e-12)


def test_data_from_standard_input(monkeypatch, capsys):
    csv = _mixed_frame(n=40).to_csv(index=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(csv))
    assert main(["importance", "--data", "-", "--target", "y", "--methods", "loco", *FAST, "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"vimp {__version__}: standard input (n=40, p=3")


# --------------------------------------------------------------------------------------------------
# User mistakes: one line, exit code 2, before any work


@pytest.mark.parametrize(
    "argv, match",
    [
        (["importance", "--data", "missing.csv", "--target", "y"], "--data: no such file"),
        (["importance", "--data", "x.csv"], "--target"),
        (["importance", "--target", "y"], "--target"),
        (["importance", "--methods", "shap"], "--methods"),
        (["importance", "--methods", "pap,pap"], "--methods"),
        (["importance", "--cv", "1"], "--cv"),
        (["importance", "--level", "1.5"], "--level"),
        (["importance", "--level", "0"], "--level"),
        (["importance", "--level", "nan"], "--level"),
        (["importance", "--seed", "-1"], "--seed"),
        (["importance", "--n-permutations", "0"], "--n-permutations"),
        (["importance", "--n-permutations", str(10**12)], "--n-permutations"),
        (["importance", "--model", "svm"], "model"),
        (["importance", "--plot", "out.txt"], "cannot write .txt files; use one of"),
        (["importance", "--plot", "out"], "has no extension"),
        (["importance", "--plot", "no/such/folder/p.png"], "does not exist"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2_before_any_work(argv, match, capsys, no_work):
    assert main(argv) == 2
    _assert_one_line_error(capsys, match)


def test_plot_supported_formats_come_from_matplotlib(capsys, no_work):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert main(["importance", "--plot", "out.txt"]) == 2
    err = capsys.readouterr().err
    for extension in FigureCanvasAgg.get_supported_filetypes():
        assert f".{extension}" in err


def test_plot_path_that_is_a_folder(tmp_path, capsys, no_work):
    assert main(["importance", "--plot", str(tmp_path)]) == 2
    _assert_one_line_error(capsys, "is a folder")


def test_plot_in_a_folder_that_cannot_be_written(tmp_path, capsys, no_work):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            pytest.skip("this user can write into a read-only folder (root)")
        assert main(["importance", "--plot", str(folder / "p.png")]) == 2
        _assert_one_line_error(capsys, "--plot: cannot write")
    finally:
        folder.chmod(0o700)


def test_n_permutations_bound_is_one_gib_of_int64_indices(capsys, no_fit):
    """``R * m * 8 > 2**30`` is refused, with m the rows of the largest fold (the library's bound: each
    fold's permutations are drawn separately; 89 rows for the diabetes data's 442 in 5 folds)."""
    assert vimp.cli.MAX_PERMUTATION_BYTES == 2**30
    largest = 2**30 // (8 * 89)
    assert main(["importance", "--n-permutations", str(largest + 1)]) == 2
    err = _assert_one_line_error(capsys, "--n-permutations")
    assert f"use at most {largest}" in err and "89 rows" in err
    vimp.cli._check_permutation_size(largest, 89, rows_known=True)  # the largest size passes


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "is empty"),
        ("a,b,y\n", "no data rows"),
        ("a,b,y\n1,2,3\n", "one data row"),
        ("a,y\n" + "".join(f"{i},{i % 3}\n" for i in range(7)), "--cv 5 needs at least 10 rows"),
        ("a,y\n" + "".join(f"{i},{i % 3}\n" for i in range(7)) + "1,\n", "--target: column 'y' has 1 missing"),
        ("a,y\n" + "".join(f"{i},4\n" for i in range(20)), "--target: column 'y' is constant"),
        ("a,c,y\n" + "".join(f"{i},{'' if i == 3 else 'u'},{i % 3}\n" for i in range(20)),
         "missing values in columns ['c']"),
        ("a,b,y\n" + "".join(f"{i},{'' if i == 3 else i},{i % 3}\n" for i in range(20)),
         "missing values in columns ['b']"),
        ("a,b,y\n" + "".join(f"{i},{'inf' if i == 3 else i},{i % 3}\n" for i in range(20)),
         "infinite values in columns ['b']"),
    ],
)
def test_bad_data_is_one_line_and_exit_2_before_fitting(content, match, tmp_path, capsys, no_fit):
    path = tmp_path / "data.csv"
    path.write_text(content)
    plot = tmp_path / "p.png"
    assert main(["importance", "--data", str(path), "--target", "y", "--plot", str(plot)]) == 2
    _assert_one_line_error(capsys, match)
    assert not plot.exists()  # the up-front check of the plot path leaves nothing behind


def test_data_that_is_not_text(tmp_path, capsys, no_fit):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x00\xc3" * 50)
    assert main(["importance", "--data", str(path), "--target", "y", "--no-plot"]) == 2
    _assert_one_line_error(capsys, "--data: could not read")


def test_data_that_is_a_folder(tmp_path, capsys, no_work):
    assert main(["importance", "--data", str(tmp_path), "--target", "y"]) == 2
    _assert_one_line_error(capsys, "is a folder")


def test_data_that_cannot_be_read(tmp_path, capsys, no_fit):
    path = Path(_write(tmp_path, _mixed_frame(n=20)))
    path.chmod(0o000)
    try:
        try:
            path.read_bytes()
        except OSError:
            pass
        else:
            pytest.skip("this user can read a file without read permission (root)")
        assert main(["importance", "--data", str(path), "--target", "y", "--no-plot"]) == 2
        _assert_one_line_error(capsys, "--data: cannot read")
    finally:
        path.chmod(0o600)


def test_unknown_target_column(tmp_path, capsys):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0]}).to_csv(path, index=False)
    assert main(["importance", "--data", str(path), "--target", "nope"]) == 2
    _assert_one_line_error(capsys, "nope")


# --------------------------------------------------------------------------------------------------
# Warnings, Ctrl-C and closed pipes


class _Odd(UserWarning):
    pass


def test_warnings_are_one_line_each_and_showwarning_is_restored(monkeypatch, capsys):
    real_compare = vimp._compare.compare

    def warning_compare(*args, **kwargs):
        warnings.warn("the x-regression is poor\n  on two lines", NuisanceQualityWarning, stacklevel=2)
        warnings.warn("something else", _Odd, stacklevel=2)
        return real_compare(*args, **kwargs)

    monkeypatch.setattr(vimp._compare, "compare", warning_compare)
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["importance", "--methods", "pap", "--cv", "2", "--n-permutations", "1", "--no-plot"]) == 0
    assert warnings.showwarning is before
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "vimp: warning: the x-regression is poor on two lines (NuisanceQualityWarning)",
        "vimp: warning: something else (_Odd)",
    ]


def test_showwarning_is_restored_after_an_error(capsys):
    before = warnings.showwarning
    assert main(["importance", "--cv", "1"]) == 2
    assert warnings.showwarning is before


def test_keyboard_interrupt_in_process(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vimp._compare, "compare", interrupted)
    assert main(["importance", *FAST]) == 130
    assert capsys.readouterr().err == "vimp: interrupted\n"


def _default_sigint():  # the child must not inherit an ignored SIGINT (as under `nohup` or `&`)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    """SIGINT in the middle of the work. The data come through a named pipe: opening it for writing
    returns only once the command has opened it for reading, so the signal is sent from inside main()."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 5)), columns=[f"x{j}" for j in range(5)])
    frame["y"] = frame["x0"] + rng.normal(size=3000)
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*COMMAND, "--data", str(fifo), "--target", "y", "--model", "rf",
                             "--methods", "loco", "--no-plot"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            cwd=tmp_path, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 60  # start-up alone can take seconds on a loaded machine
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the reader opens it
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()  # a reader blocked in open() would never exit on its own
                    pytest.fail(f"the command never opened --data: {proc.communicate()}")
                time.sleep(0.05)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w") as pipe:
            pipe.write(frame.to_csv(index=False))
        time.sleep(1.0)  # the random forests are being fitted now (the whole run takes over a minute)
        assert proc.poll() is None, "the workload finished before the interrupt"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert err == "vimp: interrupted\n"
    assert out == ""


def test_closed_stdout_exits_141_without_a_word():
    """The reader is gone before the command writes: the write fails with EPIPE for sure."""
    proc = subprocess.Popen([*COMMAND, "--json", *FAST, "--methods", "pap", "--cv", "2",
                             "--n-permutations", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert err == b""


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("head") is None, reason="needs bash, head")
def test_piped_into_head_is_quiet():
    command = " ".join(f"'{a}'" for a in [*COMMAND, "--json", *FAST, "--methods", "pap", "--cv", "2",
                                          "--n-permutations", "1"])
    done = subprocess.run(["bash", "-c", f'{command} | head -1; exit "${{PIPESTATUS[0]}}"'],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.stdout == "{\n"
    assert done.stderr == ""
    # 0 when the whole output fitted in the pipe before head exited, 141 when it did not
    assert done.returncode in (0, 141)


def test_console_script_help_and_version():
    """The installed entry point runs (`python -m vimp.cli` is the same code path)."""
    version = subprocess.run([sys.executable, "-m", "vimp.cli", "--version"], capture_output=True,
                             text=True, check=True, env=ENV)
    assert version.stdout.strip() == f"vimp {__version__}"
    helptext = subprocess.run([sys.executable, "-m", "vimp.cli", "--help"], capture_output=True,
                              text=True, check=True, env=ENV)
    assert "importance" in helptext.stdout


# --------------------------------------------------------------------------------------------------
# --test and the question each p-value answers


def test_default_run_finds_bmi_after_holm_and_says_what_the_pvalues_answer(capsys):
    assert main(["importance", "--no-plot", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(r["method"], r["feature"]): r for r in report["results"]}
    assert rows[("loco", "bmi")]["pvalue_adjusted"] < 0.05  # the demo target (Holm, alpha .05)
    assert report["tests"]["loco"]["test"] == "perturbed"
    assert report["tests"]["pap"]["test"] == "nadeau-bengio"
    for method in ("pap", "loco", "gcm"):
        assert report["tests"][method]["question"].startswith("population:")
        assert rows[(method, "bmi")]["question"] == "population"


def test_test_option_selects_tests_by_name_or_per_method(capsys):
    assert main(["importance", "--no-plot", "--methods", "pap,loco", "--n-permutations", "1",
                 "--test", "loco=split-per-feature,pap=paired-skew"]) == 0
    out = capsys.readouterr().out
    assert "test: split-per-feature" in out and "test: paired-skew" in out
    assert "p-values: fitted model:" in out and "interval: paired Wald interval" in out
    assert main(["importance", "--no-plot", "--methods", "loco,gcm", "--test", "paired"]) == 0
    out = capsys.readouterr().out
    assert "test: paired" in out and "test: wald" in out  # GCM has no paired test: its default stays


@pytest.mark.parametrize("spec, match", [
    ("bogus", "'bogus' is not a test of"),
    ("loco=wald", "loco has no test 'wald'"),
    ("gcm=max,gcm=wald", "gcm is given twice"),
    ("pap=paired-skew", "'pap' is not among the methods run"),
])
def test_bad_test_option_is_one_line(capsys, no_fit, spec, match):
    methods = ["--methods", "loco,gcm"] if spec.startswith("pap") else []
    assert main(["importance", "--no-plot", "--test", spec] + methods) == 2
    _assert_one_line_error(capsys, match)
