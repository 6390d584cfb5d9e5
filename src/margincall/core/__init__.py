"""Core building blocks: integer units, the seeded RNG tree and error types."""
