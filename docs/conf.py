"""Sphinx configuration of the vimp documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` from the repository root, after
``pip install ".[docs]"``; then ``python docs/check_offline.py docs/_build/html`` checks that no page loads
a script from the network. The build needs no network access: intersphinx has no inventories to fetch,
MathJax is bundled (``sphinx-mathjax-offline``) and the gallery (``docs/examples/plot_*.py``) is executed
by sphinx-gallery on this machine, which writes ``docs/auto_examples/`` (not committed).
"""

import importlib.util
import os
import sys

# The package of this checkout (the repository root above docs/), ahead of any installed copy, so that
# autodoc and the gallery document the tree being built. The gallery's dask workers are other processes:
# they import the installed vimp (``pip install ".[docs]"``, or PYTHONPATH=. when building a worktree).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)

import vimp  # noqa: E402

project = "vimp"
author = "The vimp developers"
copyright = "2026, The vimp developers"
version = vimp.__version__
release = vimp.__version__


def _have(module):
    return importlib.util.find_spec(module) is not None


extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    # The theory page's ``.. doctest::`` block; run it with ``python -m sphinx -b doctest docs /tmp/dt``.
    "sphinx.ext.doctest",
    "sphinx_gallery.gen_gallery",
    # The reliability page draws its coverage figure from benchmarks/results/*.csv at build time.
    "matplotlib.sphinxext.plot_directive",
    "sphinxcontrib.bibtex",
    # MathJax from the package's own copy (copied to _static/mathjax), not from a CDN.
    "sphinx-mathjax-offline",
]
# numpydoc renders the package's numpydoc docstrings best; napoleon is the fallback that ships with Sphinx.
extensions.append("numpydoc" if _have("numpydoc") else "sphinx.ext.napoleon")

# No inventories: the build must work offline.
intersphinx_mapping = {}

autosummary_generate = True
autodoc_default_options = {}  # members are listed page by page in api.rst
autodoc_typehints = "none"
# A name that does not exist yet (vimp.GCM, vimp.LinearFitter while they are being written) gives a warning
# from autodoc, not an error; the rest of the page still builds.

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

# References: docs/references.bib, cited with :cite:p:`key` / :cite:t:`key`.
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# The gallery: every docs/examples/plot_*.py is run at build time (figures and printed output come from
# that run) and becomes a page under auto_examples/. A failing example fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "min_reported_time": 1,
    # The execution-times pages load jQuery and DataTables from a CDN: not written (the build must render
    # offline). Each example's page states its running time, and the build log lists them.
    "write_computation_times": False,
}

templates_path = []
# docs/examples/ holds the gallery's sources; sphinx-gallery turns them into auto_examples/.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples"]
source_suffix = {".rst": "restructuredtext"}
master_doc = "index"
pygments_style = "sphinx"

if _have("pydata_sphinx_theme"):
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
elif _have("furo"):
    html_theme = "furo"
else:
    html_theme = "alabaster"
html_title = f"vimp {release}"
html_static_path = ["_static"]
