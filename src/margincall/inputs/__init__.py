"""The estimator's inputs that need the simulator: a scenario's or a run folder's start state.

This package sits above both :mod:`margincall.estimate` and :mod:`margincall.sim` (and below the
callers: the CLI, the web dashboard and sweeps). The estimator takes arrays and gives arrays
(:func:`margincall.estimate.positions.map_from_venue` reads a venue it is handed); building that
venue from a scenario means running the simulator's set-up, which the estimator must not import.
So the sources that start from a scenario or a run folder live here, and
:func:`~margincall.inputs.maps.load_source` chooses among all four sources of ``margincall
stress``.
"""
