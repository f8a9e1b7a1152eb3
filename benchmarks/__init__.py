"""vimp's benchmarks: ``python -m benchmarks run --quick|--full`` times vimp against every peer.

The single-purpose scripts beside this file (``linear.py``, ``gcm.py``, ``simulation.py``, ...) still run as
``python benchmarks/<name>.py`` and import the helpers as the top-level module ``_common``; so that the package
can import those scripts' functions too (``benchmarks.simulation``), this folder is put on ``sys.path`` here.
"""

import os as _os
import sys as _sys

_HERE = _os.path.dirname(_os.path.abspath(__file__))
if _HERE not in _sys.path:
    _sys.path.append(_HERE)
