"""Agents: each group sees a read-only view of the market and returns commands (order batches).

Agents never touch venue state. Populations of traders are arrays, not objects.
"""
