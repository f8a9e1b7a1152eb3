"""Sphinx configuration of the vimp documentation.

Build with ``python -m sphinx -b html docs docs/_build/html`` from the repository root. The build needs no
network access: intersphinx is loaded but has no inventories to fetch.
"""

import importlib.util
import os
import sys

# Use the installed package when there is one (``pip install -e .``); otherwise the source tree.
sys.path.insert(0, os.path.abspath(".."))

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
    "sphinx.ext.doctest",
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

# The doctest builder (python -m sphinx -b doctest docs docs/_build/doctest) runs the tutorials' code.
doctest_global_setup = "import numpy as np"
import doctest as _doctest  # noqa: E402

# Tables printed by pandas end lines with spaces; compare outputs as the package's own doctests do.
doctest_default_flags = (_doctest.ELLIPSIS | _doctest.IGNORE_EXCEPTION_DETAIL | _doctest.DONT_ACCEPT_TRUE_FOR_1
                         | _doctest.NORMALIZE_WHITESPACE)

templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
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
