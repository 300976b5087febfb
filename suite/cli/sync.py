"""Commands remote and sync."""

import sys

import click

from . import common
from .common import echo_json, filter_from_options, filter_option, job_option, progress_bar, project


@click.group()
def remote():
    """Manage named remotes (stored in .suite/remotes.json).

    
    Examples:
      suite remote add cluster me@login.hpc.edu:/scratch/me/ising
      suite remote list
    """


@remote.command("add", short_help='Add remote NAME at URL.')
@click.argument("name")
@click.argument("url")
@click.option("--remote-suite", default=None, metavar="COMMAND",
              help="How to run suite on that machine (default: suite), e.g. "
                   "'~/venv/bin/suite' or 'python3 -m suite'.")
@click.option("--ssh", "ssh", type=click.Choice(["paramiko", "openssh", "auto", "local"]),
              default=None, metavar="KIND",
              help="The transport for this remote: paramiko, openssh, auto or local (see "
                   "'suite sync --help').")
@click.option("--ssh-command", default=None, metavar="COMMAND",
              help="What the openssh transport runs for this remote (default: ssh).")
def remote_add(name, url, remote_suite, ssh, ssh_command):
    """Add remote NAME at URL: a project directory, [user@]host:path (host may be an alias
    from ~/.ssh/config) or ssh://user@host:port/path.

    
    Examples:
      suite remote add cluster me@login.hpc.edu:/scratch/me/ising
      suite remote add backup /mnt/backup/ising --ssh local
    """
    from sync import add_remote

    add_remote(project(), name, url, remote_suite=remote_suite, ssh=ssh,
               ssh_command=ssh_command)
    click.echo(f"added remote {name} -> {url}")


@remote.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def remote_list(as_json):
    """List the remotes.

    
    Examples:
      suite remote list --json
    """
    from sync import list_remotes

    remotes = list_remotes(project())
    if as_json:
        echo_json(remotes)
    for name, info in sorted(remotes.items()):
        if not as_json:
            click.echo(f"{name}\t{info['url']}")


@remote.command("remove")
@click.argument("name")
def remote_remove(name):
    """Remove the remote NAME (nothing on either side is touched).

    
    Examples:
      suite remote remove backup
    """
    from sync import remove_remote

    remove_remote(project(), name)
    click.echo(f"removed remote {name}")


@click.command(short_help='Two-way sync with a remote or another project.')
@click.argument("dest")
@click.option("--push", is_flag=True, help="Only send changes to DEST.")
@click.option("--pull", is_flag=True, help="Only bring changes from DEST.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing on either side.")
@click.option("--prefer", type=click.Choice(["local", "remote", "newer"]), default=None,
              help="Resolve conflicts for this side (newer: by modification time).")
@click.option("--keep-both", is_flag=True,
              help="For files changed on both sides: keep the local one and the remote one "
                   "as NAME.conflict-<remote> on both sides.")
@filter_option
@job_option
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching GLOB.")
@click.option("--no-delete", is_flag=True, help="Never delete anything on either side.")
@click.option("--checksum", is_flag=True, help="Compare file contents, not size and mtime.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan/result as JSON.")
@click.option("--remote-suite", default=None, metavar="COMMAND",
              help="How to run suite on the remote machine (default: suite, or the remote's "
                   "setting).")
@click.option("--accept-new-host-key", is_flag=True,
              help="Trust an unknown SSH host key (it is added to ~/.ssh/known_hosts).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Give up on a far side that sends nothing for this long "
                                      "(default 60; a busy one sends heartbeats).")
@click.option("--init", is_flag=True, help="Create a new project at DEST if there is none.")
@click.option("--ssh", "ssh", type=click.Choice(["paramiko", "openssh", "auto", "local"]),
              default=None, metavar="KIND",
              help="Transport: paramiko (default), openssh (the system ssh: all of "
                   "~/.ssh/config, a ControlMaster is reused), auto (openssh when a master "
                   "connection is open, else paramiko), local (a local path, through a pipe).")
@click.option("--ssh-command", default=None, metavar="COMMAND",
              help="What the openssh transport runs instead of ssh (as rsync's -e), "
                   "e.g. 'ssh -F ~/.ssh/hpc_config'.")
