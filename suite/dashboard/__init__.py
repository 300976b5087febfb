"""``suite dashboard``: the project in a web browser (overview, jobs table with search, job
pages with document editing, files, images, HDF5 plots, compare and sync pages).

Needs the optional extra ``suite[dashboard]`` (Flask); the core never imports this package.
``create_app`` builds the Flask application, ``serve`` runs it.
"""


def create_app(path=".", token=None, read_only=False):
    """See :func:`suite.dashboard.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(path, token=token, read_only=read_only)


def serve(path=".", host="127.0.0.1", port=0, read_only=False, open_browser=True, echo=print,
          token=None, stop_on_eof=False):
    """See :func:`suite.dashboard.server.serve`."""
    from .server import serve as _serve

    return _serve(path, host=host, port=port, read_only=read_only, open_browser=open_browser,
                  echo=echo, token=token, stop_on_eof=stop_on_eof)


def serve_on(project, remote, port=0, read_only=False, open_browser=True, echo=print,
             note=None, ssh=None, ssh_command=None):
    """See :func:`suite.dashboard.remote.serve_on`."""
    from .remote import serve_on as _serve_on

    return _serve_on(project, remote, port=port, read_only=read_only,
                     open_browser=open_browser, echo=echo, note=note, ssh=ssh,
                     ssh_command=ssh_command)


__all__ = ["create_app", "serve", "serve_on"]
