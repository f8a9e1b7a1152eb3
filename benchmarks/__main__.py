"""``python -m benchmarks run --quick|--full``: see :mod:`benchmarks.run`."""

import os
import sys

# Progress bars (fippy's, and any peer's tqdm) would write to the terminal inside timed calls: off, unless asked.
os.environ.setdefault("TQDM_DISABLE", "1")

from benchmarks.run import main  # noqa: E402

sys.exit(main())
