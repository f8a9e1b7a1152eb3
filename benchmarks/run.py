"""One benchmark command: vimp against every peer on the workloads W1-W5 of issue 12.

Usage (from the repository root)::

    python -m benchmarks run --quick      # small sizes, 2 rounds: results/peers_quick.{md,json} (git-ignored)
    python -m benchmarks run --full       # the issue's sizes, 5 rounds: results/peers.{md,json}
    python -m benchmarks run --quick --workloads W1,W4 --memory none
    python -m benchmarks run --full --peers vimp --rounds 25 --memory none   # the thread target, stage 1
    python -m benchmarks verdict STAGE1.json STAGE2.json   # the thread target over stages (combine_stages)

How a cell is measured:

* every method of the cell runs once per round, in turn (``_common.time_in_rounds``; the order rotated from
  round to round, so that no method always runs right after the same other one), under each thread
  setting - ``default`` (the pools as the process has them; vimp's own thread policy applies) and ``one``
  (every threadpoolctl pool limited to one thread and ``numba.set_num_threads(1)``: ``_common.thread_limit(1)``)
  - the order of the two settings alternating from round to round; one warm-up call of each method on a few
  rows comes first (imports, Numba's kernels), untimed; each timed call waits 0.3 s first (untimed,
  ``_common.SPIN_PAUSE``), so that the spinning worker threads of the method before do not share the cores
  with it;
* reported per method and setting: the median, min and max over rounds, and the median over rounds of the
  paired ratio default / one, flagged where default threads are more than 10 % slower;
* the thread target judged per cell by a one-sided test of that median (:func:`threads_test`: the sign
  test on the rounds' paired log ratios, ``scipy.stats.quantile_test``, with the distribution-free 95 %
  bound of the median from order statistics): "within" where the median is shown to be at most 1.10
  (p < 0.05), "slower" where it is shown to exceed it, "undecided" where the rounds are too few or too
  noisy. The claim "no cell is more than 10 % slower" is the intersection of the cells' alternatives, so
  the intersection-union test (Berger 1982, Technometrics 24, 295-300) asserts it at level 5 % when every
  cell's own 5 % test says "within", with no correction for the number of cells. Five rounds give a bound no
  sharper than the largest of five ratios (p >= 1/32): use ``--rounds 25`` or more, and ``--peers vimp``
  to time only vimp's methods (the target is about vimp's thread policy);
* memory (default threads) from a fresh process per (cell, method): ``python -m benchmarks memory ...`` makes
  the data, makes one warm-up call on a few rows, resets the peak (``/proc/self/clear_refs``), reads ``VmRSS``
  (the baseline), calls the method once and reports ``VmHWM`` minus the baseline (peak) and ``VmRSS`` minus the
  baseline with the result still alive (kept), from ``/proc/self/status`` (not ``ru_maxrss``, which survives
  ``exec``);
* a peer that is not installed, fails to import or raises is a row saying so (the exception's first line).

The script reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import SPIN_PAUSE
from benchmarks.peers import PEERS, Method, first_line, peer_status

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = ("default", "one")
SLOWER = 1.10  # default threads more than 10 % slower than one thread: flagged
THREADS_ALPHA = 0.05  # level of the per-cell test of the thread target (threads_test)
MEMORY_TIMEOUT = 1800  # seconds for one memory process


# ----------------------------------------------------------------------------- arguments
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="vimp against every peer: one benchmark command (issue 12)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the workloads, write results/peers[_quick].{md,json}")
    mode = run.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick",
                      help="small sizes, 2 rounds, memory of the cells with memory targets (a few minutes)")
    mode.add_argument("--full", action="store_const", dest="mode", const="full",
                      help="the issue's sizes, 5 rounds, memory of every method")
    run.add_argument("--workloads", default="W1,W2,W3,W4,W5",
                     help="comma-separated subset of W1,W2,W3,W4,W5 (default: all)")
    run.add_argument("--rounds", type=int, default=None, help="rounds (default 2 quick, 5 full; >= 5 with --full)")
    run.add_argument("--memory", choices=("all", "targets", "none"), default=None,
                     help="which methods get a memory process: all, those named by a memory target, or none "
                          "(default: all with --full, targets with --quick)")
    run.add_argument("--threads", choices=("both", "default", "one"), default="both",
                     help="thread settings to time (default: both)")
    run.add_argument("--control", action="store_true",
                     help="an A/A control: the 'default' setting is limited to one thread too, so both settings "
                          "run the same code and the default / 1 column shows the harness's own noise")
    run.add_argument("--busy", action="store_true",
                     help="time with one other CPU-bound process running (python -c 'while True: pass', started "
                          "before the first cell and stopped after the last): a busy laptop; results go to "
                          "peers[_quick]_busy.{md,json}")
    run.add_argument("--peers", default=None,
                     help="comma-separated peers whose methods are timed (e.g. 'vimp' for the thread target; "
                          "default: every method); ratios to a method left out show as -")
    run.add_argument("--methods", default=None,
                     help="'|'-separated method labels to time (labels contain commas), e.g. "
                          "'vimp LOCO|vimp GCM (cv=5)' (default: every method of --peers)")
    run.add_argument("--cells", default=None,
                     help="comma-separated cells as WORKLOAD/CELL, e.g. 'W1/n=10000 p=50,W5/n=10000 p=10' (default: "
                          "every cell of the chosen workloads): a later stage of the thread test (verdict)")
    run.add_argument("--output", type=Path, default=None, help="folder for the results (default benchmarks/results)")
    verdict = sub.add_parser("verdict", help="the thread target over one or more runs' JSON (stages of one test)")
    verdict.add_argument("reports", nargs="+",
                         help="peers*.json of the runs, one stage each in the order they ran; 'A.json+B.json' makes "
                              "runs of disjoint rows one stage")
    verdict.add_argument("--alpha", type=float, default=THREADS_ALPHA,
                         help=f"level of the joint claim (default {THREADS_ALPHA:g}), split over the stages as --spending says")
    verdict.add_argument("--spending", choices=("equal", "halving"), default="equal",
                         help="levels of the stages: alpha / stages each (equal, for a number of stages fixed in "
                              "advance) or alpha / 2, alpha / 4, ... (halving: stages may be added later)")
    verdict.add_argument("--output", type=Path, default=None, help="a Markdown file for the verdict (default: print)")
    memory = sub.add_parser("memory", help="(internal) peak and kept memory of one method in this fresh process")
    memory.add_argument("--mode", choices=("quick", "full"), required=True)
    memory.add_argument("--workload", required=True)
    memory.add_argument("--cell", required=True)
    memory.add_argument("--method", required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        keys = [k.strip().upper() for k in args.workloads.split(",") if k.strip()]
        unknown = sorted(set(keys) - {"W1", "W2", "W3", "W4", "W5"})
        if unknown or not keys:
            parser.error(f"--workloads: expected a comma-separated subset of W1,W2,W3,W4,W5, got {args.workloads!r}")
        args.workloads = keys
        if args.rounds is None:
            args.rounds = 5 if args.mode == "full" else 2
        if args.rounds < 1 or (args.mode == "full" and args.rounds < 5):
            parser.error(f"--rounds: expected at least {5 if args.mode == 'full' else 1}, got {args.rounds}")
        if args.memory is None:
            args.memory = "all" if args.mode == "full" else "targets"
        if args.peers is not None:
            from benchmarks.peers import PEERS

            known = {"vimp", "loop", "numpy", *PEERS.values()}
            peers = {k.strip() for k in args.peers.split(",") if k.strip()}
            if not peers or not peers <= known:
                parser.error(f"--peers: expected a comma-separated subset of {sorted(known)}, got {args.peers!r}")
            args.peers = peers
        if args.methods is not None:
            args.methods = {part.strip() for part in args.methods.split("|") if part.strip()}
            if not args.methods:
                parser.error("--methods: expected '|'-separated method labels")
        if args.cells is not None:
            cells = {part.strip() for part in args.cells.split(",") if part.strip()}
            bad = sorted(c for c in cells if "/" not in c or c.split("/", 1)[0].upper() not in args.workloads)
            if not cells or bad:
                parser.error(f"--cells: expected WORKLOAD/CELL items of the chosen workloads (e.g. 'W1/n=10000 p=50'), "
                             f"got {args.cells!r}")
            args.cells = {(c.split("/", 1)[0].upper(), c.split("/", 1)[1].strip()) for c in cells}
    elif args.command == "verdict":
        if not 0 < args.alpha < 1:
            parser.error(f"--alpha: expected a level in (0, 1), got {args.alpha}")
        args.reports = [[Path(part) for part in stage.split("+") if part] for stage in args.reports]
        missing = [str(p) for stage in args.reports for p in stage if not p.is_file()]
        if missing or not all(args.reports):
            parser.error(f"reports: expected the JSON files of runs, missing {missing}")
    return args


# ----------------------------------------------------------------------------- timing
#: ``--control``: the "default" setting is one thread as well (an A/A control of the paired ratio).
CONTROL = {"on": False}


def _setting(name):
    from benchmarks._common import thread_limit

    return contextlib.nullcontext() if name == "default" and not CONTROL["on"] else thread_limit(1)


def _summary(times):
    if not times:
        return None
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "rounds": len(times),
            "times": times}


def threads_test(paired, limit=SLOWER, alpha=THREADS_ALPHA) -> dict[str, Any] | None:
    """One-sided tests of the median paired ratio default / one thread against ``limit``.

    The sign test of the median of the rounds' log ratios (``scipy.stats.quantile_test``: distribution-free,
    so a few rounds slowed by the machine move it no more than their count), both ways: ``p_within`` for
    "the median is below ``limit``", ``p_slower`` for "it is above". ``upper`` and ``lower`` are the
    one-sided ``1 - alpha`` bounds of the median ratio (order statistics of the ratios, the same test
    inverted). ``verdict`` is ``"within"`` (``p_within < alpha``), ``"slower"`` (``p_slower < alpha``) or
    ``"undecided"``; None without pairs.
    """
    from scipy import stats

    ratios = np.asarray([r for r in paired if r is not None and np.isfinite(r) and r > 0], dtype=float)
    if ratios.size == 0:
        return None
    logs, q = np.log(ratios), float(np.log(limit))
    below = stats.quantile_test(logs, q=q, p=0.5, alternative="less")
    above = stats.quantile_test(logs, q=q, p=0.5, alternative="greater")
    upper = float(np.exp(below.confidence_interval(1 - alpha).high))
    lower = float(np.exp(above.confidence_interval(1 - alpha).low))
    p_within, p_slower = float(below.pvalue), float(above.pvalue)
    verdict = "within" if p_within < alpha else "slower" if p_slower < alpha else "undecided"
    return {"pairs": int(ratios.size), "limit": float(limit), "median": float(np.median(ratios)),
            "upper": upper, "lower": lower, "p_within": p_within, "p_slower": p_slower, "verdict": verdict}


def measure_cell(cell, rounds, settings=SETTINGS, log=print, peers=None, methods=None) -> list[dict[str, Any]]:
    """Time every method of ``cell`` (of ``peers`` and with the labels ``methods`` only, when given): one
    row per method (status, per-setting summaries, paired ratio and its :func:`threads_test`)."""
    from benchmarks._common import time_in_rounds

    rows, active = {}, {}
    for method in cell.methods:
        if (peers is not None and method.peer not in peers) or (methods is not None and method.label not in methods):
            continue
        ok, status, _ = peer_status(method.requires)
        rows[method.label] = {"method": method.label, "peer": method.peer, "status": "ok" if ok else status,
                              "times": {s: [] for s in settings}, "by_round": {s: {} for s in settings}}
        if ok:
            active[method.label] = method.function
    data = cell.make_data()
    small = cell.warmup_args(data)
    for label, function in list(active.items()):  # warm-up: untimed
        try:
            function(*small)
        except Exception as exc:  # noqa: BLE001 - a failing peer is a row, never a crash
            rows[label]["status"] = f"failed: {first_line(exc)}"
            del active[label]
    for r in range(rounds):
        order = settings if r % 2 == 0 else tuple(reversed(settings))
        for setting in order:
            if not active:
                break
            labels = list(active)  # the order rotates from round to round: no method always follows the same one
            k = r % len(labels)
            with _setting(setting):
                runs, _, notes = time_in_rounds({label: active[label] for label in labels[k:] + labels[:k]}, data, 1,
                                                pause=True)
            for label, times in runs.items():
                rows[label]["times"][setting].extend(times)
                rows[label]["by_round"][setting][r] = times[0]
            for label, note in notes.items():
                rows[label]["status"] = note.splitlines()[0]
                active.pop(label, None)
        log(f"    round {r + 1}/{rounds} done", flush=True)
    out = []
    for row in rows.values():
        row["summary"] = {s: _summary(row["times"][s]) for s in settings}
        paired = [row["by_round"]["default"][r] / row["by_round"]["one"][r]
                  for r in row["by_round"].get("default", {}) if r in row["by_round"].get("one", {})]
        row["default_over_one"] = statistics.median(paired) if paired else None
        row["slower_with_threads"] = bool(paired) and statistics.median(paired) > SLOWER
        row["paired"] = paired
        row["threads_test"] = threads_test(paired)
        del row["times"], row["by_round"]
        out.append(row)
    return out


# ----------------------------------------------------------------------------- memory
def _status_kb():
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _trim_heap():
    """Give the heap's free pages back to the system (glibc), so that the baseline RSS holds no garbage."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline may then include freed pages
        pass


