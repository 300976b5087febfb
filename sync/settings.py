"""The user's sync settings: ``$XDG_CONFIG_HOME/suite/config.toml`` (default
``~/.config/suite/config.toml``), for example::

    [sync]
    ssh = "openssh"            # paramiko (default), openssh or auto
    ssh_command = "ssh -q"     # what the openssh transport runs (default: ssh)

A value given to the command (``--ssh``, ``--ssh-command``) wins over the remote's own
setting (``suite remote add NAME URL --ssh openssh``), which wins over this file.
"""

import os

from .replica import SyncError
from .transports import check_kind


def config_path():
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "suite", "config.toml")


def user_settings():
    """The ``[sync]`` table of the user config ({} without one); :class:`SyncError` naming the
    file when it is not TOML."""
    path = config_path()
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return {}
    import tomllib  # only for a config there is (3 ms of every sync's start otherwise)

    try:
        with f:
            table = tomllib.load(f).get("sync", {})
    except tomllib.TOMLDecodeError as exc:
        raise SyncError(f"{path}: not valid TOML ({exc}); fix or remove it") from None
    if not isinstance(table, dict):
        raise SyncError(f"{path}: [sync] must be a table")
    return table


def transport_settings(ssh, ssh_command, remote):
    """``(ssh, ssh_command)``: the arguments, else the remote's settings, else the user's."""
    if ssh is None or ssh_command is None:
        mine = {**user_settings(), **{k: v for k, v in remote.items() if v is not None}}
        ssh = ssh if ssh is not None else mine.get("ssh", "paramiko")
        ssh_command = ssh_command if ssh_command is not None else mine.get("ssh_command")
    check_kind(ssh)
    if ssh_command is not None and not isinstance(ssh_command, str):
        raise SyncError(f"ssh_command must be a command line, not {ssh_command!r}")
    return ssh, ssh_command
