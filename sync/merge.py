"""Three-way merge of JSON documents, key by key at any depth (Unison's rules, per key).

A key changed on one side only takes that side's value; the same change on both sides is no
conflict; different changes on both sides are a conflict. Lists and scalars are merged whole.
A conflicting key is left as it is on each side, and the sync record keeps its old (base)
value, so the conflict is reported again until someone resolves it.
"""

from suite.statepoint import same  # strict JSON equality: 1 is not 1.0

MISSING = object()
LOCAL, REMOTE, BASE = 0, 1, 2


def merge(base, local, remote):
    """Return ``(for_local, for_remote, for_record, conflicts)``.

    ``conflicts`` lists ``(dotted key, local value, remote value)``; a deleted key is
    :data:`MISSING`. ``for_record`` holds the base value at conflicting keys.
    """
    conflicts = []
    results = tuple(_merge(base, local, remote, (), pick, conflicts if pick == LOCAL else [])
                    for pick in (LOCAL, REMOTE, BASE))
    return (*results, conflicts)


def resolve(base, local, remote, prefer):
    """Merge, resolving every conflict for ``prefer`` ("local" or "remote"): one result."""
    pick = LOCAL if prefer == "local" else REMOTE
    conflicts = []
    return _merge(base, local, remote, (), pick, conflicts), conflicts


def _merge(base, local, remote, path, pick, conflicts):
    if same(local, remote):
        return local
    if same(base, local):
        return remote
    if same(base, remote):
        return local
    if isinstance(local, dict) and isinstance(remote, dict):
        b = base if isinstance(base, dict) else {}
        out = {}
        for key in list(local) + [k for k in remote if k not in local]:
            value = _merge(b.get(key, MISSING), local.get(key, MISSING),
                           remote.get(key, MISSING), path + (key,), pick, conflicts)
            if value is not MISSING:
                out[key] = value
        return out
    conflicts.append((".".join(path), local, remote))
    return (local, remote, base)[pick]


def unsent(base, side, other):
    """What the record holds for a document when the merge was written to ``other`` but not
    to ``side`` (``side`` changed while the sync ran): ``side``'s value as listed, with the
    base value at conflicting keys. Then the next sync sees the other side's changes as still
    to come and ``side``'s (already sent) as done."""
    if same(side, other) or same(base, side) or same(base, other):
        return side
    if isinstance(side, dict) and isinstance(other, dict):
        b = base if isinstance(base, dict) else {}
        out = {}
        for key in list(side) + [k for k in other if k not in side]:
            value = unsent(b.get(key, MISSING), side.get(key, MISSING), other.get(key, MISSING))
            if value is not MISSING:
                out[key] = value
        return out
    return base
