"""signac's one-way sync (``signac.sync``): copy one job's (or project's) files and document
into another, with signac's strategies for files and document keys that differ.

This is signac's model, not suite's: ``suite sync`` (:mod:`sync`) is two-way between replicas
of one project, with a record of the last sync and three-way document merges. signac's sync
copies from a *source* into a *destination* job, possibly of another id (``job.sync(other)``),
and decides each difference by a strategy, so it is written here on the core's parts: files
are copied to a temporary name beside the destination and renamed into place, and a document
is written once (atomically), only after every key has been decided (signac may leave it half
merged when it raises :class:`DocumentSyncConflict`).

``strategy`` (files): None raises :class:`FileSyncConflict` for a file whose content differs;
:attr:`FileSync.always`, :attr:`FileSync.never`, :attr:`FileSync.update` (the newer file wins)
or any ``fn(src_dir, dst_dir, name) -> bool``. ``doc_sync`` (documents): None is
``DocSync.ByKey()`` (keys only the source has are copied, differing values raise
:class:`DocumentSyncConflict`); ``DocSync.ByKey(regex or predicate)`` overwrites the matching
dotted keys; ``DocSync.update``, ``DocSync.COPY``, ``DocSync.NO_SYNC`` (False), or any
``fn(src_doc, dst_doc)`` that changes ``dst_doc`` in place.
"""

import filecmp
import logging
import os
import re
import shutil

from . import layout
from .errors import DocumentSyncConflict, FileSyncConflict, SchemaSyncConflict
from .signac_compat import unsupported
from .synced import copy_json

log = logging.getLogger(__name__)

__all__ = ["DocSync", "FileSync", "sync_jobs", "sync_projects"]


class FileSync:
    """Strategies for a file that differs: ``strategy(src_dir, dst_dir, name)`` returns True
    to overwrite the destination's copy."""

    @classmethod
    def keys(cls):
        """The strategies' names (``Ask`` raises :class:`UnsupportedError` when used)."""
        return ("always", "never", "update", "Ask")

    @staticmethod
    def always(src, dst, fn):
        """Always take the source's file."""
        return True

    @staticmethod
    def never(src, dst, fn):
        """Never overwrite the destination's file."""
        return False

    @staticmethod
    def update(src, dst, fn):
        """Take the source's file if it was modified later."""
        return os.path.getmtime(os.path.join(src, fn)) > os.path.getmtime(os.path.join(dst, fn))

    class Ask:
        """signac's interactive strategy: not provided (scripts must not block on input)."""

        def __init__(self, *args, **kwargs):
            unsupported("FileSync.Ask", "FileSync.always, FileSync.never, FileSync.update or "
                        "a function (src, dst, name) -> bool")


class DocSync:
    """Strategies for documents."""

    NO_SYNC = False
    COPY = "copy"

    @staticmethod
    def update(src, dst):
        """Copy every top-level key of the source over the destination's."""
        dst.update(src)

    class ByKey:
        """Merge key by key: keys only the source has are copied, nested mappings merged;
        a differing value is taken from the source if ``key_strategy`` (a regular expression
        matched at the start of the dotted key, or a predicate of it) accepts its key, else
        kept (logged); without ``key_strategy`` differing values raise
        :class:`DocumentSyncConflict`."""

        def __init__(self, key_strategy=None):
            if isinstance(key_strategy, str):
                pattern = re.compile(key_strategy)
                self.key_strategy = lambda key: pattern.match(key) is not None
            else:
                self.key_strategy = key_strategy
            self.skipped_keys = set()

        def __call__(self, src, dst, root=""):
            for key, value in src.items():
                if key in dst:
                    if dst[key] == value:
                        continue
                    if isinstance(value, dict) and isinstance(dst[key], dict):
                        self(value, dst[key], f"{root}{key}.")
                        continue
                    if self.key_strategy is None or not self.key_strategy(root + key):
                        self.skipped_keys.add(root + key)
                        continue
                dst[key] = copy_json(value)
            if not root and self.skipped_keys:
                if self.key_strategy is None:
                    raise DocumentSyncConflict(self.skipped_keys)
                log.info("document keys left as they were: %s", ", ".join(
                    sorted(self.skipped_keys)))


def _excluded(name, exclude):
    patterns = [exclude] if isinstance(exclude, str) else list(exclude or ())
    return any(re.match(p, name) for p in patterns)


