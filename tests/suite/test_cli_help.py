"""`suite --help` and every command's --help explain themselves: the listing gives each
command a whole line (no "..." cut), and each help says what the command does, with its
options and at least one example of its own (an "Examples:" paragraph kept as written)."""

import subprocess
import sys

import pytest

from suite.cli import COMMANDS
from tests.conftest import REPO


def _help(*args):
    r = subprocess.run([sys.executable, "-m", "suite", *args, "--help"], capture_output=True,
                       text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _examples(text):
    """The lines of the "Examples:" paragraph."""
    lines = text.splitlines()
    assert "  Examples:" in lines, text
    start = lines.index("  Examples:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def test_the_listing_cuts_no_command_short():
    text = _help()
    listing = text.split("Commands:", 1)[1]
    assert "..." not in listing, listing
    assert any(line.startswith("suite ") for line in _examples(text))


VISIBLE = sorted(name for name in COMMANDS if not name.startswith("_"))


@pytest.mark.parametrize("name", VISIBLE)
def test_each_command_has_an_example_of_its_own(name):
    text = _help(name)
    assert text.startswith(f"Usage: suite {name} ")
    description = text.split("\n\n", 2)[1].strip()
    assert len(description) > 20, text  # says what it does
    examples = _examples(text)
    assert any(line.startswith(f"suite {name}") for line in examples), examples


@pytest.mark.parametrize("group,name", [("remote", "add"), ("remote", "list"),
                                        ("remote", "remove"), ("template", "create")])
def test_each_subcommand_has_an_example(group, name):
    examples = _examples(_help(group, name))
    assert any(line.startswith(f"suite {group} {name}") for line in examples), examples
