"""The options of `vimp importance` added for issue 15: --n-jobs, --progress, --loss, --measure,
classification targets (--task, --dataset breast-cancer), --groups, and the JSON record that
reproduces a run. In-process calls of ``vimp.cli.main`` (fast); small data, --cv 2, --model ols."""

import argparse
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import vimp
import vimp._compare
import vimp.cli
from vimp import GCM, __version__, compare
from vimp._gcm import GCM_SCALES
from vimp._losses import LOSSES
from vimp.cli import main

FAST = ["--model", "ols", "--no-plot", "--cv", "2"]


def _one_line_error(capsys, match):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vimp: error:"), err
    assert match in err, err
    return err


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def _frame(payload):
    return pd.DataFrame(payload["results"]).set_index(["method", "feature"])


def _regression_csv(tmp_path, n=80, seed=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = X["a"] + 0.5 * X["b"] + rng.normal(size=n)
    path = tmp_path / "reg.csv"
    X.assign(y=y).to_csv(path, index=False)
    return str(path), X, y


def _binary_frame(n=120, seed=5, labels=("no", "yes")):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    p = 1 / (1 + np.exp(-2 * X["a"]))
    y = np.where(rng.random(n) < p, labels[1], labels[0])
    return X, pd.Series(y, name="y")


def _csv(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


# --------------------------------------------------------------------------------------------------
# --n-jobs


@pytest.mark.parametrize("value", ["0", "two", "1.5", "", "-1000"])
def test_bad_n_jobs_is_one_line_before_any_work(value, capsys, no_work):
    assert main(["importance", "--n-jobs", value, "--no-plot"]) == 2
    err = _one_line_error(capsys, "--n-jobs")
    assert "-1" in err  # says what is expected


def test_n_jobs_is_passed_on_and_does_not_change_the_numbers(monkeypatch, capsys):
    seen = []
    real = vimp._compare.compare

    def spy(*args, **kwargs):
        seen.append(kwargs["n_jobs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(vimp._compare, "compare", spy)
    argv = ["importance", "--json", *FAST, "--methods", "pap,loco", "--n-permutations", "1"]
    assert main(argv) == 0
    serial = _json(capsys)
    assert main(argv + ["--n-jobs", "2"]) == 0
    parallel = _json(capsys)
    assert seen == [None, 2]
    assert serial["n_jobs"] is None and parallel["n_jobs"] == 2
    np.testing.assert_allclose(_frame(parallel)["importance"], _frame(serial)["importance"], rtol=1e-12)
    np.testing.assert_allclose(_frame(parallel)["std_error"], _frame(serial)["std_error"], rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# --progress


@pytest.mark.parametrize("flag, terminal, shown", [
    ([], False, False),          # default, standard error not a terminal (a pipe, a log file)
    ([], True, True),            # default on a terminal
    (["--progress"], False, True),
    (["--no-progress"], True, False),
])
def test_progress_bars_on_standard_error(flag, terminal, shown, monkeypatch, tmp_path, capsys):
    # A logistic regression is refitted feature by feature (with a bar); least squares takes the exact
    # linear shortcut, which is quick and shows no bar.
    X, y = _binary_frame(n=60)
    path = _csv(tmp_path, X.assign(y=y))
    monkeypatch.setattr(vimp.cli, "_stderr_is_terminal", lambda: terminal)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--methods", "loco",
                 *flag]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # standard output stays pure JSON
    assert ("loco refits" in captured.err) is shown, captured.err


# --------------------------------------------------------------------------------------------------
# --loss and --measure


def test_loss_and_measure_choices_are_the_librarys():
    parser = vimp.cli._parser()
    importance = parser._subparsers._group_actions[0].choices["importance"]
    options = {a.dest: a for a in importance._actions}
    assert tuple(options["loss"].choices) == tuple(LOSSES)
    assert tuple(options["measure"].choices) == GCM_SCALES


def test_loss_gives_the_numbers_of_compare_with_that_loss(tmp_path, capsys):
    path, X, y = _regression_csv(tmp_path)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--methods", "pap,loco",
                 "--n-permutations", "2", "--loss", "absolute_error"]) == 0
    payload = _json(capsys)
    assert payload["loss"] == "absolute_error"
    assert payload["tests"]["loco"]["loss"] == "absolute_error"
    direct = compare(X, y, LinearRegression(), methods=["pap", "loco"], cv=2, n_permutations=2,
                     loss="absolute_error", random_state=0)
    np.testing.assert_allclose(_frame(payload)["importance"].to_numpy(), direct["importance"].to_numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("measure", ["correlation", "loco"])
def test_measure_gives_the_numbers_of_gcm_on_that_scale(measure, tmp_path, capsys):
    path, X, y = _regression_csv(tmp_path)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--methods", "gcm",
                 "--measure", measure]) == 0
    payload = _json(capsys)
    assert payload["measure"] == measure and payload["loss"] is None
    direct = GCM(LinearRegression(), cv=2, scale=measure, random_state=0).fit(X, y).importance()
    np.testing.assert_allclose(_frame(payload)["importance"].to_numpy(), direct.importance, rtol=1e-12)
    assert payload["tests"]["gcm"]["scale"] == measure


@pytest.mark.parametrize("argv, match", [
    (["--loss", "hinge"], "--loss"),
    (["--measure", "r2"], "--measure"),
    (["--loss", "log_loss"], "--loss log_loss is not a regression loss"),  # diabetes: regression
    (["--dataset", "breast-cancer", "--loss", "squared_error"], "is not a classification loss"),
    (["--methods", "gcm", "--loss", "absolute_error"], "--loss applies to PaP and LOCO"),
    (["--methods", "pap,loco", "--measure", "correlation"], "--measure applies to GCM"),
    (["--task", "regression", "--loss", "zero_one"], "not a regression loss"),
])
def test_bad_loss_or_measure_is_one_line_before_fitting(argv, match, capsys, no_fit):
    assert main(["importance", "--no-plot", *argv]) == 2
    _one_line_error(capsys, match)


def test_a_loss_that_does_not_fit_the_detected_task_is_refused_before_fitting(tmp_path, capsys, no_fit):
    X, y = _binary_frame()
    path = _csv(tmp_path, X.assign(y=y))
    assert main(["importance", "--data", path, "--target", "y", *FAST, "--loss", "absolute_error"]) == 2
    _one_line_error(capsys, "--loss absolute_error is not a classification loss; with a classification "
                            "target use one of log_loss, zero_one")


# --------------------------------------------------------------------------------------------------
# Classification targets: the rule, the models, the loss


def _decide(values, task="auto", cv=2, loss=None):
    args = argparse.Namespace(task=task, cv=cv, loss=loss)
    y = vimp.cli._check_target(pd.Series(values), "y", args)
    return args.task, args.classes, y


@pytest.mark.parametrize("values, task", [
    (["a", "b", "a", "c", "b", "c"], "classification"),              # text
    ([True, False, True, False], "classification"),                  # True/False
    ([0, 1, 1, 0, 1, 0], "classification"),                          # two integers
    ([1.0, 2.0, 2.0, 1.0], "classification"),                        # two integers written as floats
    ([0.5, 1.5, 0.5, 1.5], "regression"),                            # two values, not integers
    (list(range(11)) * 2, "regression"),                             # 11 integer values: a count
    (np.linspace(0, 1, 8).tolist(), "regression"),
])
def test_task_detection_rule(values, task):
    assert _decide(values)[0] == task


@pytest.mark.parametrize("k", [3, vimp.cli.AMBIGUOUS_MAX_CLASSES])
def test_a_few_integer_values_are_ambiguous_and_need_task(k):
    values = list(range(k)) * 3
    with pytest.raises(vimp.cli.UsageError, match="--task classification or --task regression"):
        _decide(values)
    assert _decide(values, task="classification")[1] == list(range(k))
    assert _decide(values, task="regression")[0] == "regression"


def test_forced_task_refuses_what_cannot_be_that_task():
    with pytest.raises(vimp.cli.UsageError, match="--task regression: column 'y' is not numeric"):
        _decide(["a", "b", "a", "b"], task="regression")
    with pytest.raises(vimp.cli.UsageError, match="non-integer values .for example 0.5"):
        _decide([0.5, 1.0, 2.0, 1.0], task="classification")
    task, _, y = _decide([True, False, True, False], task="regression")  # True/False as 0/1
    assert task == "regression" and y.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_every_class_needs_a_row_in_every_fold():
    with pytest.raises(vimp.cli.UsageError, match="class 'c' of column 'y' has 1 row; with --cv 3"):
        _decide(["a"] * 5 + ["b"] * 5 + ["c"], cv=3)
    assert _decide(["a"] * 3 + ["b"] * 3, cv=3)[1] == ["a", "b"]


def test_classification_csv_gives_the_numbers_of_compare_with_logistic_regression(tmp_path, capsys):
    X, y = _binary_frame()
    path = _csv(tmp_path, X.assign(y=y))
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--methods", "pap,loco",
                 "--n-permutations", "2"]) == 0
    payload = _json(capsys)
    assert payload["task"] == "classification" and payload["classes"] == ["no", "yes"]
    assert payload["loss"] == "log_loss" and "LogisticRegression" in payload["estimator"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    direct = compare(X, y, model, methods=["pap", "loco"], cv=2, n_permutations=2, random_state=0)
    np.testing.assert_allclose(_frame(payload)["importance"].to_numpy(), direct["importance"].to_numpy(),
                               rtol=1e-10)
    rows = _frame(payload)
    assert rows.loc[("loco", "a"), "importance"] > 0  # the feature the classes depend on


@pytest.mark.parametrize("model, name", [("rf", "RandomForestClassifier"),
                                         ("gbt", "HistGradientBoostingClassifier")])
def test_classification_models(model, name, monkeypatch, tmp_path, capsys):
    X, y = _binary_frame(n=60)
    path = _csv(tmp_path, X.assign(y=y))
    seen = {}

    def spy(X, y, estimator, **kwargs):  # the learner and loss the command chose; no fitting
        seen.update(estimator=estimator, loss=kwargs["loss"])
        raise KeyboardInterrupt

    monkeypatch.setattr(vimp._compare, "compare", spy)
    assert main(["importance", "--data", path, "--target", "y", "--model", model, "--no-plot"]) == 130
    assert type(seen["estimator"]).__name__ == name and seen["loss"] == "log_loss"


def test_gcm_on_a_binary_target_and_zero_one_loss(tmp_path, capsys):
    X, y = _binary_frame(labels=(0, 1))
    path = _csv(tmp_path, X.assign(y=y))
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--loss", "zero_one",
                 "--n-permutations", "1"]) == 0
    payload = _json(capsys)
    assert payload["task"] == "classification" and payload["classes"] == [0, 1]
    assert payload["methods"] == ["pap", "loco", "gcm"] and payload["loss"] == "zero_one"
    assert all(np.isfinite(r["importance"]) for r in payload["results"])


