"""The options of ``benchmarks/threads.py`` (the thread-policy benchmark); nothing here times anything."""

import argparse
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bench():
    path = os.path.join(ROOT, "benchmarks", "threads.py")
    spec = importlib.util.spec_from_file_location("bench_threads", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_threads", module)
    spec.loader.exec_module(module)
    return module


def test_sizes_reads_n_p_pairs(bench):
    assert bench._sizes("1000000:20,1000000:50") == [(1_000_000, 20), (1_000_000, 50)]
    for bad in ("1000000", "1e6:20", "10:5", "100:1", "100:20,"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench._sizes(bad)


@pytest.mark.parametrize("argv", [["--tag", "x"], ["--sizes", "1000:10", "--tag", "a/b"]])
def test_tag_needs_sizes_and_a_plain_name(bench, argv, capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(argv)
    assert info.value.code == 2
    assert "--tag" in capsys.readouterr().err


def test_threshold_is_the_size_from_which_default_never_loses(bench):
    rows = [{"threads": "default", "cells": c, "ratio_to_one": r}
            for c, r in ((10, 1.4), (100, 0.9), (1000, 1.2), (10_000, 0.8), (100_000, 0.95))]
    assert bench.threshold_from(rows) == 10_000
    rows.append({"threads": "default", "cells": 100_000, "ratio_to_one": 1.01})  # another method loses there
    assert bench.threshold_from(rows) is None
