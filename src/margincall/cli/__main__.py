"""``python -m margincall.cli``: the same command as ``margincall``."""

from margincall.cli import main

main()