def _three_classes(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    frame["y"] = np.where(frame["a"] > 0.5, "high", np.where(frame["a"] < -0.5, "low", "mid"))
    return _csv(tmp_path, frame)


def test_gcm_named_on_a_multiclass_target_is_refused_before_fitting(tmp_path, capsys, no_fit):
    path = _three_classes(tmp_path)
    assert main(["importance", "--data", path, "--target", "y", *FAST, "--methods", "loco,gcm"]) == 2
    _one_line_error(capsys, "GCM needs a binary target")


def test_gcm_is_left_out_of_the_default_methods_on_a_multiclass_target(tmp_path, capsys):
    path = _three_classes(tmp_path)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST,
                 "--n-permutations", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["methods"] == ["pap", "loco"]
    assert captured.err.startswith("vimp: note: GCM left out: GCM needs a binary target")


def test_breast_cancer_dataset_is_a_classification(capsys):
    assert main(["importance", "--dataset", "breast-cancer", "--json", *FAST, "--methods", "loco"]) == 0
    payload = _json(capsys)
    assert payload["task"] == "classification" and payload["classes"] == ["benign", "malignant"]
    assert payload["data_source"]["name"] == "breast-cancer" and payload["data_source"]["n_rows"] == 569
    assert len(payload["results"]) == 30


@pytest.mark.parametrize("argv, match", [
    (["--task", "classification"], "the diabetes data have a numeric target"),
    (["--dataset", "breast-cancer", "--task", "regression"], "breast-cancer data have a class target"),
    (["--dataset", "diabetes", "--data", "x.csv", "--target", "y"], "give one of them"),
    (["--dataset", "breast-cancer", "--target", "y"], "'diagnosis'"),
    (["--task", "binary"], "--task"),
    (["--dataset", "iris"], "--dataset"),
])
def test_bad_task_or_dataset_is_one_line_before_any_work(argv, match, capsys, no_work):
    assert main(["importance", "--no-plot", *argv]) == 2
    _one_line_error(capsys, match)


def test_ambiguous_target_is_refused_before_fitting(tmp_path, capsys, no_fit):
    frame = pd.DataFrame({"a": np.arange(30.0), "y": np.arange(30) % 4})
    path = _csv(tmp_path, frame)
    assert main(["importance", "--data", path, "--target", "y", *FAST]) == 2
    _one_line_error(capsys, "4 distinct integer values")


# --------------------------------------------------------------------------------------------------
# --groups


def test_groups_json_and_list_forms_give_the_numbers_of_compare(capsys):
    from sklearn.datasets import load_diabetes

    base = ["importance", "--json", *FAST, "--methods", "pap,loco", "--n-permutations", "2"]
    assert main(base + ["--groups", '{"lipids": ["s1", "s2", "s3"], "blood": ["bp", "s4"]}']) == 0
    as_json = _json(capsys)
    assert main(base + ["--groups", "lipids = s1, s2, s3; blood=bp,s4"]) == 0
    as_list = _json(capsys)
    pd.testing.assert_frame_equal(_frame(as_json), _frame(as_list))
    features = [r["feature"] for r in as_json["results"] if r["method"] == "loco"]
    # a group takes the place of its first column; the other columns stay on their own
    assert features == ["age", "sex", "bmi", "blood", "lipids", "s5", "s6"]
    assert as_json["groups"] == {"lipids": ["s1", "s2", "s3"], "blood": ["bp", "s4"]}

    data = load_diabetes(as_frame=True)
    groups = {"age": ["age"], "sex": ["sex"], "bmi": ["bmi"], "blood": ["bp", "s4"],
              "lipids": ["s1", "s2", "s3"], "s5": ["s5"], "s6": ["s6"]}
    direct = compare(data.data, data.target, LinearRegression(), methods=["pap", "loco"], cv=2,
                     groups=groups, n_permutations=2, random_state=0)
    np.testing.assert_allclose(_frame(as_json)["importance"].to_numpy(), direct["importance"].to_numpy(),
                               rtol=1e-12)


def test_text_output_says_what_each_group_holds(capsys):
    assert main(["importance", *FAST, "--methods", "loco", "--groups", "serum=s1,s2,s3"]) == 0
    out = capsys.readouterr().out
    assert "group serum: s1, s2, s3" in out.splitlines()
    assert any(line.startswith("serum ") for line in out.splitlines())


def test_a_group_of_a_text_column_takes_its_indicators(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=60), "colour": rng.choice(["r", "g", "b"], size=60),
                          "x2": rng.normal(size=60)})
    frame["y"] = frame["x1"] + (frame["colour"] == "r") + rng.normal(size=60)
    path = _csv(tmp_path, frame)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--methods", "loco",
                 "--groups", "mix=colour,x2"]) == 0
    payload = _json(capsys)
    assert payload["feature_groups"] == {"x1": ["x1"], "mix": ["colour=g", "colour=r", "x2"]}


