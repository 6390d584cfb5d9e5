"""margincall: simulate, estimate and watch liquidation cascades in leveraged crypto markets."""

__version__ = "0.1.0"
