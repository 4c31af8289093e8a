"""``python -m brightingest``: the command line (see :mod:`brightingest.cli`)."""

from brightingest.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
