"""margincall: simulate, estimate and watch liquidation cascades in leveraged crypto markets."""

from pathlib import Path as _Path

from margincall.core import kernel_cache as _kernel_cache

__version__ = "0.1.0"

# before any kernel is decorated: numba caches in a folder keyed on the kernels' sources
_kernel_cache.configure(_Path(__file__).resolve().parent, __version__)
