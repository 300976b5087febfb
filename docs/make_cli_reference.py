"""Write docs/cli.md from the CLI's own --help texts (run after changing a command).

A test compares docs/cli.md with this output, so the reference cannot drift from the code.
"""

import os
import sys

import click

HEADER = """# Command-line reference

Generated from `suite COMMAND --help` by `python docs/make_cli_reference.py`; do not edit by
hand. Every command exits 0 on success and prints `suite: error: <one line>` on stderr with a
non-zero status on failure (`suite --debug COMMAND` shows the traceback). Commands find the
project from the current directory upward.
"""


def render():
    from suite.cli import cli

    ctx = click.Context(cli, info_name="suite", terminal_width=100, max_content_width=100,
                        help_option_names=["-h", "--help"])
    parts = [HEADER, "## suite\n", "```\n" + cli.get_help(ctx) + "\n```\n"]
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        parts.extend(_render(cmd, name, ctx, level=2))
    return "\n".join(parts)


def _render(cmd, path, parent, level):
    sub = click.Context(cmd, info_name=path.split()[-1], parent=parent, terminal_width=100,
                        max_content_width=100, help_option_names=["-h", "--help"])
    out = [f"{'#' * level} suite {path}\n", "```\n" + cmd.get_help(sub) + "\n```\n"]
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(sub):
            child = cmd.get_command(sub, name)
            if child is not None and not child.hidden:
                out.extend(_render(child, f"{path} {name}", sub, level + 1))
    return out


def main():
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli.md")
    text = render()
    if "--check" in sys.argv:
        with open(target, encoding="utf-8") as f:
            sys.exit(0 if f.read() == text else 1)
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
