"""Sync of project workspaces between machines: two-way, with a record of the last sync and
three-way merging of documents (see :mod:`sync.engine`), to a project directory or to a suite
process on the far side, spoken in one protocol (:mod:`sync.ops`) over a transport
(:mod:`sync.transports`: paramiko, openssh, local)."""

import os

from suite import layout

from .remotes import add_remote, list_remotes, remove_remote, resolve_remote
from .replica import Replica, SyncError


def sync(project, dest, *, push=False, pull=False, dry_run=False, prefer=None, keep_both=False,
         filter=None, ids=None, exclude=(), no_delete=False, checksum=False, remote_suite=None,
         accept_new_host_key=False, progress=None, notify=None, lock_wait=None, timeout=None,
         init=False, ssh=None, ssh_command=None, verbose=None, include_active=False, wait=False,
         poll=None):
    """Sync ``project`` with ``dest`` (a remote name or a URL); return a :class:`SyncResult`.

    ``dest`` must be a project's root directory; ``init`` creates a project there if there is
    none. Over SSH, a far side that sends nothing for ``timeout`` seconds (default
    :data:`sync.ssh.TIMEOUT`) stops the sync; running it again resumes it.
    ``progress(jobs done, jobs in all)`` is called as jobs are compared and synced;
    ``notify(message)`` when the sync waits for another sync of the same pair (at most
    ``lock_wait`` seconds, default :data:`sync.engine.LOCK_WAIT`).
    ``ssh`` is the transport (``paramiko``, ``openssh``, ``auto``; ``local`` runs the protocol
    to a local path through a subprocess), ``ssh_command`` the ``ssh`` the openssh transport
    runs; both default to the remote's settings, then the user config
    (:mod:`sync.settings`), then ``paramiko``/``ssh``. ``verbose(message)`` hears which
    transport ``auto`` chose.

    Jobs with operations queued or running on either side (each side's submission book and
    one query of its scheduler, :mod:`sync.active`) are left alone on both sides and listed
    in ``SyncResult.active``; so are the jobs of a scheduler that cannot be asked (state
    ``unknown``). ``include_active`` syncs them anyway. ``wait`` first waits until no selected
    work is queued or running on either side, asking every ``poll`` seconds (default
    :data:`sync.active.POLL`) and telling ``notify`` how much is left; KeyboardInterrupt stops
    the wait and nothing is synced.

    Raises :class:`SyncError` (and its :class:`sync.protocol.ProtocolError`) when the sync
    cannot proceed: bad arguments, an unreachable remote, a wait that lasted too long, a
    ``wait`` for work whose state a scheduler cannot tell."""
    if push and pull:
        raise SyncError("--push and --pull exclude each other")
    if wait and include_active:
        raise SyncError("--wait and --include-active exclude each other")
    if poll is not None and not poll > 0:
        raise SyncError(f"--poll takes a number of seconds above 0, not {poll!r}")
    if prefer not in (None, "local", "remote", "newer"):
        raise SyncError(f"--prefer takes local, remote or newer, not {prefer!r}")
    url, label, settings = resolve_remote(project, dest, init)
    from .settings import transport_settings

    ssh, ssh_command = transport_settings(ssh, ssh_command, settings)
    # the first questions to a far side go with the connection, before its hello is read:
    # each would otherwise cost a round trip of its own (issue #18: three of a sync's round
    # trips at 20 ms each). Read-only; an answer that is an error raises where it is used
    asked = [name for name, wanted in (("active_work", not include_active and not wait),
                                       ("load_book", not dry_run), ("identity", True))
             if wanted]
    local = Replica(project.path)
    # the far side's lock of the pair too (not while waiting for work: it would be held
    # through the wait); the pair's order is known only from the answers: the engine gives
    # it back if it came out of order and this side's lock is taken (Sync.run)
    ahead = [(name, ()) for name in asked] + \
        ([] if dry_run or wait else [("try_lock", (local.identity(),))])
    remote = _replica_for(url, label, remote_suite or settings.get("remote_suite"),
                          accept_new_host_key, timeout, init, ssh, ssh_command, verbose,
                          ahead=ahead)
    if len(ahead) > len(asked):
        asked.append("try_lock")
    # a project on this machine was asked nothing ahead (no connection)
    first = dict(zip(asked, getattr(remote, "ahead", ()), strict=False))
    try:
        if not _is_ssh(url) and \
                os.path.realpath(os.path.expanduser(url)) == os.path.realpath(project.path):
            raise SyncError(f"{dest} is this project itself")
        wanted = None
        if filter is not None or ids:
            wanted = set(ids or [])
            if filter is not None:
                wanted |= set(project.find_jobs(filter).ids())
                wanted |= set(remote.find_ids(filter))
        active = []
        if not include_active:
            from .active import POLL, gather, wait_until_done

            active = wait_until_done(local, remote, wanted, poll or POLL, notify) if wait \
                else gather(local, remote, wanted, first.get("active_work"))
        from .engine import Sync

        run = Sync(local, remote,
                   mode="push" if push else "pull" if pull else "both", prefer=prefer,
                   keep_both=keep_both, no_delete=no_delete, ids=wanted, exclude=exclude,
                   checksum=checksum, dry_run=dry_run, progress=progress, notify=notify,
                   active=active, remote_identity=first.get("identity"),
                   remote_lock=first.get("try_lock"),
                   **({} if lock_wait is None else {"lock_wait": lock_wait}))
        if not dry_run:  # first: a book that cannot be read stops the sync before any write
            exchange_books(project, remote, label, first.get("load_book"))
        return run.run()
    finally:
        close = getattr(remote, "close", None)
        if close is not None:
            close()


