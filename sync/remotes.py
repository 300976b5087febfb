"""Named remotes, stored in ``.suite/remotes.json`` of the project."""

import json
import os
import re

from suite import layout
from suite.jsonio import read_json, write_atomic

from .replica import SyncError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def _path(project):
    return os.path.join(project.path, layout.SUITE_DIR, "remotes.json")


def list_remotes(project):
    """``{name: {"url": ..., ...settings}}``."""
    try:
        return read_json(_path(project))
    except FileNotFoundError:
        return {}


def add_remote(project, name, url, **settings):
    """Add (or replace) the remote ``name`` at ``url`` (a local path, ``[user@]host:path`` or
    ``ssh://user@host:port/path``)."""
    if not _NAME.match(name):
        raise SyncError(f"remote name {name!r}: use letters, digits, '_', '-' and '.'")
    if not url:
        raise SyncError("a remote needs a URL")
    remotes = list_remotes(project)
    remotes[name] = {"url": url, **{k: v for k, v in settings.items() if v is not None}}
    os.makedirs(os.path.dirname(_path(project)), exist_ok=True)
    write_atomic(_path(project), json.dumps(remotes, indent=2, sort_keys=True).encode())


def remove_remote(project, name):
    remotes = list_remotes(project)
    if name not in remotes:
        raise SyncError(f"no remote named {name!r} (see 'suite remote list')")
    del remotes[name]
    write_atomic(_path(project), json.dumps(remotes, indent=2, sort_keys=True).encode())


def resolve_remote(project, dest, init=False):
    """``(url, label, settings)`` for a remote name or a URL (with ``init``, a directory that
    does not exist yet is a local path, not an unknown remote name)."""
    remotes = list_remotes(project)
    if dest in remotes:
        info = dict(remotes[dest])
        return info.pop("url"), dest, info
    if dest.startswith("ssh://"):
        return dest, dest[6:].split("/")[0].split("@")[-1].split(":")[0], {}
    if ":" in dest.split("/")[0] and not os.path.exists(dest):
        return dest, dest.split(":")[0].split("@")[-1], {}
    if os.path.isdir(dest) or init or "/" in dest or dest.startswith("~"):
        path = os.path.abspath(os.path.expanduser(dest))
        return path, os.path.basename(path) or "remote", {}
    raise SyncError(f"{dest} is neither a remote name (see 'suite remote list') nor an "
                    "existing project directory (add --init to create a project there)")
