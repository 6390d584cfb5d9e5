"""Venue rules: margin formulas, liquidation prices and ADL rankings of each exchange."""
