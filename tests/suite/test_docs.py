"""The documentation stays true: the CLI reference is generated from the commands."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cli_reference_is_current():
    spec = importlib.util.spec_from_file_location(
        "make_cli_reference", os.path.join(ROOT, "docs", "make_cli_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        assert f.read() == module.render(), "run: python docs/make_cli_reference.py"


def test_every_command_has_help():
    from click.testing import CliRunner

    from suite.cli import COMMANDS, cli

    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(cli, [name, "--help"])
        if "No such command" in result.output:
            continue  # a capability not present in this build
        assert result.exit_code == 0, (name, result.output)
        assert len(result.output.splitlines()) > 3, name