def _copy(src_file, dst_file, options):
    """Copy a file to a temporary name beside ``dst_file`` and rename it into place."""
    os.makedirs(os.path.dirname(dst_file), exist_ok=True)
    tmp = layout.temp_path(dst_file)
    try:
        if os.path.islink(src_file) and not options["follow_symlinks"]:
            os.symlink(os.readlink(src_file), tmp)
        else:
            shutil.copyfile(src_file, tmp)
            st = os.stat(src_file)
            if options["preserve_permissions"]:
                os.chmod(tmp, st.st_mode & 0o7777)
            if options["preserve_times"]:
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            if options["preserve_owner"] or options["preserve_group"]:
                os.chown(tmp, st.st_uid if options["preserve_owner"] else -1,
                         st.st_gid if options["preserve_group"] else -1)
        os.replace(tmp, dst_file)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _sync_files(src_dir, dst_dir, strategy, exclude, options, rel=""):
    skip = {layout.STATEPOINT, layout.DOCUMENT} if not rel else set()
    for entry in sorted(os.scandir(os.path.join(src_dir, rel)), key=lambda e: e.name):
        name = entry.name
        if name in skip or layout.is_temp(name) or _excluded(name, exclude):
            continue
        sub = os.path.join(rel, name)
        if entry.is_dir(follow_symlinks=options["follow_symlinks"]):
            if options["recursive"]:
                _sync_files(src_dir, dst_dir, strategy, exclude, options, sub)
            else:
                log.warning("skipping directory %s (pass recursive=True to sync it)", sub)
            continue
        src_file, dst_file = os.path.join(src_dir, sub), os.path.join(dst_dir, sub)
        if os.path.lexists(dst_file):
            if filecmp.cmp(src_file, dst_file, shallow=not options["deep"]):
                continue
            if strategy is None:
                raise FileSyncConflict(sub)
            if not strategy(src_dir, dst_dir, sub):
                continue
        if not options["dry_run"]:
            _copy(src_file, dst_file, options)


def _sync_document(src_doc, dst, doc_sync, dry_run):
    """Apply ``doc_sync`` to the plain ``src_doc`` and the document view ``dst``."""
    if doc_sync is False:
        return
    current = dst()
    if doc_sync == DocSync.COPY:
        merged = copy_json(src_doc)
    else:
        merged = copy_json(current)
        (DocSync.ByKey() if doc_sync is None else doc_sync)(copy_json(src_doc), merged)
    if merged != current and not dry_run:
        dst.reset(merged)


def sync_jobs(src, dst, strategy=None, exclude=None, doc_sync=None, recursive=False,
              follow_symlinks=True, preserve_permissions=False, preserve_times=False,
              preserve_owner=False, preserve_group=False, deep=False, dry_run=False):
    """Copy the files and document of the job ``src`` into the job ``dst`` (created if
    needed; nothing happens when ``src`` does not exist). See the module for the strategies.

    Raises ValueError when both are the same job directory, :class:`FileSyncConflict` and
    :class:`DocumentSyncConflict` for differences no strategy decides.
    """
    if os.path.realpath(src.path) == os.path.realpath(dst.path):
        raise ValueError(f"cannot sync job {src.id} with itself")
    if not os.path.isdir(src.path):
        return
    options = {"recursive": recursive, "follow_symlinks": follow_symlinks, "deep": deep,
               "preserve_permissions": preserve_permissions, "preserve_times": preserve_times,
               "preserve_owner": preserve_owner, "preserve_group": preserve_group,
               "dry_run": dry_run}
    if not dry_run:
        dst.init()
    _sync_files(src.path, dst.path, strategy, exclude, options)
    _sync_document(src.doc(), dst.doc, doc_sync, dry_run)


def sync_projects(source, destination, strategy=None, exclude=None, doc_sync=None,
                  selection=None, check_schema=True, recursive=False, follow_symlinks=True,
                  preserve_permissions=False, preserve_times=False, preserve_owner=False,
                  preserve_group=False, deep=False, dry_run=False, parallel=False,
                  collect_stats=False):
    """Copy the jobs of ``source`` (all, or those in ``selection``: jobs or ids) and its
    project document into ``destination``, job by job with :func:`sync_jobs`.

    Raises ValueError when both are the same project, :class:`SchemaSyncConflict` (with
    ``check_schema``) when both have jobs and their state point schemas differ.
    """
    if parallel or collect_stats:
        unsupported("sync_projects(parallel=..., collect_stats=...)",
                    "a plain sync; 'suite sync' reports what it transferred")
    if os.path.realpath(source.path) == os.path.realpath(destination.path):
        raise ValueError(f"cannot sync project {source.path} with itself")
    if check_schema:
        schema_src, schema_dst = source.detect_schema(), destination.detect_schema()
        if len(schema_src) and len(schema_dst) and schema_src != schema_dst and (
                schema_src.difference(schema_dst) or schema_dst.difference(schema_src)):
            raise SchemaSyncConflict(schema_src, schema_dst)
    wanted = None if selection is None else {str(j) for j in selection}
    for job in source:
        if wanted is not None and job.id not in wanted:
            continue
        sync_jobs(job, destination.open_job(job.sp()), strategy=strategy, exclude=exclude,
                  doc_sync=doc_sync, recursive=recursive, follow_symlinks=follow_symlinks,
                  preserve_permissions=preserve_permissions, preserve_times=preserve_times,
                  preserve_owner=preserve_owner, preserve_group=preserve_group, deep=deep,
                  dry_run=dry_run)
    _sync_document(source.doc(), destination.doc, doc_sync, dry_run)
