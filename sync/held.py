"""Paths of a job that a sync leaves alone (the link policy, :mod:`suite.jobfiles`).

Each side's snapshot lists what it skipped (links that leave the job, fifos, unreadable files)
and marks links it carries as ``[size, mtime_ns, inode, target]``. Sync never descends into either:
a file below such a path on the other side cannot be written here without going through the
link, so it stays where it is, reported, and so does the link.
"""

IN_THE_WAY = "a link or skipped item on the other side is in the way"


def is_link(state):
    """Whether a snapshot's file state (``[size, mtime_ns, inode]``, a link
    ``[size, mtime_ns, inode, target]``) is a link kept inside its job."""
    return len(state) > 3


def link_target(state):
    """The target of a link's file state; None for a file."""
    return state[3] if is_link(state) else None


def held_paths(local, remote):
    """``(rels, found)`` for a job present on both sides: every path to leave alone, and
    report items ``{"path", "side", "reason"}`` for those that only the comparison finds (the
    snapshots' own skipped items are reported by the caller)."""
    rels, stops = set(), {}
    for side, job in (("local", local), ("remote", remote)):
        for rel in job.get("skipped", ()):
            rels.add(rel)
            stops[rel] = side
        if job.get("links"):
            stops.update((rel, side) for rel, f in job["files"].items() if is_link(f))
    found = []
    if not stops:
        return rels, found
    for side, job in (("local", local), ("remote", remote)):
        for rel in job["files"]:
            if "/" not in rel or rel in rels:
                continue
            parts = rel.split("/")
            for k in range(1, len(parts)):
                above = "/".join(parts[:k])
                if above in stops:
                    rels.add(rel)
                    found.append({"path": rel, "side": side, "reason": IN_THE_WAY})
                    if above not in rels:  # a link carried there: it cannot replace a directory
                        rels.add(above)
                        found.append({"path": above, "side": stops[above],
                                      "reason": IN_THE_WAY})
                    break
    return rels, found
