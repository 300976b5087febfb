"""The sync identity of a project copy, ``.suite/id``: a random id made once, naming this copy
in sync records and lock files on its peers and in submission books.

A core module of its own: a sync asks for it on every run, and it must not import
:mod:`suite.flow` (the workflow engine) to do so."""

import os
import re

from . import layout
from .errors import SuiteError
from .jsonio import write_atomic

_IDENTITY = re.compile(r"[0-9a-f]{32}\Z")


def identity(path):
    """The random id of the project copy at ``path`` (``.suite/id``, made once).

    Raises SuiteError if the file holds something else (naming the file and the fix)."""
    fn = os.path.join(path, layout.SUITE_DIR, "id")
    try:
        with open(fn) as f:
            value = f.read().strip()
    except FileNotFoundError:
        import uuid  # once per copy: not on the path of every sync

        os.makedirs(os.path.dirname(fn), exist_ok=True)
        # only if still absent: of processes asking at once, the first one's id stands
        # (replacing it would leave the others with an id the copy no longer has)
        write_atomic(fn, uuid.uuid4().hex.encode(), expect=None)
        with open(fn) as f:
            value = f.read().strip()
    if not _IDENTITY.match(value):
        raise SuiteError(f"{fn} does not hold a sync identity (32 hex digits): "
                         f"{value!r:.80}; remove the file and a new one is made")
    return value


def is_identity(value):
    """Whether ``value`` (a string) has the form of a sync identity (32 hex digits)."""
    return bool(_IDENTITY.match(value))