def memory_of(cell, method) -> dict[str, Any]:
    """Run in a fresh process: peak and kept memory (MB) of one call of ``method`` on ``cell``'s data."""
    data = cell.make_data()
    data_mb = sum(getattr(a, "nbytes", 0) for a in data) / 1e6
    method.function(*cell.warmup_args(data))  # imports and compiled kernels are not the call's memory
    gc.collect()
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        reset = True
    except OSError:
        reset = False
    before = _status_kb()
    start = time.perf_counter()
    result = method.function(*data)
    seconds = time.perf_counter() - start
    after = _status_kb()
    kept = after["VmRSS"] - before["VmRSS"]
    del result
    return {"peak_mb": (after["VmHWM"] - before["VmRSS"]) / 1e3 if reset else None,
            "kept_mb": kept / 1e3, "baseline_mb": before["VmRSS"] / 1e3, "data_mb": data_mb,
            "peak_reset": reset, "seconds": seconds}


def _find(mode, key, cell_name, label):
    from benchmarks.workloads import workloads

    for workload in workloads(mode):
        if workload.key == key:
            for cell in workload.cells:
                if cell.name == cell_name:
                    for method in cell.methods:
                        if method.label == label:
                            return cell, method
    raise ValueError(f"no method {label!r} in cell {cell_name!r} of {key} ({mode})")


