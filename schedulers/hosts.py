"""Which scheduler (and template) a cluster uses, recognised by its host name.

A login node's name says which cluster this is more reliably than the commands on PATH (a
workstation may have ``sbatch`` for a remote cluster; a cluster may have several schedulers'
commands installed). User entries come first, from ``$SUITE_HOSTS`` or
``~/.config/suite/hosts.json``::

    [{"pattern": "login[0-9]+\\\\.mycluster\\\\.edu", "scheduler": "slurm",
      "template": "mycluster.sh.j2"}]

``pattern`` is a regular expression matched against the whole short host name and the whole
fully qualified one; ``template`` is optional.
"""

import json
import os
import re
import socket

from suite.errors import SuiteError

#: well-known clusters (public host names of their login nodes) and their schedulers
KNOWN = [
    {"pattern": r".*\.frontier\.olcf\.ornl\.gov", "scheduler": "slurm"},
    {"pattern": r".*\.summit\.olcf\.ornl\.gov", "scheduler": "lsf"},
    {"pattern": r".*\.anvil\.rcac\.purdue\.edu", "scheduler": "slurm"},
    {"pattern": r".*bridges2.*", "scheduler": "slurm"},
    {"pattern": r".*\.expanse\.sdsc\.edu", "scheduler": "slurm"},
    {"pattern": r".*\.delta\.(internal\.)?ncsa\.(illinois\.)?edu", "scheduler": "slurm"},
    {"pattern": r"gl(-login)?\d+\.arc-ts\.umich\.edu", "scheduler": "slurm"},
    {"pattern": r".*\.stampede2\.tacc\.utexas\.edu", "scheduler": "slurm"},
]


def user_entries():
    """The user's host entries (``$SUITE_HOSTS`` or ``~/.config/suite/hosts.json``)."""
    path = os.environ.get("SUITE_HOSTS") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "suite",
        "hosts.json")
    try:
        with open(path) as f:
            entries = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: not a readable JSON list of host entries ({exc}); fix or "
                         "remove it") from None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("pattern"), str)
            and isinstance(e.get("scheduler"), str) for e in entries):
        raise SuiteError(f"{path}: expected a list of objects with string 'pattern' and "
                         "'scheduler' keys")
    for e in entries:
        try:
            re.compile(e["pattern"])
        except re.error as exc:
            raise SuiteError(f"{path}: bad pattern {e['pattern']!r}: {exc}") from None
    return entries


def match(hostname=None, entries=None):
    """The first entry (user entries, then :data:`KNOWN`) whose pattern matches this host's
    short name, else its fully qualified name (looked up only then), or ``hostname``; None if
    none does."""
    entries = user_entries() + KNOWN if entries is None else entries
    for name in ([hostname] if hostname else _names()):
        for entry in entries:
            if re.fullmatch(entry["pattern"], name):
                return entry
    return None


def _names():
    """The short host name, then (only if asked for: it may wait on DNS) the full one."""
    short = socket.gethostname()
    yield short
    try:
        fqdn = socket.getfqdn()
    except OSError:
        return
    if fqdn != short:
        yield fqdn
