"""The event log: one record layout shared by numpy, numba kernels, Arrow and Parquet."""

from margincall.events.schema import EVENT_DTYPE, EventKind, RejectReason, Side

__all__ = ["EVENT_DTYPE", "EventKind", "RejectReason", "Side"]
