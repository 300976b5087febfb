"""Linked views: a readable tree of symbolic links into the workspace, laid out by a path
schema (the same schemas and escaping as archives, :mod:`suite.pathschema`).

The last component of each job's path is a link to the job directory, relative by default so
the view survives moving the whole project. Re-running updates the view in place: links of
removed jobs and directories left empty go, new jobs appear, links whose target changed are
re-pointed. suite records what it created in ``PREFIX/.suite-view.json`` and never deletes
anything it did not create; a foreign file in the way is reported, not overwritten.
"""

import errno
import json
import os
from dataclasses import dataclass, field

from .cursor import unreadable_reasons
from .errors import SuiteError
from .jsonio import write_atomic
from .pathschema import PathSchema

MANIFEST = ".suite-view.json"


class ViewError(SuiteError):
    """A view that cannot be created or updated."""


@dataclass
class ViewResult:
    """What a view update did."""

    prefix: str
    schema: str
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    conflicts: list = field(default_factory=list)  # paths in the way (not ours)
    #: jobs left out because their state point cannot be read: id -> why (a view cannot
    #: place them; a filter cannot tell whether they match)
    unreadable: dict = field(default_factory=dict)

    def to_json(self):
        return dict(self.__dict__)


def create_view(project, prefix=None, *, schema=None, jobs=None, filter=None, absolute=False):
    """Create or update the linked view of ``project`` under ``prefix`` (default: ``view`` in
    the project directory) for ``jobs`` (or the jobs matching ``filter``; default all).
    Jobs whose state point cannot be read are left out and named in the result's
    ``unreadable``. Raises ViewError for a damaged view manifest, SchemaCollisionError when
    two jobs would share a path."""
    prefix = os.path.abspath(prefix if prefix is not None else project.fn("view"))
    index = project.index
    if jobs is None:
        sps = dict(index.find_statepoints(_tree(filter)))
        unreadable = unreadable_reasons(project)
    else:
        ids = [j.id if hasattr(j, "id") else str(j) for j in jobs]
        sps = index.statepoints(ids)
        chosen = set(ids)
        unreadable = {i: why for i, why in unreadable_reasons(project).items() if i in chosen}
    schema_obj = PathSchema.parse(schema) if schema else PathSchema.auto(sps)
    desired = schema_obj.paths or schema_obj.check(sps.items(), verify=False)  # collisions first
    old = _load(prefix)
    old_links, old_dirs = old.get("links", {}), set(old.get("dirs", []))
    os.makedirs(prefix, exist_ok=True)
    result = ViewResult(prefix, str(schema_obj), unreadable=unreadable)
    new_links, dirs = {}, set(old_dirs)
    ws = project.workspace
    # one relpath; each link adds ../ per level. A link's ../ climbs from where the link
    # physically is, so the prefix is resolved (it may be reached through a link); the
    # workspace keeps its own name (a link to scratch stays a link) below its resolved parent
    ws_seen = os.path.join(os.path.realpath(os.path.dirname(ws)), os.path.basename(ws))
    ws_from_prefix = os.path.relpath(ws_seen, os.path.realpath(prefix))
    # the manifest is a file anyone can edit: what it lists is only removed when it is inside
    # the view and (links) points into the workspace, as the links suite makes do
    ours = _Ownership(prefix, ws)

    # links that should no longer be there (job removed or path changed)
    wanted = {path: job_id for job_id, path in desired.items()}
    for path, target in old_links.items():
        if path in wanted:
            continue
        full = os.path.join(prefix, path)
        if _points_to(full, target) and ours.link(full):
            os.unlink(full)
            result.removed += 1

    to_link = []
    for path, job_id in sorted(wanted.items()):
        full = os.path.join(prefix, path)
        if absolute:
            target = os.path.join(ws, job_id)
        else:
            target = "../" * path.count("/") + ws_from_prefix + "/" + job_id
        recorded = old_links.get(path)
        if recorded == target and _points_to(full, target):
            new_links[path] = target
            result.unchanged += 1
            continue
        if os.path.lexists(full) and not (recorded and _points_to(full, recorded)
                                          and ours.link(full)):
            result.conflicts.append(path)  # not ours: leave it
            continue
        _make_parents(prefix, path, dirs)
        to_link.append((target, full, bool(recorded)))
        new_links[path] = target
        if recorded:
            result.updated += 1
        else:
            result.created += 1
    _link_all(to_link)

    if (result.created, result.updated, result.removed) == (0, 0, 0) and \
            old.get("schema") == str(schema_obj):
        return result  # nothing changed: directories and manifest are still right
    # directories we made that are now empty go (deepest first); rmdir never removes content
    keep = set()
    for path in new_links:
        parts = path.split("/")
        keep.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for d in sorted(dirs - keep, key=lambda d: d.count("/"), reverse=True):
        if not ours.directory(os.path.join(prefix, d)):
            continue
        try:
            os.rmdir(os.path.join(prefix, d))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            keep.add(d)  # holds something that is not ours
    dirs = sorted(d for d in dirs if d in keep)
    write_atomic(os.path.join(prefix, MANIFEST), json.dumps(
        {"version": 1, "schema": str(schema_obj), "absolute": absolute, "dirs": dirs,
         "links": new_links}, indent=0).encode())
    return result


