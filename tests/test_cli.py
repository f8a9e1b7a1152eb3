"""The `vimp` command: the default run, CSV input, JSON output and one-line errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from vimp import __version__
from vimp.cli import main

DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def test_default_run_prints_every_feature_and_writes_a_png(tmp_path, capsys):
    plot = tmp_path / "importance.png"
    assert main(["importance", "--plot", str(plot), "--n-permutations", "2"]) == 0
    out = capsys.readouterr().out
    for feature in DIABETES_FEATURES:
        assert any(line.startswith(feature) for line in out.splitlines()), feature
    for method in ("PAP", "LOCO"):
        assert method in out
    assert str(plot) in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_output_has_one_record_per_method_and_feature(tmp_path, capsys):
    assert main(["importance", "--json", "--methods", "pap,loco", "--cv", "3",
                 "--plot", str(tmp_path / "p.png")]) == 0
    payload = json.loads(capsys.readouterr().out)
    records = payload["results"]
    assert len(records) == 2 * len(DIABETES_FEATURES)
    assert {"method", "feature", "importance", "std_error", "ci_low", "ci_high", "pvalue",
            "pvalue_adjusted"} <= set(records[0])


def test_csv_input_with_a_categorical_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "colour": rng.choice(["red", "green"], size=n)})
    frame["target"] = 2 * frame["x1"] + (frame["colour"] == "red") + rng.normal(size=n)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    assert main(["importance", "--data", str(path), "--target", "target", "--methods", "loco",
                 "--no-plot", "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert "x1" in out and "colour" in out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["importance", "--data", "missing.csv", "--target", "y"], "--data"),
        (["importance", "--data", "x.csv"], "--target"),
        (["importance", "--target", "y"], "--target"),
        (["importance", "--methods", "shap"], "--methods"),
        (["importance", "--cv", "1"], "--cv"),
        (["importance", "--level", "1.5"], "--level"),
        (["importance", "--n-permutations", "0"], "--n-permutations"),
        (["importance", "--model", "svm"], "model"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vimp: error:") and match in err
    assert "Traceback" not in err


def test_unknown_target_column(tmp_path, capsys):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0]}).to_csv(path, index=False)
    assert main(["importance", "--data", str(path), "--target", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_console_script_help_and_version():
    """The installed entry point runs (`python -m vimp.cli` is the same code path)."""
    version = subprocess.run([sys.executable, "-m", "vimp.cli", "--version"], capture_output=True,
                             text=True, check=True)
    assert version.stdout.strip() == f"vimp {__version__}"
    helptext = subprocess.run([sys.executable, "-m", "vimp.cli", "--help"], capture_output=True,
                              text=True, check=True)
    assert "importance" in helptext.stdout
