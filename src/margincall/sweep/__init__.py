"""Monte Carlo and parameter sweeps: a TOML spec, local processes or Ray, a resumable store.

:mod:`~margincall.sweep.spec` reads a spec into a study (its runs), :mod:`~margincall.sweep.runner`
checks everything and runs what is missing into a :mod:`margincall.store`,
:mod:`~margincall.sweep.backends` runs tasks (:mod:`~margincall.sweep.task`) locally or on Ray.
"""
