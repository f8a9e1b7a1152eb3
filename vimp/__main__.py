"""``python -m vimp``: the command line, as the ``vimp`` console script."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