@pytest.mark.parametrize("spec, match", [
    ("", "--groups: empty"),
    ("{}", "no group"),
    ('{"g": []}', "group 'g' is empty"),
    ("g=", "group 'g' is empty"),
    ("g=s1,s2;h=s2", "column 's2' is in groups 'g' and 'h'"),
    ('{"g": ["s1"], "h": ["s1", "s3"]}', "column 's1' is in groups 'g' and 'h'"),
    ("g=s1,s1", "column 's1' is twice in group 'g'"),
    ('{"g": ["s1"], "g": ["s2"]}', "group 'g' is given twice"),
    ("g=s1;g=s2", "group 'g' is given twice"),
    ('{"g": ["s1", }', "not valid JSON"),
    ('{"g": [1, 2]}', "must be a list of column names"),
    ("s1,s2", "is not NAME=COL1,COL2"),
    ("=s1,s2", "is not NAME=COL1,COL2"),
])
def test_bad_groups_syntax_is_one_line_before_any_work(spec, match, capsys, no_work):
    assert main(["importance", "--no-plot", "--groups", spec]) == 2
    _one_line_error(capsys, match)


@pytest.mark.parametrize("spec, match", [
    ("g=s1,cholesterol", "'cholesterol' is not a column of the data"),
    ("g=s1,progression", "'progression' is the target, not a feature"),
    ("bmi=s1,s2", "group name 'bmi' is also a column outside the groups"),
])
def test_groups_naming_unknown_columns_are_refused_before_fitting(spec, match, capsys, no_fit):
    assert main(["importance", "--no-plot", "--groups", spec]) == 2
    _one_line_error(capsys, match)


