"""Packaging: one version, the distribution name, ``py.typed``, ``python -m vimp`` and the type hints.

The version is written once (``vimp/_version.py``); pyproject reads it, ``CITATION.cff`` must say the same.
The distribution is not named ``vimp`` (that name on the package index belongs to an unrelated vim plugin
manager); the README's install line names it. Every public signature carries type hints (``mypy`` checks
them in CI, see ``.ci/run``; here: that none is missing).
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vimp
import vimp.linear
import vimp.simulation
from vimp import _version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

pytestmark = pytest.mark.skipif(not PYPROJECT.is_file(), reason="needs the source tree (pyproject.toml)")


def _pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    with PYPROJECT.open("rb") as fh:
        return tomllib.load(fh)


def _normalise(name):
    """A distribution name as the package index compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _citation_version():
    lines = [line for line in (ROOT / "CITATION.cff").read_text(encoding="utf-8").splitlines()
             if line.startswith("version:")]
    assert len(lines) == 1, "CITATION.cff must have one top-level 'version:' line"
    return lines[0].split(":", 1)[1].strip().strip("'\"")


# ------------------------------------------------------------------------------------------------ version
def test_version_is_single_sourced():
    project = _pyproject()["project"]
    assert "version" not in project, "pyproject must not write the version by hand"
    assert "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vimp._version.__version__"}
    assert vimp.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d+)?", vimp.__version__)
    # No other module of the package writes a version literal.
    for path in (ROOT / "vimp").rglob("*.py"):
        if path.name != "_version.py":
            assert not re.search(r"^__version__\s*=", path.read_text(encoding="utf-8"), re.M), path


def test_citation_version_matches_package():
    assert _citation_version() == vimp.__version__


def test_python_m_vimp_version():
    out = subprocess.run([sys.executable, "-m", "vimp", "--version"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"vimp {vimp.__version__}"


def test_python_m_vimp_without_command_prints_help():
    out = subprocess.run([sys.executable, "-m", "vimp"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: vimp ")


# ------------------------------------------------------------------------------------------ name, data
def test_distribution_name_is_ours_and_in_readme():
    name = _pyproject()["project"]["name"]
    assert _normalise(name) != "vimp", "the name vimp on the package index is an unrelated package"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install ([A-Za-z0-9][A-Za-z0-9._-]*)\b(?![\[\"'])", readme)
    assert installs == [name], f"README's install-by-name lines {installs} must name {name!r}"
    assert _pyproject()["project"]["scripts"]["vimp"] == "vimp.cli:main"


def test_py_typed_is_package_data():
    assert importlib.resources.files("vimp").joinpath("py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["vimp"]


def test_installed_metadata():
    name = _pyproject()["project"]["name"]
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"vimp is not installed as the distribution {name!r}")
    assert _normalise(dist.metadata["Name"]) == _normalise(name)
    assert dist.version == vimp.__version__
    assert "Typing :: Typed" in (dist.metadata.get_all("Classifier") or [])
    assert any(ep.name == "vimp" and ep.value == "vimp.cli:main" for ep in dist.entry_points
               if ep.group == "console_scripts")
    files = [str(f) for f in (dist.files or [])]
    if any(f.endswith("vimp/__init__.py") for f in files):  # a regular install (not editable)
        assert any(f.endswith("vimp/py.typed") for f in files)


def test_quick_benchmark_outputs_are_ignored():
    """What ``--quick`` runs write (``results/<name>_quick.csv|json|png``) is ignored by git."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    written = ["benchmarks/results/threads_quick.csv", "benchmarks/results/threads_quick.json"]
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for stem in re.findall(r"[\"']([a-z_]+_quick)(?:\.[a-z]+)?[\"']", path.read_text(encoding="utf-8")):
            written += [f"benchmarks/results/{stem}.{ext}" for ext in ("csv", "json", "png")]
    assert len(written) > 10, written  # crossfit, gcm, linear, nuisance_warning, simulation, threads
    # --no-index: the rules themselves, also for a quick output that is committed (it stays tracked).
    out = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert sorted(out.stdout.split()) == sorted(written), out.stderr
    full = ["benchmarks/results/gcm.json", "benchmarks/results/simulation.csv"]
    out = subprocess.run(["git", "check-ignore", "--no-index", *full], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert out.stdout.split() == [], "a full run's results must not be ignored"


# ------------------------------------------------------------------------------------------ type hints
def _public_objects():
    for module in (vimp, vimp.linear, vimp.simulation):
        for name in module.__all__:
            if name != "__version__":
                yield f"{module.__name__}.{name}", getattr(module, name)


def _public_callables():
    """(qualified name, function) of every public function and public method of a public class."""
    for qualname, obj in _public_objects():
        if inspect.isclass(obj):
            if issubclass(obj, Warning):
                continue
            for cls in obj.__mro__:
                if not cls.__module__.startswith("vimp"):
                    continue
                for attr, member in vars(cls).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    if isinstance(member, (classmethod, staticmethod)):
                        member = member.__func__
                    elif isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        yield f"{qualname}.{attr}", member
        elif inspect.isfunction(obj):
            yield qualname, obj


def test_public_signatures_are_annotated():
    missing = []
    checked = 0
    for qualname, function in _public_callables():
        checked += 1
        signature = inspect.signature(function)
        params = list(signature.parameters.values())
        for k, param in enumerate(params):
            if k == 0 and param.name in ("self", "cls"):
                continue
            if param.annotation is inspect.Parameter.empty:
                missing.append(f"{qualname}({param.name})")
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{qualname} -> ?")
    assert checked > 60, checked  # the public API: estimators, results, closed forms, simulation
    assert not missing, "public signatures without type hints: " + ", ".join(missing)
