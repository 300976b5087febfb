"""Ranges of job ids: how a sync that lists both sides whole (a first sync, ``--checksum``,
``--exclude``) goes through the jobs a range at a time instead (issue #18: a first sync of a
million jobs held both whole listings, 2.9 GB). Job ids are MD5 digests in hex, so ranges of
equal width in the id space hold about as many jobs each on either side."""

import bisect
import math


def bounds(count, per_range):
    """The ranges ``[(lo, hi)]`` (``lo <= id < hi``; ``lo`` of the first is ``""``, ``hi`` of
    the last None) that cut the id space into enough equal parts for ``count`` jobs to come
    about ``per_range`` to a part (one range, the whole space, for a few)."""
    parts = max(1, math.ceil(count / max(1, per_range)))
    cuts = [f"{k * (1 << 32) // parts:08x}" for k in range(1, parts)]
    return list(zip(["", *cuts], [*cuts, None], strict=True))


def in_range(job_id, lo, hi):
    """Whether ``job_id`` is in the range ``lo <= id < hi`` (``hi`` None: no end)."""
    return lo <= job_id and (hi is None or job_id < hi)


class SortedIds:
    """Job ids (32 characters each), sorted and held as one bytes object: a million cost
    32 MB here against ~90 MB as a list of strings (a side lists its workspace once and
    takes a range of it at a time)."""

    WIDTH = 32

    def __init__(self, ids):
        ids = sorted(ids)
        if any(len(job_id) != self.WIDTH for job_id in ids):
            raise ValueError("job ids are 32 characters")
        self._blob = "".join(ids).encode("ascii")

    def __len__(self):
        return len(self._blob) // self.WIDTH

    def __getitem__(self, k):
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._blob[k * self.WIDTH:(k + 1) * self.WIDTH].decode("ascii")

    def between(self, lo, hi):
        """The ids in ``lo <= id < hi`` (``hi`` None: to the end), in order."""
        a = bisect.bisect_left(self, lo)
        b = len(self) if hi is None else bisect.bisect_left(self, hi)
        blob, width = self._blob, self.WIDTH
        return [blob[k * width:(k + 1) * width].decode("ascii") for k in range(a, b)]