# --------------------------------------------------------------------------------------------------
# The JSON record reproduces the run


def test_json_records_every_choice(tmp_path, capsys):
    path, _, _ = _regression_csv(tmp_path)
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--seed", "11",
                 "--level", "0.9", "--scale", "ratio", "--n-permutations", "2", "--groups", "ab=a,b"]) == 0
    payload = _json(capsys)
    assert payload["vimp_version"] == __version__
    assert (payload["seed"], payload["level"], payload["scale"], payload["cv"]) == (11, 0.9, "ratio", 2)
    assert payload["task"] == "regression" and payload["loss"] == "squared_error"
    assert payload["measure"] == "covariance" and payload["test"] is None and payload["n_jobs"] is None
    assert payload["groups"] == {"ab": ["a", "b"]} and payload["model"] == "ols"
    assert payload["estimator"] == "LinearRegression()"
    with open(path, "rb") as handle:
        assert payload["data_source"]["sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert payload["data_source"]["kind"] == "file" and payload["data_source"]["target"] == "y"
    for method in ("pap", "loco", "gcm"):
        assert payload["estimand"][method] == payload["tests"][method]["target"] != ""
        assert payload["tests"][method]["interval"]
    assert payload["tests"]["loco"]["split"] == "cv=2"


@pytest.mark.parametrize("extra", [
    [],
    ["--methods", "pap,gcm", "--measure", "correlation", "--loss", "absolute_error", "--scale", "sqrt"],
    ["--test", "loco=paired", "--methods", "loco", "--groups", "s=s1,s2", "--level", "0.8", "--seed", "4"],
])
def test_argv_of_the_json_reproduces_the_run(extra, capsys):
    assert main(["importance", "--json", *FAST, "--n-permutations", "1", *extra]) == 0
    first = _json(capsys)
    assert "--json" in first["argv"] and "--no-plot" in first["argv"]
    assert main(first["argv"]) == 0
    second = _json(capsys)
    pd.testing.assert_frame_equal(_frame(second), _frame(first))
    assert second["argv"] == first["argv"]


def test_argv_of_the_json_reproduces_a_classification_run_on_a_file(tmp_path, monkeypatch, capsys):
    X, y = _binary_frame(n=60)
    path = _csv(tmp_path, X.assign(y=y))
    assert main(["importance", "--data", path, "--target", "y", "--json", *FAST, "--loss", "zero_one",
                 "--methods", "pap,loco", "--n-permutations", "1", "--groups", '{"ab": ["a", "b"]}']) == 0
    first = _json(capsys)
    assert first["argv"][first["argv"].index("--task") + 1] == "classification"
    monkeypatch.chdir(tmp_path.parent)  # the argv names the file by its absolute path
    assert main(first["argv"]) == 0
    pd.testing.assert_frame_equal(_frame(_json(capsys)), _frame(first))