def memory_in_subprocess(mode, key, cell, method: Method) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks", "memory", "--mode", mode, "--workload", key,
               "--cell", cell.name, "--method", method.label]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=MEMORY_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {MEMORY_TIMEOUT} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:200]}"}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- ratios
def _value(row, ratio, setting):
    if row is None or row["status"] != "ok":
        return None
    if ratio.measure == "time":
        summary = row["summary"].get(setting)
        return summary["median"] if summary else None
    memory = row.get("memory") or {}
    return memory.get("peak_mb" if ratio.measure == "peak" else "kept_mb")


def evaluate_ratios(cell, rows, settings=SETTINGS) -> list[dict[str, Any]]:
    by_label = {row["method"]: row for row in rows}
    out = []
    for ratio in cell.ratios:
        entry = {"name": ratio.name, "target": f"{ratio.op} {ratio.threshold:g}", "measure": ratio.measure}
        if ratio.measure == "threads":  # the paired default / one-thread ratio of one method, tested
            row = by_label.get(ratio.numerator) or {}
            ok = row.get("status") == "ok"
            value = row.get("default_over_one") if ok else None
            test = threads_test(row["paired"], limit=ratio.threshold) if ok and row.get("paired") else None
            # met: shown below the threshold at level THREADS_ALPHA; not met: shown above; None: undecided
            met = None if test is None or test["verdict"] == "undecided" else test["verdict"] == "within"
            entry["default"] = {"value": value, "met": met, "test": test}
            out.append(entry)
            continue
        for setting in (settings if ratio.measure == "time" else ("default",)):
            num = _value(by_label.get(ratio.numerator), ratio, setting)
            if ratio.denominator == "data":
                memory = (by_label.get(ratio.numerator) or {}).get("memory") or {}
                den = memory.get("data_mb")
            else:
                den = _value(by_label.get(ratio.denominator), ratio, setting)
            value = num / den if num is not None and den else None
            met = None if value is None else (value <= ratio.threshold if ratio.op == "<=" else value >= ratio.threshold)
            entry[setting] = {"value": value, "met": met}
        out.append(entry)
    return out


