"""The README's two commands for a fresh machine: the install works on Debian's own python3
(which refuses pip outside a virtual environment), and CI runs the very test command."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fresh_machine_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## On a fresh machine"):text.index("## A first look")]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_install_command_uses_a_virtual_environment():
    install, _ = fresh_machine_commands()
    steps = [s.strip() for s in install.split("&&")]
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert "pip install -e ." in steps and steps[-1].startswith("suite demo ")


def test_ci_runs_the_readme_test_command():
    _, tests = fresh_machine_commands()
    assert ". .venv/bin/activate" in tests and "python3 -m pytest" not in tests
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        assert tests in f.read().splitlines()
    with open(os.path.join(ROOT, ".ci", "install"), encoding="utf-8") as f:
        install = f.read()
    # pip runs inside .venv, never on the system's python3
    assert "python3 -m venv .venv" in install and ".venv/bin/python -m pip install" in install
    assert not re.search(r"^python3 -m pip", install, re.M)
    for script in ("install", "run"):
        assert subprocess.run(["bash", "-n", os.path.join(ROOT, ".ci", script)]).returncode == 0
