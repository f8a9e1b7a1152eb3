"""The version of vimp, written here only.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), ``vimp.__version__`` and the command line's
``--version`` import it, and ``tests/test_packaging.py`` checks that ``CITATION.cff`` says the same.
"""

from __future__ import annotations

__version__ = "0.1.0"
