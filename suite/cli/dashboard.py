"""suite dashboard: serve the project in a web browser (needs the extra suite[dashboard])."""

import sys

import click


@click.command(short_help="Browse, search and annotate the project in a web browser.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but 127.0.0.1 lets other machines connect "
                   "(the token is still required).")
@click.option("--read-only", is_flag=True, help="Refuse every change (document edits).")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option("--on", "remote", default=None, metavar="REMOTE",
              help="Run the dashboard on the far side of this SSH remote (a name from 'suite "
                   "remote list' or a URL) and forward a local port to it.")
@click.option("--ssh", "ssh", type=click.Choice(["paramiko", "openssh", "auto"]), default=None,
              metavar="KIND", help="With --on: the transport (as for 'suite sync'; default: "
                                   "the remote's setting, else the user config, else paramiko).")
@click.option("--ssh-command", default=None, metavar="COMMAND",
              help="With --on: what the openssh transport runs (default: ssh).")
@click.option("--stop-on-eof", is_flag=True, hidden=True,
              help="Stop when standard input ends (the far side of --on).")
def dashboard(port, host, read_only, no_browser, remote, ssh, ssh_command, stop_on_eof):
    """Serve the project in the current directory as a web page: overview, a searchable jobs
    table, job pages (documents editable, files, images, videos, HDF5 plots), compare and sync.

    The first line printed is the URL to open, with the access token every request needs.
    Ctrl-C stops the server (with --on, the one on the far side too).

    
    Examples:
      suite dashboard
      suite dashboard --read-only --port 8800
      suite dashboard --on cluster
    """
    from suite.dashboard import serve, serve_on
    from suite.errors import SuiteError

    def echo(line):
        click.echo(line)
        sys.stdout.flush()

    if remote is None:  # with --on, Flask is needed on the far side only
        try:
            import flask  # noqa: F401
        except ImportError:
            raise SuiteError("suite dashboard needs Flask: install the extra with "
                             "pip install 'suite[dashboard]'") from None
    else:
        from suite.cli.common import project

        serve_on(project(quiet=True), remote, port=port, read_only=read_only,
                 open_browser=not no_browser, echo=echo,
                 note=lambda text: click.echo(f"suite: {text}", err=True), ssh=ssh,
                 ssh_command=ssh_command)
        return
    serve(".", host=host, port=port, read_only=read_only, open_browser=not no_browser,
          echo=echo, stop_on_eof=stop_on_eof)