# ----------------------------------------------------------------------------- output
def _fmt_s(summary):
    if not summary:
        return "–"
    m = summary["median"]
    return f"{m:.3g}" if m >= 0.001 else f"{m:.2e}"


def _fmt(value, digits=3):
    return "–" if value is None else f"{value:.{digits}g}"


def write_markdown(report) -> str:
    """The report as Markdown: one table per cell (times, threads, memory), then its target ratios."""
    lines = [f"# vimp against its peers ({report['mode']} run)", "",
             f"Started {report['started']} (UTC); command `{report['command']}`; {report['rounds']} rounds; "
             f"load average at start {report['machine'].get('load_average_at_start')}.", "",
             "Times are medians over rounds in seconds, model fit included, each call after an untimed pause of "
             f"{SPIN_PAUSE} s (the previous method's spinning BLAS threads would otherwise share the cores); "
             "*default* is the process's own thread "
             "pools (vimp's thread policy applies), *1 thread* limits every threadpoolctl pool and Numba to one. "
             "*default / 1* is the median over rounds of the paired ratio; **bold** marks a cell where default "
             f"threads are more than {SLOWER - 1:.0%} slower. Memory (MB, default threads) is from a fresh process "
             "per method: peak = VmHWM minus the RSS before the call, kept = RSS after it with the result alive. "
             "A floor (numpy lstsq) timed at default threads pays BLAS's own thread overhead: ratios to a floor "
             "are fairest in the 1-thread column."
             + (" **A/A control (`--control`): the *default* column is one thread as well**, so both columns run "
                "the same code and *default / 1* and the flags measure the harness's noise, not threads."
                if report.get("control") else "")
             + (" **Busy machine (`--busy`): one other CPU-bound process (`python -c 'while True: pass'`) ran "
                "throughout the timing**; the memory processes ran beside it as well."
                if report.get("busy") else ""),
             "", "Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()
                                         if k not in ("threadpools", "load_average_at_start")), ""]
    for workload in report["workloads"]:
        lines += [f"## {workload['key']}: {workload['title']}", ""]
        for cell in workload["cells"]:
            lines += [f"### {cell['name']}", "",
                      "| method | peer | default (s) | 1 thread (s) | default / 1 | peak MB | kept MB | status |",
                      "|---|---|---:|---:|---:|---:|---:|---|"]
            for row in cell["rows"]:
                ratio = _fmt(row["default_over_one"], 2)
                if row["slower_with_threads"]:
                    ratio = f"**{ratio}**"
                memory = row.get("memory") or {}
                status = row["status"]
                if memory.get("error"):
                    status += f"; memory: {memory['error']}"
                summary = row["summary"]
                lines.append(f"| {row['method']} | {row['peer']} | {_fmt_s(summary.get('default'))} | "
                             f"{_fmt_s(summary.get('one'))} | {ratio} | {_fmt(memory.get('peak_mb'))} | "
                             f"{_fmt(memory.get('kept_mb'))} | {status.replace('|', '/')} |")
            if cell["ratios"]:
                lines += ["", "| target | default | 1 thread | target | met (default / 1 thread) |",
                          "|---|---:|---:|---|---|"]
                for entry in cell["ratios"]:
                    d, o = entry.get("default", {}), entry.get("one", {})
                    met = "/".join({True: "yes", False: "NO", None: "–"}[x.get("met")] for x in (d, o) if x)
                    test = d.get("test")
                    if test is not None:  # a "threads" target: the one-sided test, not the point value
                        met = (f"{ {'within': 'yes', 'slower': 'NO'}.get(test['verdict'], 'undecided')} "
                               f"(95% bound {test['upper']:.3g}, {test['pairs']} pairs)")
                    lines.append(f"| {entry['name']} | {_fmt(d.get('value'))} | {_fmt(o.get('value'))} | "
                                 f"{entry['target']} | {met} |")
            lines.append("")
    flagged = [f"{w['key']} {c['name']}: {r['method']} ({r['default_over_one']:.2f})"
               for w in report["workloads"] for c in w["cells"] for r in c["rows"] if r["slower_with_threads"]]
    lines += ["## Cells where default threads are more than 10 % slower than one thread", ""]
    lines += [f"- {item}" for item in flagged] or ["- none"]
    lines += _threads_section(report)
    return "\n".join(lines) + "\n"