@click.option("-v", "--verbose", is_flag=True, help="Say which transport was chosen.")
@click.option("--include-active", is_flag=True,
              help="Also sync jobs with operations queued or running on either side (by "
                   "default they are left alone and listed).")
@click.option("--wait", is_flag=True,
              help="First wait until no selected job has operations queued or running on "
                   "either side, then sync (Ctrl-C stops the wait; nothing is synced).")
@click.option("--poll", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, metavar="SECONDS", help="With --wait: ask both sides this often.")
@common.quiet_option
def sync(dest, push, pull, dry_run, prefer, keep_both, filter_args, ids, exclude, no_delete,
         checksum, as_json, remote_suite, accept_new_host_key, timeout, init, ssh, ssh_command,
         verbose, include_active, wait, poll, quiet):
    """Two-way sync of this project with DEST: a remote name, a project directory,
    [user@]host:path or ssh://user@host:port/path (one SSH connection; suite must be installed
    on the remote).

    Changes on one side are propagated; documents are merged key by key; anything changed
    on both sides is a conflict: left untouched and listed. A file or document written to
    while the sync runs is never overwritten: it is listed as changed during sync and left
    for the next sync. Links that leave their job, fifos and devices are skipped and listed
    on stderr; jobs or files that cannot be read are too, and left alone. So are jobs with
    operations queued or running on either side (asked of each side's scheduler once), unless
    --include-active; --wait waits for that work to finish first.

    \b
    Exit status: 0 all synced; 1 error; 2 usage error; 3 conflicts left;
    4 items changed during the sync (run it again);
    5 jobs left alone: unreadable, refused, or with work queued or running (listed).
    When several apply: 3, then 5, then 4.
    A second sync of the same pair waits for the first.

    
    Examples:
      suite sync cluster
      suite sync cluster --pull -f 'T 1.5' --dry-run
      suite sync me@login.hpc.edu:/scratch/me/ising --push --init
    """
    import sync as sync_pkg

    proj = project(quiet)
    with progress_bar("syncing jobs", quiet) as update:
        result = sync_pkg.sync(
            proj, dest, push=push, pull=pull, dry_run=dry_run, prefer=prefer,
            keep_both=keep_both, filter=filter_from_options(filter_args) if filter_args else None,
            ids=[proj.open_job(id=i).id for i in ids] or None, exclude=exclude,
            no_delete=no_delete, checksum=checksum, remote_suite=remote_suite,
            accept_new_host_key=accept_new_host_key, progress=update, timeout=timeout,
            init=init, ssh=ssh, ssh_command=ssh_command, include_active=include_active,
            wait=wait, poll=poll,
            verbose=(lambda message: click.echo(f"suite: {message}", err=True)) if verbose
            else None, notify=None if quiet else
            lambda message: click.echo(f"suite: {message}", err=True))
    common.echo_sync_result(result, as_json, quiet)
    _warn_skipped(result.unreadable + result.skipped)
    _warn_unknown(result.active)
    sys.exit(result.exit_status)


def _warn_unknown(active):
    """One line per side whose scheduler could not say what still runs."""
    for side, error in sorted({(a["side"], a["error"]) for a in active if "error" in a}):
        jobs = len({a["job"] for a in active if a["side"] == side and "error" in a})
        click.echo(f"suite: warning: cannot ask the scheduler on the {side} side what still "
                   f"runs ({error}); {jobs} job(s) submitted there were left alone: fix the "
                   "scheduler there, or sync with --include-active", err=True)


def _warn_skipped(items):
    """Count and the first few on stderr (all are in --json and in the result object)."""
    from suite.jobfiles import summary

    if items:
        click.echo(summary([{**s, "job": f"{s['side']} {s['job']}"} for s in items]), err=True)


@click.command("_sync-server", hidden=True)
@click.argument("path")
@click.option("--init", is_flag=True)
@click.option("--data", is_flag=True, help="A sync's second stream: file writes only.")
def server(path, init, data):
    """Serve sync requests for the project at PATH on stdin/stdout (started by 'suite sync'
    over SSH; not for people)."""
    from sync.server import serve

    sys.exit(serve(path, init=init, data=data))