def _tree(filter):
    from .query import compile_filter

    return compile_filter(filter)


def _load(prefix):
    path = os.path.join(prefix, MANIFEST)
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        if os.path.isdir(prefix) and os.listdir(prefix):
            raise ViewError(
                f"{prefix} exists, is not empty and is not a suite view (no {MANIFEST}); "
                "choose another prefix") from None
        return {}
    except ValueError as exc:
        raise ViewError(f"{path} is damaged ({exc}); remove the view directory and run "
                        "'suite view' again") from None
    if not isinstance(data, dict) or not isinstance(data.get("links"), dict):
        raise ViewError(f"{path} is not a suite view manifest")
    return data


class _Ownership:
    """Whether a path the manifest lists is one suite may remove: inside the view (after
    resolving links in its parents) and, for a link, pointing at a job in the workspace."""

    def __init__(self, prefix, ws):
        self.prefix = os.path.realpath(prefix)
        self.ws = os.path.realpath(ws)

    def _inside(self, full):
        parent = os.path.realpath(os.path.dirname(full))
        return parent == self.prefix or parent.startswith(self.prefix + os.sep)

    def link(self, full):
        return (self._inside(full) and os.path.islink(full)
                and os.path.dirname(os.path.realpath(full)) == self.ws)

    def directory(self, full):
        return (self._inside(full) and os.path.realpath(full) != self.prefix
                and not os.path.islink(full) and os.path.isdir(full))


def _points_to(full, target):
    try:
        return os.readlink(full) == target
    except OSError:
        return False


def _make_parents(prefix, path, dirs):
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in dirs:
            continue
        full = os.path.join(prefix, *parts[:i])
        try:
            os.mkdir(full)
            dirs.add(d)  # ours: we made it
        except FileExistsError:
            if not os.path.isdir(full) or os.path.islink(full):
                raise ViewError(f"{full} is in the way of the view (not a directory); "
                                "move it away") from None


def _link_all(pairs):
    """Create many links; a few threads overlap the (kernel-bound) calls."""
    if len(pairs) < 1000:
        _link_chunk(pairs)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(_link_chunk, pairs[i::4]) for i in range(4)]:
            future.result()


def _link_chunk(pairs):
    for target, full, replace in pairs:
        _link(target, full, replace)


def _link(target, full, replace=True):
    """Make ``full`` a link to ``target``; an existing link of ours is replaced atomically
    (a temporary link renamed over it), a new one is made directly."""
    tmp = f"{full}.suite-tmp-{os.getpid()}" if replace else full
    try:
        os.symlink(target, tmp)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise ViewError(
                f"the file system at {os.path.dirname(full)} does not support symbolic links; "
                "put the view on another file system (PREFIX), or make a copy with "
                "'suite export DIR --schema ...'") from None
        raise
    if replace:
        os.replace(tmp, full)


def demo_step(project, echo):
    """The views and diff step of ``suite demo``."""
    from .diff import compare_jobs

    result = create_view(project, project.fn("view"), schema="<model>/T_<T>/p_<p>")
    example = sorted(os.listdir(project.fn("view/ising")))[0]
    echo(f"suite view view --schema '<model>/T_<T>/p_<p>' -> {result.created} links, e.g. "
         f"view/ising/{example}/...")
    jobs = list(project.find_jobs({"model": "ising", "p": 1}))
    diff = compare_jobs(*jobs)
    echo(f"suite diff of {len(jobs)} ising jobs with p=1 -> differing keys: "
         f"{', '.join(diff.keys)}")
    echo(diff.format())
