"""The openssh transport against the real sshd: a live ControlMaster is reused (no new login),
ProxyCommand and Match blocks apply, a host only OpenSSH's config knows works; and transports
that cannot start fail with one line naming the transport and the remedy."""

import os
import shlex
import socket
import subprocess
import tempfile

import pytest

import suite
import sync


@pytest.fixture
def pair(tmp_path):
    lap = suite.init_project(tmp_path / "laptop")
    clu = suite.init_project(tmp_path / "cluster")
    for i in range(3):
        job = lap.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(i) * 100)
    return lap, clu


def _logins(sshd):
    return (sshd["root"] / "log").read_text().count("Accepted publickey")


def cli(*args, cwd):
    return subprocess.run(["suite", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def control_path():
    """A short directory for a master socket (a socket path is limited to ~100 bytes)."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="cm") as d:
        yield os.path.join(d, "master")


def test_controlmaster_is_reused_without_a_new_login(sshd, ssh_home, openssh, pair,
                                                     control_path):
    lap, clu = pair
    command = openssh(f"Host cluster\n  ControlPath {control_path}\n  ControlMaster no\n")
    argv = shlex.split(command)
    subprocess.run([*argv, "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-N", "-f",
                    "cluster"], check=True, timeout=30, stdin=subprocess.DEVNULL)
    try:
        subprocess.run([*argv, "-O", "check", "cluster"], check=True, capture_output=True)
        before = _logins(sshd)
        result = sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"],
                           ssh="openssh", ssh_command=command)
        assert result.exit_status == 0 and len(clu) == 3
        assert _logins(sshd) == before  # one more session on the open connection
        # auto finds the master and says so
        lap.open_job({"i": 0}).doc.step = 10
        r = cli("sync", f"cluster:{clu.path}", "--ssh", "auto", "--ssh-command", command,
                "--remote-suite", sshd["remote_suite"], "-v", cwd=lap.path)
        assert r.returncode == 0, r.stderr
        assert "transport to cluster: openssh (auto: open)" in r.stderr
        assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.step == 10
        assert _logins(sshd) == before
    finally:
        subprocess.run([*argv, "-O", "exit", "cluster"], capture_output=True, timeout=30)
    # no master now: auto takes paramiko (one login)
    r = cli("sync", f"cluster:{clu.path}", "--ssh", "auto", "--ssh-command", command,
            "--remote-suite", sshd["remote_suite"], "-v", cwd=lap.path)
    assert r.returncode == 0, r.stderr
    assert "transport to cluster: paramiko (auto: no master connection)" in r.stderr
    assert _logins(sshd) == before + 1


def test_proxycommand(sshd, ssh_home, openssh, pair):
    """ProxyCommand ssh -W through the same sshd as the jump host: two logins."""
    lap, clu = pair
    config = ssh_home / ".ssh" / "openssh_config"
    command = openssh(
        f"Host viaproxy\n  HostName 127.0.0.1\n  Port {sshd['port']}\n  User root\n"
        f"  IdentityFile {sshd['client_key']}\n"
        f"  ProxyCommand ssh -F {config} -W %h:%p cluster\n")
    before = _logins(sshd)
    result = sync.sync(lap, f"viaproxy:{clu.path}", remote_suite=sshd["remote_suite"],
                       ssh="openssh", ssh_command=command)
    assert result.exit_status == 0 and len(clu) == 3
    assert _logins(sshd) - before == 2


def test_match_block_sets_the_port(sshd, ssh_home, openssh, pair):
    lap, clu = pair
    command = openssh(
        "Match originalhost matched\n"
        f"  Port {sshd['port']}\n"
        f"Host matched\n  HostName 127.0.0.1\n  User root\n  IdentityFile {sshd['client_key']}\n")
    result = sync.sync(lap, f"matched:{clu.path}", remote_suite=sshd["remote_suite"],
                       ssh="openssh", ssh_command=command)
    assert result.exit_status == 0 and len(clu) == 3


def test_alias_only_openssh_resolves(sshd, ssh_home, openssh, pair):
    """A host defined in an included file: paramiko does not read Include."""
    lap, clu = pair
    extra = ssh_home / ".ssh" / "hpc.conf"
    extra.write_text(f"Host onlyopenssh\n  HostName 127.0.0.1\n  Port {sshd['port']}\n"
                     f"  User root\n  IdentityFile {sshd['client_key']}\n")
    config = ssh_home / ".ssh" / "config"
    config.write_text(f"Include {extra}\n" + config.read_text())  # before any Host block
    command = openssh()
    url = f"onlyopenssh:{clu.path}"
    with pytest.raises(sync.SyncError, match=r"paramiko transport: cannot connect to "
                                             r"onlyopenssh:22: no such host .*--ssh openssh"):
        sync.sync(lap, url, remote_suite=sshd["remote_suite"])
    assert len(clu) == 0
    result = sync.sync(lap, url, remote_suite=sshd["remote_suite"], ssh="openssh",
                       ssh_command=command)
    assert result.exit_status == 0 and len(clu) == 3


# -- transports that cannot start -------------------------------------------------------------

def _one_line_error(r, *parts):
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for part in parts:
        assert part in r.stderr, r.stderr


def test_no_ssh_binary(sshd, ssh_home, pair):
    lap, clu = pair
    with pytest.raises(sync.SyncError, match=r"openssh transport: cannot run '/nonexistent/ssh'"
                                             r".*--ssh-command"):
        sync.sync(lap, f"cluster:{clu.path}", ssh="openssh", ssh_command="/nonexistent/ssh -q")
    r = cli("sync", f"cluster:{clu.path}", "--ssh", "openssh", "--ssh-command",
            "/nonexistent/ssh", cwd=lap.path)
    _one_line_error(r, "openssh transport", "install the OpenSSH client")
    # the same from the user config file
    config = ssh_home / ".config" / "suite" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[sync]\nssh = "openssh"\nssh_command = "/nonexistent/ssh"\n')
    env = {**os.environ, "HOME": str(ssh_home)}
    env.pop("XDG_CONFIG_HOME", None)
    r = subprocess.run(["suite", "sync", f"cluster:{clu.path}"], cwd=lap.path, env=env,
                       capture_output=True, text=True, timeout=60)
    _one_line_error(r, "openssh transport: cannot run '/nonexistent/ssh'")
    assert len(clu) == 0


def test_stale_master_socket(sshd, ssh_home, openssh, pair, control_path):
    """A socket no master answers on: auto says so and takes paramiko; openssh, where the
    socket was the only way in (no key), names the stale master and the remedy."""
    lap, clu = pair
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(control_path)  # left behind, as by a master that died
    command = openssh(f"Host cluster\n  ControlPath {control_path}\n  ControlMaster no\n")
    r = cli("sync", f"cluster:{clu.path}", "--ssh", "auto", "--ssh-command", command,
            "--remote-suite", sshd["remote_suite"], "-v", cwd=lap.path)
    assert r.returncode == 0, r.stderr
    assert "transport to cluster: paramiko (auto: the master socket is stale" in r.stderr
    command = openssh(f"Host cluster\n  ControlPath {control_path}\n  ControlMaster no\n"
                      "  IdentityFile /nonexistent/key\n")
    with open(ssh_home / ".ssh" / "openssh_config") as f:  # its own key is no longer tried
        text = f.read().replace(f"  IdentityFile {sshd['client_key']}\n", "")
    (ssh_home / ".ssh" / "openssh_config").write_text(text)
    r = cli("sync", f"cluster:{clu.path}", "--ssh", "openssh", "--ssh-command", command,
            "--remote-suite", sshd["remote_suite"], cwd=lap.path)
    _one_line_error(r, "openssh transport: the master connection to cluster is stale",
                    "ssh -O exit cluster")


@pytest.mark.parametrize("kind", ["openssh", "local", "paramiko"])
def test_remote_command_not_found(kind, sshd, ssh_home, openssh, pair):
    lap, clu = pair
    url = str(clu.path) if kind == "local" else f"cluster:{clu.path}"
    options = {"ssh": kind, "ssh_command": openssh() if kind == "openssh" else None}
    with pytest.raises(sync.SyncError, match=f"{kind} transport: suite is not installed on"):
        sync.sync(lap, url, remote_suite="/nonexistent/suite", **options)
    r = cli("sync", url, "--remote-suite", "/nonexistent/suite", "--ssh", kind,
            *(["--ssh-command", options["ssh_command"]] if options["ssh_command"] else []),
            cwd=lap.path)
    _one_line_error(r, f"{kind} transport", "--remote-suite")


def test_bad_transport_names_are_refused(pair, tmp_path, monkeypatch):
    lap, clu = pair
    with pytest.raises(sync.SyncError, match="--ssh takes paramiko, openssh, local, auto"):
        sync.sync(lap, clu.path, ssh="telnet")
    with pytest.raises(sync.SyncError, match="--ssh local takes a local path"):
        sync.sync(lap, f"cluster:{clu.path}", ssh="local")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "cfg" / "suite").mkdir(parents=True)
    (tmp_path / "cfg" / "suite" / "config.toml").write_text("[sync\n")
    with pytest.raises(sync.SyncError, match="config.toml: not valid TOML"):
        sync.sync(lap, clu.path)
    assert len(clu) == 0


def test_a_slow_login_is_waited_for(sshd, ssh_home, openssh, pair, tmp_path):
    """A login slower than --timeout (someone typing a one-time code) is not given up on;
    the timeout holds again once the far side has answered."""
    lap, clu = pair
    slow = tmp_path / "slow-ssh"
    # the login takes 2.5 timeouts; 2 s, not less, so that a loaded machine's late heartbeat
    # after the login is not taken for silence
    slow.write_text(f"#!/bin/sh\nsleep 5\nexec {openssh()} \"$@\"\n")
    slow.chmod(0o755)
    result = sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"],
                       ssh="openssh", ssh_command=str(slow), timeout=2)
    assert result.exit_status == 0 and len(clu) == 3


def test_the_openssh_tests_share_one_master_connection(sshd, ssh_home, openssh, control_dir,
                                                       pair):
    """The openssh case of every parametrised sync test rides on one ControlMaster (see
    tests/sync/conftest.py): after the first, a sync makes no new login."""
    from tests.sync.conftest import make_transport

    lap, clu = pair
    transport = make_transport("openssh", sshd, openssh, control_dir)
    assert transport.sync(lap, clu.path).exit_status == 0
    before = _logins(sshd)
    lap.open_job({"i": 0}).doc.step = 10
    assert transport.sync(lap, clu.path).exit_status == 0
    assert clu.open_job(id=lap.open_job({"i": 0}).id).doc.step == 10
    assert _logins(sshd) == before


# -- what a user's config sets for interactive logins ----------------------------------------

def _busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


@pytest.mark.parametrize("setting", ["local command", "remote command", "forwardings"])
def test_settings_for_interactive_logins_do_not_reach_the_sync(sshd, ssh_home, openssh, pair,
                                                                tmp_path, setting):
    """A LocalCommand (its output would land in the frames), a RemoteCommand (ssh refuses a
    command line beside one), port forwardings that cannot be set up (here one whose port is
    taken, with ExitOnForwardFailure), X11 and agent forwarding: the transport clears them
    for its session, as scp does; everything else in the config still applies."""
    lap, clu = pair
    busy = _busy_port()
    marker = tmp_path / "local-command-ran"
    lines = {
        "local command": f"  PermitLocalCommand yes\n  LocalCommand echo hello; touch {marker}\n",
        "remote command": "  RemoteCommand echo not-the-sync-server\n",
        "forwardings": f"  LocalForward 127.0.0.1:{busy.getsockname()[1]} 127.0.0.1:22\n"
                       "  ExitOnForwardFailure yes\n  ForwardX11 yes\n  ForwardAgent yes\n",
    }[setting]
    command = openssh(f"Host cluster\n{lines}")
    try:
        result = sync.sync(lap, f"cluster:{clu.path}", remote_suite=sshd["remote_suite"],
                           ssh="openssh", ssh_command=command)
    finally:
        busy.close()
    assert result.exit_status == 0 and len(clu) == 3
    assert not marker.exists()
    # the same config as the user's interactive ssh: the setting is there and takes effect
    argv = shlex.split(command)
    shown = subprocess.run([*argv, "-G", "cluster"], capture_output=True, text=True,
                           check=True).stdout
    assert {"local command": "permitlocalcommand yes", "remote command": "remotecommand echo",
            "forwardings": "exitonforwardfailure yes"}[setting] in shown


def test_local_transport_errors_name_the_far_path(pair, tmp_path):
    """A failure on the far side of the local transport names that project's path and the
    transport (as the SSH transports name host:path), not a host called "local": in the
    handshake, in an operation (the far workspace is a file), and when its process stops."""
    lap, clu = pair
    far = str(clu.path)
    # the far side refuses in an operation: its workspace is not a directory
    os.rmdir(os.path.join(far, "workspace"))
    with open(os.path.join(far, "workspace"), "w") as f:
        f.write("not a directory\n")
    for args in (["sync", far, "--ssh", "local"], ["run", "--on", far]):
        r = cli(*args, cwd=lap.path)
        _one_line_error(r, f"{far} (local transport): ", "Not a directory")
        assert "error: local:" not in r.stderr, r.stderr
    # the handshake: no project there
    missing = str(tmp_path / "nowhere")
    r = cli("sync", missing, "--ssh", "local", cwd=lap.path)
    _one_line_error(r, f"{missing} (local transport): ", "not a project's root directory")
    assert f"local transport):{missing}" not in r.stderr, r.stderr
    # the far process stops before it says hello
    with pytest.raises(sync.SyncError, match=f"local transport: the suite process for {far} "
                                             r"stopped \(status 1\)"):
        sync.sync(lap, far, ssh="local", remote_suite="/bin/false")
