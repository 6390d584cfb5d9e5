"""The web dashboard (``margincall serve``): a FastAPI app over run folders, the estimator and
the monitor report. It reads runs and calls the estimator; it holds no simulation logic."""
