"""Small helpers about processes (used by interrupted-work cleanup and the direct scheduler)."""

import os


def pid_alive(pid):
    """True if a process with ``pid`` runs (a zombie, finished but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
