"""The one benchmark command (``python -m benchmarks run``): arguments, failing peers, the table, one tiny cell.

The benchmarks are not part of the installed package; these tests import them from the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run as bench  # noqa: E402
from benchmarks.peers import Method, sklearn_, vimp_  # noqa: E402
from benchmarks.workloads import Cell, Ratio, equicorrelated, held_out, ols, sizes, workloads  # noqa: E402


# ----------------------------------------------------------------------------- arguments
def test_arguments_defaults_per_mode():
    quick = bench.parse_args(["run", "--quick"])
    assert (quick.mode, quick.rounds, quick.memory, quick.threads) == ("quick", 2, "targets", "both")
    assert quick.workloads == ["W1", "W2", "W3", "W4", "W5"]
    full = bench.parse_args(["run", "--full", "--workloads", "w1, W4"])
    assert (full.mode, full.rounds, full.memory, full.workloads) == ("full", 5, "all", ["W1", "W4"])


@pytest.mark.parametrize("argv", [["run"], ["run", "--quick", "--full"], ["run", "--full", "--rounds", "4"],
                                  ["run", "--quick", "--rounds", "0"], ["run", "--quick", "--workloads", "W9"],
                                  ["run", "--quick", "--memory", "some"]])
def test_arguments_refused(argv, capsys):
    with pytest.raises(SystemExit) as info:
        bench.parse_args(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_workloads_have_the_issue_sizes_in_full():
    keys = [w.key for w in workloads("full")]
    assert keys == ["W1", "W2", "W3", "W4", "W5"]
    s = sizes("full")
    assert s["W1"] == (10_000, 50) and s["W2"] == (2_000, 10, 100) and s["W4"] == 1_000
    assert max(s["W5_n"]) == 1_000_000 and max(s["W5_p"]) == 1_000
    labels = {m.label for w in workloads("quick") for c in w.cells for m in c.methods}
    assert {"hidimstat PFI (10 perms)", "fippy LOCO", "vimpy vim (R^2, per feature)",
            "dowhy GCM test (in-sample)", "sklearn permutation_importance (10 repeats)"} <= labels
    with pytest.raises(ValueError, match="mode"):
        sizes("medium")


# ----------------------------------------------------------------------------- failing peers
def _boom(X, y):
    raise RuntimeError("boom\nsecond line that the table must not show")


def _fails_on_large(X, y):
    if len(y) > 300:  # the warm-up (256 rows) passes, the timed call fails
        raise ValueError("too many rows")
    return np.zeros(X.shape[1])


def _fine(X, y):
    return X.sum(axis=0)


def test_failing_adapters_become_rows():
    cell = Cell("tiny", lambda: equicorrelated(400, 3), [
        Method("fine", "numpy", _fine),
        Method("raises", "somepeer", _boom),
        Method("missing", "nopeer", _fine, requires="no_such_module_for_vimp_tests"),
        Method("late", "somepeer", _fails_on_large),
    ])
    rows = {row["method"]: row for row in bench.measure_cell(cell, 2, log=lambda *a, **k: None)}
    assert rows["fine"]["status"] == "ok"
    assert rows["fine"]["summary"]["default"]["rounds"] == 2 and rows["fine"]["summary"]["one"]["rounds"] == 2
    assert rows["raises"]["status"] == "failed: RuntimeError: boom"
    assert rows["missing"]["status"].startswith("not installed: ModuleNotFoundError")
    assert rows["late"]["status"] == "failed: ValueError: too many rows"
    assert rows["late"]["summary"]["default"] is None


# ----------------------------------------------------------------------------- the table
def _row(method, status="ok", default=0.2, one=0.1, ratio=None, memory=None):
    ratio = default / one if ratio is None and default and one else ratio
    summary = {s: (None if t is None else {"median": t, "min": t, "max": t, "rounds": 1, "times": [t]})
               for s, t in (("default", default), ("one", one))}
    row = {"method": method, "peer": "p", "status": status, "summary": summary, "default_over_one": ratio,
           "slower_with_threads": ratio is not None and ratio > bench.SLOWER}
    if ratio is not None:  # 25 rounds of the same paired ratio
        row["paired"] = [ratio] * 25
        row["threads_test"] = bench.threads_test(row["paired"])
    if memory is not None:
        row["memory"] = memory
    return row


def test_table_writer_marks_slow_threads_failures_and_targets():
    rows = [_row("fast", default=0.01, one=0.01, memory={"peak_mb": 12.5, "kept_mb": 1.0, "data_mb": 5.0}),
            _row("slow", default=1.0, one=0.5),
            _row("gone", status="not installed: ModuleNotFoundError: No module named 'gone'", default=None,
                 one=None)]
    cell = Cell("n=1 p=1", lambda: (), [], [Ratio("slow / fast", "slow", "fast", ">=", 50),
                                            Ratio("fast peak / data", "fast", "data", "<=", 3, "peak"),
                                            Ratio("gone / fast", "gone", "fast", "<=", 1),
                                            Ratio("slow: threads", "slow", "", "<=", 1.0, "threads")])
    ratios = bench.evaluate_ratios(cell, rows)
    assert ratios[0]["default"] == {"value": pytest.approx(100.0), "met": True}
    assert ratios[0]["one"] == {"value": pytest.approx(50.0), "met": True}
    assert ratios[1]["default"] == {"value": pytest.approx(2.5), "met": True} and "one" not in ratios[1]
    assert ratios[2]["default"] == {"value": None, "met": None}
    assert ratios[3]["default"]["value"] == pytest.approx(2.0) and ratios[3]["default"]["met"] is False
    assert ratios[3]["default"]["test"]["verdict"] == "slower"  # 25 of 25 ratios above 1: shown slower
    report = {"mode": "quick", "started": "2026-01-01 00:00:00", "command": "python -m benchmarks run --quick",
              "rounds": 1, "machine": {"cpu_count": 2, "load_average_at_start": [1.0, 1.0, 1.0]},
              "workloads": [{"key": "W9", "title": "a test", "cells": [
                  {"name": cell.name, "rows": rows, "ratios": ratios}]}]}
    text = bench.write_markdown(report)
    assert "## W9: a test" in text and "load average at start [1.0, 1.0, 1.0]" in text
    assert "| slow | p | 1 | 0.5 | **2** |" in text  # default 2x slower than one thread: bold
    assert "| fast | p | 0.01 | 0.01 | 1 | 12.5 | 1 | ok |" in text
    assert "not installed: ModuleNotFoundError: No module named 'gone'" in text
    assert "| slow / fast | 100 | 50 | >= 50 | yes/yes |" in text
    assert "| slow: threads | 2 | – | <= 1 | NO (95% bound 2, 25 pairs) |" in text
    assert "- W9 n=1 p=1: slow (2.00)" in text
    assert "## Thread target per vimp cell" not in text  # no vimp rows in this report
    for row in rows:
        row["peer"] = "vimp"
    text = bench.write_markdown(report)
    assert "| W9 | n=1 p=1 | fast | 25 | 1.000 | 1.000 |" in text and "| within |" in text
    assert "| W9 | n=1 p=1 | slow | 25 | 2.000 | 2.000 |" in text and "| slower |" in text
    assert "2 vimp cells: 1 within, 0 undecided, 1 slower" in text and "**not met: some cell is shown slower**" in text


# ----------------------------------------------------------------------------- the thread target's test
def test_threads_test_is_the_sign_test_of_the_median():
    from scipy import stats

    # 25 rounds, 7 ratios above the limit: p (within) = P(Bin(25, 1/2) <= 7), the one-sided sign test
    ratios = [1.2] * 7 + [1.0] * 18
    test = bench.threads_test(ratios, limit=1.1)
    assert test["pairs"] == 25 and test["verdict"] == "within"
    assert test["p_within"] == pytest.approx(stats.binom.cdf(7, 25, 0.5), rel=1e-12)
    assert test["p_slower"] == pytest.approx(stats.binom.sf(6, 25, 0.5), rel=1e-12)  # P(Bin >= 7) of 7 above
    # the 95% upper bound of the median is an order statistic: the smallest x_(k) with P(Bin(25, 1/2) < k) >= 0.95
    k = int(np.argmax(stats.binom.cdf(np.arange(26) - 1, 25, 0.5) >= 0.95))
    assert test["upper"] == pytest.approx(sorted(ratios)[k - 1])
    # all above: shown slower; five rounds show "within" only when all five are below (p = 1/32), four never
    assert bench.threads_test([1.3] * 25)["verdict"] == "slower"
    five = bench.threads_test([1.0] * 5)
    assert five["p_within"] == pytest.approx(1 / 32) and five["verdict"] == "within"
    four = bench.threads_test([1.0] * 4)
    assert four["p_within"] == pytest.approx(1 / 16) and four["verdict"] == "undecided"
    assert bench.threads_test([]) is None and bench.threads_test([float("nan")]) is None


def test_peers_option_times_only_those_peers():
    args = bench.parse_args(["run", "--quick", "--peers", "vimp, numpy"])
    assert args.peers == {"vimp", "numpy"}
    cell = Cell("tiny", lambda: equicorrelated(400, 3), [Method("a", "numpy", _fine), Method("b", "somepeer", _fine)])
    rows = bench.measure_cell(cell, 1, log=lambda *a, **k: None, peers={"numpy"})
    assert [row["method"] for row in rows] == ["a"]


def test_peers_option_refuses_unknown_names(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["run", "--quick", "--peers", "vimp,nosuchpeer"])
    assert "--peers" in capsys.readouterr().err


# ----------------------------------------------------------------------------- one tiny workload
def test_tiny_workload_through_the_sklearn_adapter():
    X, y = equicorrelated(400, 4, seed=1)  # beta = (1, 1, 0, 0)
    importances = held_out(lambda *a: sklearn_.permutation_importance(*a, model=ols))(X, y)
    # OLS PaP with MSE: importance_j ~ 2 beta_j^2 Var(X_j) = 2 for the active features, ~0 for the others;
    # with 200 test rows its Monte Carlo SE is about 0.3 (sd of the per-row loss difference ~ 4, over
    # sqrt(200)), so 0.5 is more than 4 SE from either value.
    assert np.all(importances[:2] > 0.5) and np.all(np.abs(importances[2:]) < 0.5)
    cell = Cell("tiny", lambda: (X, y), [
        Method("sklearn", "scikit-learn", held_out(lambda *a: sklearn_.permutation_importance(*a, model=ols))),
        Method("vimp", "vimp", held_out(lambda *a: vimp_.pap(*a, model=ols)))],
        [Ratio("sklearn / vimp", "sklearn", "vimp", ">=", 1)])
    rows = bench.measure_cell(cell, 1, log=lambda *a, **k: None)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert all(row["summary"][s]["median"] > 0 for row in rows for s in ("default", "one"))
    ratios = bench.evaluate_ratios(cell, rows)
    assert ratios[0]["default"]["value"] > 0 and ratios[0]["one"]["value"] > 0
    memory = bench.memory_of(cell, cell.methods[0])
    assert memory["kept_mb"] is not None and memory["data_mb"] == pytest.approx((X.nbytes + y.nbytes) / 1e6)
    if memory["peak_reset"]:
        assert memory["peak_mb"] >= 0


def test_busy_option_runs_one_other_process_and_says_so():
    assert bench.parse_args(["run", "--quick"]).busy is False
    assert bench.parse_args(["run", "--quick", "--busy"]).busy is True
    with bench.busy_process(False) as none:
        assert none is None
    with bench.busy_process() as busy:
        assert busy.poll() is None  # running
    assert busy.returncode is not None  # stopped with the block
    report = {"mode": "quick", "started": "2026-01-01 00:00:00", "command": "python -m benchmarks run --quick --busy",
              "rounds": 1, "machine": {}, "workloads": [], "busy": True}
    assert "Busy machine (`--busy`)" in bench.write_markdown(report)
    assert "Busy machine" not in bench.write_markdown({**report, "busy": False})


# ----------------------------------------------------------------------------- the thread target over stages
def _report(rows, ratios=()):
    return {"workloads": [{"key": "W5", "cells": [{"name": "n=1", "ratios": list(ratios), "rows": [
        {"method": m, "peer": "vimp", "status": "ok", "paired": paired} for m, paired in rows]}]}]}


def test_combine_stages_splits_the_level_and_never_pools_pairs():
    # 8 of 8 ratios below 1.10: p = 1/256 in one stage; 5 of 5 below: p = 1/32, within at 0.05 but not at 0.025
    five = [1.0] * 5
    one = bench.combine_stages([_report([("a", five)])], alpha=0.05)
    assert [(e["method"], e["verdict"]) for e in one] == [("a", "within")]
    two = bench.combine_stages([_report([("a", five)]), _report([("b", [1.0] * 8)])], alpha=0.05)
    verdicts = {e["method"]: e["verdict"] for e in two}
    assert verdicts == {"a": "undecided", "b": "within"}  # a's stage 1 at 0.025: 1/32 is not enough
    assert two[0]["stages"][0]["p_within"] == pytest.approx(1 / 32)
    # the same row in two stages: tested apart (4 + 4 pairs would give 1/256 pooled, each alone 1/16: undecided)
    apart = bench.combine_stages([_report([("a", [1.0] * 4)]), _report([("a", [1.0] * 4)])], alpha=0.05)
    assert apart[0]["verdict"] == "undecided" and sorted(apart[0]["stages"]) == [0, 1]
    # within in one stage and slower in the other: a conflict, never "within"
    both = bench.combine_stages([_report([("a", [1.0] * 8)]), _report([("a", [1.5] * 8)])], alpha=0.05)
    assert both[0]["verdict"] == "conflict"
    # runs of one stage ('+') must time disjoint rows
    stage = bench.combine_stages([[_report([("a", [1.0] * 8)]), _report([("b", [1.0] * 8)])]], alpha=0.05)
    assert {e["method"] for e in stage} == {"a", "b"}
    with pytest.raises(ValueError, match="disjoint"):
        bench.combine_stages([[_report([("a", [1.0] * 8)]), _report([("a", [1.0] * 8)])]])


def test_halving_spends_the_level_over_any_number_of_stages(tmp_path):
    import json

    assert bench.stage_levels(3, 0.05) == pytest.approx([0.05 / 3] * 3)
    assert bench.stage_levels(4, 0.05, "halving") == pytest.approx([0.025, 0.0125, 0.00625, 0.003125])
    assert sum(bench.stage_levels(30, 0.05, "halving")) < 0.05
    with pytest.raises(ValueError, match="spending"):
        bench.stage_levels(2, 0.05, "pocock")
    # 6 of 6 below the limit: p = 1/64 = 0.0156, within at stage 1 (0.025) but not at stage 2 (0.0125)
    six = [1.0] * 6
    first = bench.combine_stages([_report([("a", six)]), _report([("b", six)])], 0.05, "halving")
    assert {e["method"]: e["verdict"] for e in first} == {"a": "within", "b": "undecided"}
    # equal spending over two stages tests both at 0.025: both within
    equal = bench.combine_stages([_report([("a", six)]), _report([("b", six)])], 0.05)
    assert {e["method"]: e["verdict"] for e in equal} == {"a": "within", "b": "within"}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report([("a", six)])))
    b.write_text(json.dumps(_report([("b", six)])))
    out = tmp_path / "v.md"
    assert bench.main(["verdict", str(a), str(b), "--spending", "halving", "--output", str(out)]) == 0
    assert "at levels 0.025, 0.0125" in out.read_text()


def test_combine_stages_tests_a_threads_target_at_its_own_limit():
    ratios = [{"name": "a: default / one thread (at least as fast)", "measure": "threads", "target": "<= 1"}]
    entries = bench.combine_stages([_report([("a", [1.05] * 8)], ratios)])
    by_limit = {e["limit"]: e["verdict"] for e in entries}
    assert by_limit == {1.1: "within", 1.0: "slower"}
    text = bench.verdict_markdown(entries, ["x.json"], 0.05)
    assert "**at most 10% slower** (1 rows): 1 within" in text and "**at least as fast** (1 rows): 0 within" in text
    assert "**not met** at level 0.05" in text


def test_verdict_command_reads_runs_and_refuses_overlapping_stage(tmp_path, capsys):
    import json

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report([("x", [1.0] * 8)])))
    b.write_text(json.dumps(_report([("y", [1.2] * 8)])))
    out = tmp_path / "verdict.md"
    assert bench.main(["verdict", str(a), str(b), "--output", str(out)]) == 0
    text = out.read_text()
    assert "Runs (stages, in order)" in text and "| W5 | n=1 | x | 1.10 | 8, 1.000, 1.000, 0.0039 | – | within |" in text
    assert "| W5 | n=1 | y | 1.10 | – | 8, 1.200, 1.200, 1 | slower |" in text
    assert bench.main(["verdict", f"{a}+{a}"]) == 2
    assert "disjoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["verdict", str(tmp_path / "missing.json")])


def test_cells_and_methods_options_choose_rows():
    args = bench.parse_args(["run", "--full", "--workloads", "W1,W5", "--cells", "W1/n=10000 p=50, w5/n=10000 p=10",
                             "--methods", "vimp LOCO|vimp PaP (10 perms, shared)"])
    assert args.cells == {("W1", "n=10000 p=50"), ("W5", "n=10000 p=10")}
    assert args.methods == {"vimp LOCO", "vimp PaP (10 perms, shared)"}
    cell = Cell("tiny", lambda: equicorrelated(400, 3), [Method("a", "numpy", _fine), Method("b, c", "numpy", _fine)])
    rows = bench.measure_cell(cell, 1, log=lambda *a, **k: None, methods={"b, c"})
    assert [row["method"] for row in rows] == ["b, c"]
    for bad in (["--cells", "W2/n=1"], ["--cells", "n=10000 p=50"], ["--methods", "|"]):
        with pytest.raises(SystemExit):
            bench.parse_args(["run", "--full", "--workloads", "W1"] + bad)
