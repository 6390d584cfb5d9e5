"""The cascade estimator: liquidation maps, the cascade fixed point, stress grids, forecasts."""
