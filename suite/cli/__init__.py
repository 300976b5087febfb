"""The ``suite`` command line. One module per command group; commands load on first use so
that ``suite find`` starts fast. Errors print one line on stderr and exit non-zero
(``--debug`` shows the traceback).

The far side of a sync (``suite _sync-server PATH [--init]``, started once per sync, per
``status --on`` and per ``submit --on``) has a fixed form: :func:`main` serves it without
importing click (the group lives in :mod:`suite.cli.group`); any other form of it, ``--help``
included, goes through click. ``suite find`` with FILTER words and no option, the command
users time most, is served without click too (:func:`suite.cli.findjobs.plain_args`), and so
is ``suite status`` alone (:mod:`suite.cli.statusplain`)."""

import sys

#: command name -> "module:attribute". A capability adds its commands here.
COMMANDS = {
    "init": "suite.cli.core:init",
    "job": "suite.cli.core:job",
    "statepoint": "suite.cli.core:statepoint",
    "document": "suite.cli.core:document",
    "find": "suite.cli.core:find",
    "rm": "suite.cli.core:rm",
    "move": "suite.cli.core:move",
    "clone": "suite.cli.core:clone",
    "schema": "suite.cli.core:schema",
    "reindex": "suite.cli.core:reindex",
    "check": "suite.cli.core:check",
    "shell": "suite.cli.core:shell",
    "demo": "suite.cli.demo:demo",
    "export": "suite.cli.archive:export",
    "import": "suite.cli.archive:import_",
    "verify": "suite.cli.archive:verify",
    "view": "suite.cli.views:view",
    "diff": "suite.cli.views:diff",
    "remote": "suite.cli.sync:remote",
    "sync": "suite.cli.sync:sync",
    "_sync-server": "suite.cli.sync:server",
    "status": "suite.cli.flow:status",
    "run": "suite.cli.flow:run",
    "exec": "suite.cli.flow:exec_",
    "submit": "suite.cli.flow:submit",
    "template": "suite.cli.flow:template",
    "dashboard": "suite.cli.dashboard:dashboard",
    "log": "suite.cli.provenance:log",
    "repeat": "suite.cli.provenance:repeat",
    "provenance": "suite.cli.provenance:provenance",
}


def main(argv=None):
    """Console entry point: run the CLI and turn errors into one-line messages."""
    from suite.errors import SuiteError

    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        far = _server_args(args)
        if far is None:
            from .findjobs import find_jobs, plain_args

            words = plain_args(args)
            if words is not None:  # `suite find FILTER...`: no click to import
                return find_jobs(words)
            from . import statusplain

            if statusplain.plain_args(args):  # `suite status`: neither
                return statusplain.show()
            from .group import run

            return run(args)
        from sync.server import serve

        sys.exit(serve(far[0], init=far[1], data=far[2]))
    except (SuiteError, OSError, ValueError, KeyError, LookupError) as exc:
        if debug:
            raise
        from suite.terminal import visible

        _error(f"suite: error: {visible(_message(exc))}")  # names in it come from users
        sys.exit(1)
    except KeyboardInterrupt:
        _error("suite: interrupted")
        sys.exit(130)


def console():
    """The ``suite`` console script and ``python -m suite``: :func:`main` for ``sys.argv``.

    After ``suite find`` the process ends without the interpreter's teardown (freeing every
    object one by one: ~16 M instructions, a tenth of a find at 100,000 jobs): exit handlers
    run and stdout and stderr are flushed first, as at a normal exit
    (:func:`suite.process.exit_now`). Only here, never in :func:`main`, which callers run
    inside longer processes; and only for find, which runs no user code (a workflow's
    functions in ``status`` may leave a file unclosed, whose buffer only the teardown
    writes). For find the cyclic garbage collector is off as well (the same reasons).
    Exits as :func:`sys.exit` does; what else ``main`` raises propagates."""
    find = sys.argv[1:2] == ["find"]
    if find:
        # no collections: find runs no user code, its large work already pauses the
        # collector (suite.process.gc_paused), and the process ends with the command, so
        # the collections of the objects made on the way cost time and free nothing
        import gc

        gc.disable()
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    if find:
        from suite.process import exit_now

        exit_now(code)
    sys.exit(code)


def _server_args(args):
    """``(path, init, data)`` if ``args`` are the far server's fixed form, else None (click
    parses them, with its usage errors and help)."""
    if not args or args[0] != "_sync-server":
        return None
    rest = args[1:]
    flags = []
    for flag in ("--init", "--data"):
        flags.append(flag in rest)
        if flags[-1]:
            rest.remove(flag)
    if len(rest) != 1 or rest[0].startswith("-"):
        return None
    return rest[0], *flags


def _error(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _message(exc):
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def __getattr__(name):
    # the click group is imported only when asked for (``from suite.cli import cli``)
    if name in ("cli", "LazyGroup"):
        from . import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
