"""Running the dashboard: a threaded WSGI server on 127.0.0.1 (unless told otherwise) whose
first line on stdout is the URL with the access token."""

import logging
import socket

from . import security


def url_host(host):
    """How the URL names ``host``: a wildcard address becomes this machine's name, an IPv6
    address gets brackets."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def serve(path=".", host="127.0.0.1", port=0, read_only=False, open_browser=True, echo=print,
          token=None, ready=None, stop_on_eof=False):
    """Serve the project at ``path`` until interrupted (Ctrl-C), or with ``stop_on_eof`` until
    standard input ends (the far side of ``--on``). ``echo`` gets the URL first
    (``http://HOST:PORT/?token=...``; ``port`` 0 picks a free one); ``ready(server)``, if
    given, is called once the server listens.

    Raises
    ------
    ProjectNotFoundError
        No project at or above ``path``.
    OSError
        The address cannot be bound (port in use, unknown host).
    """
    import threading

    from werkzeug.serving import make_server

    from .app import create_app, warm

    token = token or security.new_token()
    app = create_app(path, token=token, read_only=read_only)
    # request lines would print URLs with the token to a shared terminal log
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    # while the user opens the URL; a request that comes first waits for it
    threading.Thread(target=warm, args=(app,), daemon=True).start()
    url = f"http://{url_host(host)}:{server.server_port}/?token={token}"
    try:  # Ctrl-C is a normal stop from the moment the URL is shown
        echo(url)
        if ready is not None:
            ready(server)
        if stop_on_eof:
            threading.Thread(target=_stop_at_eof, args=(server,), daemon=True).start()
        if open_browser:
            open_in_browser(url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["suite_dashboard"].close()


def open_in_browser(url):
    """Open ``url`` in a graphical browser, if this session has a display: without one,
    ``webbrowser`` would start a text browser (w3m, lynx) in the terminal of a login node."""
    import os
    import sys

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser

    return webbrowser.open(url)


def _stop_at_eof(server):
    import sys

    while sys.stdin.buffer.read1(4096):
        pass
    server.shutdown()