def _threads_section(report) -> list[str]:
    """The thread target per vimp cell: :func:`threads_test` of its paired ratios, and the joint verdict."""
    tested = [(w["key"], c["name"], r) for w in report["workloads"] for c in w["cells"] for r in c["rows"]
              if r.get("peer") == "vimp" and r.get("status") == "ok" and r.get("threads_test")]
    if not tested:
        return []
    alpha = f"{THREADS_ALPHA:g}"
    lines = ["", f"## Thread target per vimp cell: is default / one thread at most {SLOWER:.2f}?", "",
             "The sign test of the median paired ratio over the rounds (`scipy.stats.quantile_test` on the log "
             f"ratios, one-sided, level {alpha}): *within* where the median is shown to be at most "
             f"{SLOWER:.2f}, *slower* where it is shown to be above, *undecided* otherwise. *95% bound* is the "
             "distribution-free upper bound of the median ratio from the order statistics. Every cell *within* "
             f"asserts \"no vimp cell is more than {SLOWER - 1:.0%} slower\" at level {alpha} by the "
             "intersection-union test (Berger 1982), with no correction for the number of cells.", "",
             "| workload | cell | method | pairs | median | 95% bound | p (within) | verdict |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for key, cell, row in tested:
        t = row["threads_test"]
        lines.append(f"| {key} | {cell} | {row['method']} | {t['pairs']} | {t['median']:.3f} | {t['upper']:.3f} | "
                     f"{t['p_within']:.2g} | {t['verdict']} |")
    counts = {v: sum(r["threads_test"]["verdict"] == v for *_, r in tested) for v in ("within", "undecided", "slower")}
    joint = ("met: every cell within" if counts["within"] == len(tested) else
             "not met: some cell is shown slower" if counts["slower"] else "not shown: some cells undecided")
    lines += ["", f"{len(tested)} vimp cells: {counts['within']} within, {counts['undecided']} undecided, "
                  f"{counts['slower']} slower. Joint verdict (intersection-union, level {alpha}): **{joint}**."]
    return lines


# ----------------------------------------------------------------------------- the thread target over stages
def _thread_limits(cell):
    """The limits that ``cell``'s vimp rows are tested against: 1.10 for every row, and a row's own
    "threads" target (e.g. 1.0, "at least as fast", at W5's largest n)."""
    limits = {}
    for entry in cell.get("ratios", []):
        if entry.get("measure") == "threads":
            label = entry["name"].split(":")[0]
            limits[label] = float(entry["target"].split()[-1])
    return limits


def stage_levels(stages, alpha=THREADS_ALPHA, spending="equal") -> list[float]:
    """The level of each of ``stages`` stages: ``alpha / stages`` each (``"equal"``: Bonferroni, for a number
    of stages fixed before the first ran), or ``alpha / 2**k`` for stage ``k = 1, 2, ...`` (``"halving"``:
    the levels sum to less than ``alpha`` however many stages follow, so a stage may be added after the
    earlier ones were seen, and no earlier stage's level changes when it is)."""
    if spending == "equal":
        return [alpha / stages] * stages
    if spending == "halving":
        return [alpha / 2 ** (k + 1) for k in range(stages)]
    raise ValueError(f"spending: expected 'equal' or 'halving', got {spending!r}")


def combine_stages(reports, alpha=THREADS_ALPHA, spending="equal") -> list[dict[str, Any]]:
    """The thread test of every vimp row over runs that are stages of one test.

    Each run's rows are tested on their own pairs (pairs are never pooled across runs) at its stage's
    level (:func:`stage_levels`: ``alpha / len(reports)`` each, or halving from ``alpha / 2``): by
    Bonferroni a row's claim ("within" or "slower") errs with probability at most ``alpha`` however the
    stages' rows were chosen, so a later stage may time only the rows an earlier one left undecided. A
    row is "within" if some stage shows it within, "slower" if some stage shows it slower, "conflict" if
    both, "undecided" otherwise. Rows with a "threads" target (at least as fast) get a second entry
    tested against that target's threshold.
    """
    stages = [stage if isinstance(stage, list) else [stage] for stage in reports]
    levels = stage_levels(len(stages), alpha, spending)
    entries = {}
    for stage, report in ((s, r) for s, group in enumerate(stages) for r in group):
        for workload in report["workloads"]:
            for cell in workload["cells"]:
                limits = _thread_limits(cell)
                for row in cell["rows"]:
                    if row.get("peer") != "vimp" or row.get("status") != "ok" or not row.get("paired"):
                        continue
                    for limit in sorted({SLOWER, limits.get(row["method"], SLOWER)}, reverse=True):
                        key = (workload["key"], cell["name"], row["method"], limit)
                        test = threads_test(row["paired"], limit=limit, alpha=levels[stage])
                        entry = entries.setdefault(key, {"workload": key[0], "cell": key[1], "method": key[2],
                                                         "limit": limit, "stages": {}})
                        if stage in entry["stages"]:
                            raise ValueError(f"stage {stage + 1} times {key[2]!r} of {key[0]} {key[1]} in two runs: "
                                             "the runs of one stage must time disjoint rows")
                        entry["stages"][stage] = test
    out = []
    for entry in entries.values():
        verdicts = {t["verdict"] for t in entry["stages"].values()}
        entry["verdict"] = ("conflict" if {"within", "slower"} <= verdicts else "within" if "within" in verdicts
                            else "slower" if "slower" in verdicts else "undecided")
        out.append(entry)
    return out


def verdict_markdown(entries, names, alpha, spending="equal") -> str:
    """:func:`combine_stages` as Markdown: a row per (cell, method, limit), a column per stage, the joint verdict."""
    k = len(names)
    levels = stage_levels(k, alpha, spending)
    if spending == "equal":
        how = f"at level {alpha:g} / {k} = {alpha / k:.3g} (Bonferroni over the stages"
    else:
        how = (f"at levels {', '.join(f'{v:.3g}' for v in levels)} ({alpha:g} / 2, / 4, ...: Bonferroni over "
               "any number of stages, so that a stage added after the earlier ones were seen changes no level")
    lines = [f"# The thread target over {k} stage{'s' if k > 1 else ''}", "",
             f"Runs (stages, in order): {', '.join(f'`{n}`' for n in names)}. Each stage's rows are tested on their "
             f"own pairs {how}; pairs are never "
             "pooled): the sign test of the median paired ratio default / one thread "
             "(`scipy.stats.quantile_test` on the log ratios). A row is *within* if some stage shows its median "
             "at most the limit, *slower* if some stage shows it above. Every row *within* asserts the target "
             f"for all rows at level {alpha:g} (intersection-union test, Berger 1982).", "",
             "| workload | cell | method | limit | " + " | ".join(f"stage {s + 1}: pairs, median, bound, p"
                                                          for s in range(k)) + " | verdict |",
             "|---|---|---|---:|" + "---|" * k + "---|"]
    for e in entries:
        cols = []
        for s in range(k):
            t = e["stages"].get(s)
            cols.append("–" if t is None else f"{t['pairs']}, {t['median']:.3f}, {t['upper']:.3f}, {t['p_within']:.2g}")
        lines.append(f"| {e['workload']} | {e['cell']} | {e['method']} | {e['limit']:.2f} | " + " | ".join(cols)
                     + f" | {e['verdict']} |")
    for limit, title in ((SLOWER, f"at most {SLOWER - 1:.0%} slower"), (1.0, "at least as fast")):
        part = [e for e in entries if e["limit"] == limit]
        if not part:
            continue
        counts = {v: sum(e["verdict"] == v for e in part) for v in ("within", "undecided", "slower", "conflict")}
        joint = ("met" if counts["within"] == len(part) else
                 "not met" if counts["slower"] else "not shown")
        lines += ["", f"**{title}** ({len(part)} rows): {counts['within']} within, {counts['undecided']} undecided, "
                      f"{counts['slower']} slower, {counts['conflict']} conflicting: **{joint}** at level {alpha:g}."]
    return "\n".join(lines) + "\n"


def _peer_modules():
    modules = {}
    for module, name in PEERS.items():
        if module in ("vimp", "sklearn"):
            continue
        ok, _, imported = peer_status(module)
        modules[name] = imported if ok else None
    return modules


def run(args, log=print) -> dict[str, Any]:
    from benchmarks._common import machine_info
    from benchmarks.workloads import workloads

    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {"mode": args.mode, "started": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
              "command": "python -m benchmarks " + " ".join(getattr(args, "argv", ["run", f"--{args.mode}"])),
              "rounds": args.rounds, "machine": machine_info(_peer_modules()), "workloads": []}
    report["machine"]["load_average_at_start"] = load
    for name in report["machine"]:
        if report["machine"][name] == "installed":  # a peer without __version__ (fippy, vimpy): its distribution's
            with contextlib.suppress(Exception):
                from importlib.metadata import version

                report["machine"][name] = version(name)
    settings = SETTINGS if args.threads == "both" else (args.threads,)
    CONTROL["on"] = report["control"] = bool(getattr(args, "control", False))
    report["busy"] = bool(getattr(args, "busy", False))
    with busy_process(report["busy"]):
        _run_workloads(args, report, settings, workloads, log)
    return report


@contextlib.contextmanager
def busy_process(on=True):
    """One other CPU-bound process for the duration of the block (``--busy``); nothing when ``on`` is false."""
    if not on:
        yield None
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it reach the CPU
        yield busy
    finally:
        busy.kill()
        busy.wait()


def _run_workloads(args, report, settings, workloads, log):
    for workload in workloads(args.mode):
        if workload.key not in args.workloads:
            continue
        log(f"{workload.key}: {workload.title}", flush=True)
        cells = []
        chosen = getattr(args, "cells", None)
        for cell in workload.cells:
            if chosen is not None and (workload.key, cell.name) not in chosen:
                continue
            log(f"  {cell.name}", flush=True)
            rows = measure_cell(cell, args.rounds, settings, log=log, peers=getattr(args, "peers", None),
                                methods=getattr(args, "methods", None))
            wanted = {label for r in cell.ratios if r.measure in ("peak", "kept")
                      for label in (r.numerator, r.denominator)}
            by_label = {method.label: method for method in cell.methods}
            for row in rows:
                method = by_label[row["method"]]
                if row["status"] == "ok" and (args.memory == "all" or (args.memory == "targets" and method.label in wanted)):
                    row["memory"] = memory_in_subprocess(args.mode, workload.key, cell, method)
            cells.append({"name": cell.name, "rows": rows, "ratios": evaluate_ratios(cell, rows, settings)})
        report["workloads"].append({"key": workload.key, "title": workload.title, "cells": cells})


def main(argv=None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command == "memory":
        cell, method = _find(args.mode, args.workload, args.cell, args.method)
        print(json.dumps(memory_of(cell, method)), flush=True)
        return 0
    if args.command == "verdict":
        reports = [[json.loads(path.read_text(encoding="utf-8")) for path in stage] for stage in args.reports]
        names = [" + ".join(str(path) for path in stage) for stage in args.reports]
        try:
            entries = combine_stages(reports, args.alpha, args.spending)
        except ValueError as exc:
            print(f"python -m benchmarks verdict: error: {exc}", file=sys.stderr)
            return 2
        text = verdict_markdown(entries, names, args.alpha, args.spending)
        if args.output is None:
            print(text, end="")
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"written: {args.output}")
        return 0
    started = time.perf_counter()
    report = run(args)
    report["seconds"] = time.perf_counter() - started
    folder = args.output or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = ("peers" if args.mode == "full" else "peers_quick") + ("_busy" if args.busy else "")
    (folder / f"{stem}.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    (folder / f"{stem}.md").write_text(write_markdown(report), encoding="utf-8")
    print(f"written: {folder / stem}.md and .json ({report['seconds']:.0f} s)")
    return 0
