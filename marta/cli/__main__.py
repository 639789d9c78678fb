"""``python -m marta.cli`` = the ``marta`` command."""

from marta.cli import main

raise SystemExit(main())
