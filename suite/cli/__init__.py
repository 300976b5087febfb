"""The ``suite`` command line. One module per command group; commands load on first use so
that ``suite find`` starts fast. Errors print one line on stderr and exit non-zero
(``--debug`` shows the traceback)."""

import importlib
import sys

import click

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


class LazyGroup(click.Group):
    """A group whose commands are imported only when used."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # a capability not installed in this build
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.version_option(package_name="suite", prog_name="suite")
@click.pass_context
def cli(ctx, debug):
    """suite: jobs, workspaces, sync, archives, views, diffs and workflows for parameter sweeps.

    Run a command with --help for its options. The project is found from the current
    directory upward.
    """
    ctx.obj = {"debug": debug}


def main(argv=None):
    """Console entry point: run the CLI and turn errors into one-line messages."""
    from suite.errors import SuiteError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return cli.main(args=argv, prog_name="suite", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("suite: aborted", err=True)
        sys.exit(130)
    except (SuiteError, OSError, ValueError, KeyError, LookupError) as exc:
        if debug:
            raise
        click.echo(f"suite: error: {_message(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("suite: interrupted", err=True)
        sys.exit(130)


def _message(exc):
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
