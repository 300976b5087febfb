"""``python -m suite`` runs the command line (useful as --remote-suite on clusters)."""

from suite.cli import console

console()