def exchange_books(project, remote, label, there=None):
    """Merge the submission books of ``project`` and ``remote`` (a replica) both ways, as a
    union; each side's own entries replace what the other knew of that side, so finished
    ones are dropped (:func:`suite.flow.book.merge`). ``there``: a function that returns the
    far side's ``load_book`` answer, asked for already (None: it is asked here). Raises
    what reading either book raises (:class:`SyncError`, CorruptFileError)."""
    here = layout.has_submissions(project.path)
    if isinstance(remote, Replica):
        if not (here or layout.has_submissions(remote.path)):
            return
        from suite.flow import book

        there = book.word(remote.project)
    else:
        # [None, {}, {}]: the far side has no book
        there = remote.load_book() if there is None else there()
        if not here and there[0] is None:
            return
    import socket  # here, not above: most syncs have no book (a local no-op's start-up)

    from suite.flow import book

    me, mine, seen = book.word(project)
    if isinstance(remote, Replica):
        book.merge(remote.project, me, mine, socket.gethostname(), seen)
    else:
        remote.merge_book(me, mine, socket.gethostname(), seen)
    if there[0] is not None:
        book.merge(project, there[0], there[1], label, there[2])



def connect(project, dest, *, remote_suite=None, accept_new_host_key=False, timeout=None,
            ssh=None, ssh_command=None, verbose=None, ahead=()):
    """``(client, label)``: a :class:`sync.client.Client` to the suite process of ``dest`` (a
    remote name or URL; a local path is served through a pipe), the transport chosen as for
    :func:`sync`; ``ahead``: requests sent before the far side's hello is read, their answers
    in ``client.ahead`` (see :class:`sync.client.Client`). Raises :class:`SyncError` when it
    cannot be reached (naming the host)."""
    url, label, settings = resolve_remote(project, dest)
    from .settings import transport_settings

    ssh, ssh_command = transport_settings(ssh, ssh_command, settings)
    client = _replica_for(url, label, remote_suite or settings.get("remote_suite"),
                          accept_new_host_key, timeout, False,
                          ssh if _is_ssh(url) else "local", ssh_command, verbose, ahead)
    return client, label


def preload(project, dest, *, ssh=None, ssh_command=None):
    """Import what :func:`connect` to ``dest`` will need (paramiko, for that transport), so
    that a caller connecting in threads can pay for it first, without contention: an import
    is CPU work, the connection after it mostly waiting. Raises as :func:`connect`."""
    url, _, settings = resolve_remote(project, dest)
    from .settings import transport_settings

    if _is_ssh(url) and transport_settings(ssh, ssh_command, settings)[0] == "paramiko":
        from .ssh import import_paramiko

        import_paramiko()


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

    from .engine import Sync

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


def _is_ssh(url):
    return url.startswith("ssh://") or (":" in url.split("/")[0] and not os.path.exists(url))


def _replica_for(url, label, remote_suite, accept_new_host_key, timeout=None, init=False,
                 ssh="paramiko", ssh_command=None, verbose=None, ahead=()):
    if _is_ssh(url):
        from .ssh import SSHReplica

        return SSHReplica(url, remote_suite=remote_suite, accept_new_host_key=accept_new_host_key,
                          label=label, timeout=timeout, init=init, ssh=ssh,
                          ssh_command=ssh_command, verbose=verbose, ahead=ahead)
    if ssh == "local":  # the whole protocol, through a pipe to a server process
        from .client import Client
        from .ssh import TIMEOUT
        from .transports.local import LocalTransport

        path = os.path.abspath(os.path.expanduser(url))
        return Client(LocalTransport(path, remote_suite, timeout or TIMEOUT, init), label,
                      ahead)
    return Replica(os.path.expanduser(url), label=label, init=init)


def __getattr__(name):
    # the engine is imported when used: the far side of a sync (sync.server) never uses it
    if name in ("Sync", "SyncResult"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Replica", "Sync", "SyncError", "SyncResult", "add_remote", "connect",
           "exchange_books", "import_merge", "list_remotes", "preload", "remove_remote", "sync"]
