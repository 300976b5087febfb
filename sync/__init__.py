"""Sync of project workspaces between machines: two-way, with a record of the last sync and
three-way merging of documents (see :mod:`sync.engine`), to a project directory or over SSH to
a suite process on the far side (:mod:`sync.ssh`). Delta transfer is not built yet."""

import os

from .engine import Sync, SyncResult
from .remotes import add_remote, list_remotes, remove_remote, resolve_remote
from .replica import Replica, SyncError


def sync(project, dest, *, push=False, pull=False, dry_run=False, prefer=None, keep_both=False,
         filter=None, ids=None, exclude=(), no_delete=False, checksum=False, remote_suite=None,
         accept_new_host_key=False, progress=None, timeout=None, init=False):
    """Sync ``project`` with ``dest`` (a remote name or a URL); return a :class:`SyncResult`.

    ``dest`` must be a project's root directory; ``init`` creates a project there if there is
    none. Over SSH, a far side that sends nothing for ``timeout`` seconds (default
    :data:`sync.ssh.TIMEOUT`) stops the sync; running it again resumes it.
    ``progress(jobs done, jobs in all)`` is called as jobs are compared and synced.

    Raises :class:`SyncError` (and its :class:`sync.protocol.ProtocolError`) when the sync
    cannot proceed."""
    if push and pull:
        raise SyncError("--push and --pull exclude each other")
    if prefer not in (None, "local", "remote", "newer"):
        raise SyncError(f"--prefer takes local, remote or newer, not {prefer!r}")
    url, label, settings = resolve_remote(project, dest, init)
    remote = _replica_for(url, label, remote_suite or settings.get("remote_suite"),
                          accept_new_host_key, timeout, init)
    try:
        if isinstance(remote, Replica) and \
                os.path.realpath(remote.path) == os.path.realpath(project.path):
            raise SyncError(f"{dest} is this project itself")
        wanted = None
        if filter is not None or ids:
            wanted = set(ids or [])
            if filter is not None:
                wanted |= set(project.find_jobs(filter).ids())
                wanted |= set(remote.find_ids(filter))
        run = Sync(Replica(project.path), remote,
                   mode="push" if push else "pull" if pull else "both", prefer=prefer,
                   keep_both=keep_both, no_delete=no_delete, ids=wanted, exclude=exclude,
                   checksum=checksum, dry_run=dry_run, progress=progress)
        return run.run()
    finally:
        close = getattr(remote, "close", None)
        if close is not None:
            close()


def import_merge(project, origin, *, schema=None, prefer=None, keep_both=False, dry_run=False,
                 ignore_unmatched=False):
    """``suite import ARCHIVE --sync``: merge an archive into existing jobs with the sync
    rules and no common ancestor: identical content is fine, documents gain the keys only the
    archive has, anything else that differs is a conflict unless ``prefer`` says otherwise.
    Nothing in the project is deleted. Returns a :class:`SyncResult`."""
    import shutil

    import suite
    from archive import import_jobs
    from suite import layout

    tmp = os.path.join(project.path, layout.SUITE_DIR, f"import-sync-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        staged = suite.init_project(tmp)
        import_jobs(staged, origin, schema=schema, ignore_unmatched=ignore_unmatched)
        run = Sync(Replica(project.path), Replica(tmp, label="archive"), mode="pull",
                   prefer=prefer, keep_both=keep_both, dry_run=dry_run, keep_record=False)
        return run.run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replica_for(url, label, remote_suite, accept_new_host_key, timeout=None, init=False):
    if url.startswith("ssh://") or (":" in url.split("/")[0] and not os.path.exists(url)):
        from .ssh import SSHReplica

        return SSHReplica(url, remote_suite=remote_suite, accept_new_host_key=accept_new_host_key,
                          label=label, timeout=timeout, init=init)
    return Replica(os.path.expanduser(url), label=label, init=init)


__all__ = ["Replica", "Sync", "SyncError", "SyncResult", "add_remote", "import_merge",
           "list_remotes", "remove_remote", "sync"]
