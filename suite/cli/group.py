"""The click group behind ``suite``: commands resolved from :data:`suite.cli.COMMANDS` and
imported only when used, and :func:`run`, which turns click's own outcomes (usage errors,
``--help``, aborts) into exit statuses."""

import importlib
import sys

import click

from suite import __version__

from . import COMMANDS


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
# the version written in the package, not looked up in the installed metadata: that lookup
# (importlib.metadata over sys.path) was half the CPU time of `suite --version`
@click.version_option(version=__version__, prog_name="suite")
@click.pass_context
def cli(ctx, debug):
    """suite: jobs, workspaces, sync, archives, views, diffs and workflows for parameter sweeps.

    Run a command with --help for its options. The project is found from the current
    directory upward.

    
    Examples:
      suite init && suite job '{"T": 1.5, "L": 32}' --create
      suite find T 1.5
      suite status
      suite sync me@login.hpc.edu:/scratch/me/ising
      suite export results.tar.zst --schema 'T_<T>/L_<L>'
      suite demo /tmp/suite-demo     (a guided tour)
    """
    ctx.obj = {"debug": debug}


def run(args):
    """Run the group on ``args``; click's usage errors print as click prints them (exit 2)."""
    try:
        return cli.main(args=args, prog_name="suite", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort: said as the plain forms say it (suite.cli.main);
        # "aborted" is a question answered no
        ctrl_c = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo("suite: interrupted" if ctrl_c else "suite: aborted", err=True)
        sys.exit(130)
