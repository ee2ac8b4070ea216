"""``python -m ditgp`` runs the command line."""

from ditgp.cli import main

raise SystemExit(main())
