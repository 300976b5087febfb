"""The SSH transport: one paramiko connection per sync, one channel to a suite process on the
far side (``suite _sync-server PATH``), requests and file data as frames on that channel.

Honours ``~/.ssh/config`` (HostName, User, Port, IdentityFile, ProxyJump), the SSH agent and
``~/.ssh/known_hosts``; an unknown or changed host key is refused with its fingerprint unless
``accept_new_host_key`` (then a new key is appended to known_hosts; a changed key is always
refused). The transport sends keepalives; a far side that sends nothing for ``timeout``
seconds is given up on with an error naming the host.
"""

import collections
import os
import re
import shlex
from dataclasses import dataclass

from suite.errors import InvalidStatepointError
from suite.jsonio import write_all

from . import protocol
from .replica import (
    RESERVED,
    SyncError,
    check_document,
    check_id,
    check_identity,
    check_rel,
    read_jobs_by_files,
)

#: seconds without a byte from the far side before the sync gives up (``--timeout``); the
#: far side sends a heartbeat while it works on a long request, so only a stopped or
#: unreachable one is given up on
TIMEOUT = 60.0


@dataclass
class Target:
    user: str | None
    host: str
    port: int | None
    path: str


def parse_url(url):
    """``ssh://user@host:port/path`` or ``[user@]host:path``; a path starting with ``~``
    (``host:~/p``, ``ssh://host/~/p``) is under the home directory on the far side."""
    m = re.match(r"ssh://(?:([^@/]+)@)?([^:/]+)(?::([^/]*))?(/.*)\Z", url)
    if m:
        path = m.group(4)
        if path.startswith("/~"):  # as git and rsync read ssh://host/~/path
            path = path[1:]
        return Target(m.group(1), m.group(2), _port(m.group(3), url), path)
    m = re.match(r"(?:([^@/:]+)@)?([^:/]+):(.+)\Z", url)
    if m:
        if m.group(3).isdigit():  # host:2222 is a port, not a path, to whoever typed it
            _port(m.group(3), url)
            raise SyncError(f"{url}: a port goes in an ssh:// URL "
                            f"(ssh://{m.group(2)}:{m.group(3)}/path)")
        return Target(m.group(1), m.group(2), None, m.group(3))
    raise SyncError(f"{url} is not a remote URL ([user@]host:path or ssh://user@host:port/path)")


def _port(text, where):
    """A port number from ``where`` (None if not given); refuses what is not 1-65535."""
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SyncError(f"{where}: port {text!r} is not a port number (1-65535)")
    return int(text)


def _fingerprint(key):
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def connect(target, accept_new_host_key=False, via=None, timeout=TIMEOUT):
    """An authenticated paramiko SSHClient for ``target``, through its ProxyJump chain
    (``via`` overrides the configured one: ``"a,b"`` reaches ``b`` through ``a``), sending
    keepalives. Raises :class:`SyncError` naming the host when it cannot."""
    import paramiko

    config = paramiko.SSHConfig()
    cfg_file = os.path.expanduser("~/.ssh/config")
    if os.path.exists(cfg_file):
        with open(cfg_file) as f:
            config.parse(f)
    opts = config.lookup(target.host)
    hostname = opts.get("hostname", target.host)
    port = target.port or _port(str(opts.get("port", 22)), f"~/.ssh/config, Host {target.host}")
    user = target.user or opts.get("user") or os.environ.get("USER") or "root"
    keys = [os.path.expanduser(k) for k in opts.get("identityfile", [])]
    sock = jump_client = None
    jump = via if via is not None else opts.get("proxyjump")
    if jump and jump.lower() != "none":
        # the last hop is reached through the ones before it, as OpenSSH does
        *before, last = [h.strip() for h in jump.split(",")]
        jump_client = connect(_hop(last), accept_new_host_key, via=",".join(before) or "none",
                              timeout=timeout)
        try:
            sock = jump_client.get_transport().open_channel(
                "direct-tcpip", (hostname, port), ("127.0.0.1", 0))
        except Exception as exc:
            raise SyncError(f"jump host {last} cannot reach {hostname}:{port}: {exc}") from None
    known = os.path.expanduser("~/.ssh/known_hosts")
    client = paramiko.SSHClient()
    for path in ("/etc/ssh/ssh_known_hosts", known):
        _load_known_hosts(client.get_host_keys(), path)
    client.set_missing_host_key_policy(_Policy(accept_new_host_key, known))
    try:
        client.connect(hostname, port=port, username=user, key_filename=keys or None,
                       sock=sock, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, channel_timeout=timeout, allow_agent=True,
                       look_for_keys=not keys)
    except paramiko.BadHostKeyException as exc:
        raise SyncError(
            f"the host key of {hostname} changed: it is now {_fingerprint(exc.key)}, "
            f"known_hosts has {_fingerprint(exc.expected_key)}; if that is expected, remove "
            f"the old key (ssh-keygen -R {hostname}) and connect again") from None
    except paramiko.AuthenticationException as exc:
        raise SyncError(f"cannot log in to {user}@{hostname}:{port}: {exc}") from None
    except (OSError, paramiko.SSHException) as exc:
        if isinstance(exc, SyncError):
            raise
        raise SyncError(f"cannot connect to {hostname}:{port}: {exc}") from None
    client.jump_client = jump_client  # keeps the hop's connection open as long as this one
    # keeps NAT and firewall state alive through quiet stretches; a dead link then fails
    client.get_transport().set_keepalive(max(1, min(15, int(timeout // 4))))
    return client


def _load_known_hosts(host_keys, path):
    """Add the entries of a known_hosts file to paramiko's ``host_keys``, skipping the lines
    paramiko cannot read (``@cert-authority``, ``@revoked``, broken ones) where its own
    loader would fail."""
    from paramiko import SSHException
    from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        try:
            entry = HostKeyEntry.from_line(line, lineno)
        except (InvalidHostKey, SSHException, ValueError):
            continue
        if entry is not None:
            for name in entry.hostnames:
                host_keys.add(name, entry.key.get_name(), entry.key)


def _hop(text):
    """A ProxyJump entry ``[user@]host[:port]`` as a Target."""
    user, _, rest = text.rpartition("@")
    host, _, port = rest.partition(":")
    return Target(user or None, host, _port(port, f"ProxyJump {text}") if port else None, "/")


class _Policy:
    def __init__(self, accept_new, known_hosts):
        self.accept_new = accept_new
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        if not self.accept_new:
            raise SyncError(
                f"unknown host key for {hostname}: {key.get_name()} {_fingerprint(key)}; "
                "check it, then run again with --accept-new-host-key to trust it")
        client.get_host_keys().add(hostname, key.get_name(), key)
        # one line appended, never the file rewritten: paramiko would drop comments and lines
        # it cannot parse (options, certificates, @markers)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n".encode()
        os.makedirs(os.path.dirname(self.known_hosts), exist_ok=True)
        fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size:
                with open(self.known_hosts, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            write_all(fd, line)
        finally:
            os.close(fd)


class SSHReplica:
    """A :class:`sync.replica.Replica` on another machine, reached over one SSH channel."""

    def __init__(self, url, remote_suite=None, accept_new_host_key=False, label=None,
                 timeout=None, init=False):
        self.target = parse_url(url)
        self.path = self.target.path
        self.timeout = TIMEOUT if timeout is None else timeout
        if not self.timeout > 0:
            raise SyncError(f"the timeout must be a number of seconds above 0, not {timeout!r}")
        # one entry per answer not read yet, oldest first: None for a posted write, a list
        # for a request sent ahead (filled with its frame when read, see _later)
        self._expect = collections.deque()
        self._outbuf = bytearray()
        self.changed = []  # refused writes' notes, from their answers (see Replica.changed)
        self._broken = False
        self.client = connect(self.target, accept_new_host_key, timeout=self.timeout)
        try:
            self._start(remote_suite, label, init)
        except BaseException:
            self._broken = True
            self.close()
            raise

    def _start(self, remote_suite, label, init):
        # the path goes quoted; the far side expands a leading ~ (server.py), as ssh users expect
        command = f"{remote_suite or 'suite'} _sync-server {shlex.quote(self.target.path)}"
        if init:
            command += " --init"
        stdin, stdout, stderr = self.client.exec_command(command, timeout=self.timeout)
        self._in, self._out, self._err = stdin, stdout, stderr
        header, _ = self._frame()
        if header is None:
            status = stdout.channel.recv_exit_status()
            err = stderr.read().decode(errors="replace").strip()
            if status == 127 or "not found" in err:
                raise SyncError(
                    f"suite is not installed on {self.target.host} (or not on the PATH of a "
                    "non-interactive shell); install it there or give --remote-suite PATH")
            raise SyncError(f"the suite process on {self.target.host} stopped: {err[-500:]}")
        if not header.get("ok"):
            raise SyncError(f"{self.target.host}:{self.path}: {header.get('error')}")
        if header.get("version") != protocol.VERSION:
            raise SyncError(
                f"the suite on {self.target.host} speaks sync protocol {header.get('version')}, "
                f"this one {protocol.VERSION}: install the same suite version on both machines")
        self.label = label or header.get("label") or self.target.host
        # ask for heartbeats while the far side works (answered in order, never waited for;
        # a suite too old to send them answers with an error, which is ignored)
        self._later("heartbeat", max(0.5, self.timeout / 4))

    def _frame(self):
        """The next frame from the far side (heartbeats skipped); :class:`SyncError` naming
        the host when nothing came for ``timeout`` seconds, :class:`protocol.ProtocolError`
        for what is not a frame."""
        try:
            while True:
                header, payload = protocol.read_frame(self._out)
                if header is None or not header.get("heartbeat"):
                    return header, payload
        except TimeoutError:
            self._broken = True
            raise SyncError(
                f"{self.target.host} sent nothing for {self.timeout:g} s (the far side is "
                "stopped or unreachable); run the sync again to resume, or give a longer "
                "--timeout") from None
        except protocol.ProtocolError as exc:
            self._broken = True
            raise protocol.ProtocolError(f"{self.target.host}: {exc}") from None

    #: writes in flight without their answers, at most; when full, answers are read down to
    #: half, so the far side always has work queued (answers are small: ~40 bytes each)
    WINDOW = 512

    #: bytes of queued frames sent at once: one SSH write per frame would make paramiko's
    #: per-packet cost (encryption in Python) dominate syncs of many small files
    SEND_BATCH = 256 << 10

    def _send(self, op, args, payload, extra, flush=True):
        self._outbuf += protocol.encode_frame({"op": op, "args": list(args), **extra}, payload)
        if flush or len(self._outbuf) >= self.SEND_BATCH:
            self._flush()

    def _flush(self):
        if not self._outbuf:
            return
        try:
            self._in.write(bytes(self._outbuf))
            self._in.flush()
        except TimeoutError:
            self._broken = True
            raise SyncError(f"{self.target.host} took nothing for {self.timeout:g} s (the far "
                            "side is stopped or unreachable); run the sync again to resume, "
                            "or give a longer --timeout") from None
        except OSError as exc:
            self._broken = True
            raise SyncError(f"connection to {self.target.host} lost: {exc}") from None
        self._outbuf.clear()

    def _post(self, op, *args, payload=b"", **extra):
        """Send a write without waiting: the work streams instead of one round trip each."""
        self._send(op, args, payload, extra, flush=False)
        self._expect.append(None)
        if len(self._expect) >= self.WINDOW:
            # read answers down to half the window, so the next writes go out as one batch
            while len(self._expect) > self.WINDOW // 2:
                self._answer()

    def _answer(self):
        """Read the oldest answer not read yet: a write's (raise if it failed) or that of a
        request sent ahead (kept for its caller)."""
        self._flush()
        holder = self._expect.popleft()
        if holder is not None:
            holder.append(self._frame())
            return
        try:
            header, _ = self._checked_frame()
        except SyncError:
            self._expect.clear()
            raise
        if header.get("result") is not None:  # a write refused: its target changed
            self.changed.append(check_note(header["result"], self.target.host))

    def _drain(self):
        while self._expect:
            self._answer()

    def _later(self, op, *args, payload=b"", **extra):
        """Send a request now and return a function that returns its ``(result, payload)``
        later: the far side works on it while this side does other work (writes may be
        posted meanwhile; their answers are read in order)."""
        self._send(op, args, payload, extra)
        holder = []
        self._expect.append(holder)

        def answer():
            while not holder:
                self._answer()
            header, data = self._checked(*holder[0])
            return header.get("result"), data

        return answer

    def flush(self):
        """Wait for the answers to every write sent so far; raise if one failed."""
        self._drain()

    def _request(self, op, *args, payload=b"", **extra):
        """Send a request whose answer is read next (writes in flight are answered first)."""
        self._drain()
        self._send(op, args, payload, extra)

    def _call(self, op, *args, payload=b"", **extra):
        self._request(op, *args, payload=payload, **extra)
        return self._reply()

    def _reply(self):
        header, data = self._checked_frame()
        return header.get("result"), data

    def _checked_frame(self):
        """The next frame; an error answer raises."""
        return self._checked(*self._frame())

    def _checked(self, header, data):
        if header is None:
            raise SyncError(f"connection to {self.target.host} closed")
        if not header.get("ok"):
            raise SyncError(f"{self.target.host}: {header.get('error')}")
        return header, data

    def close(self):
        if not self._broken:  # a far side that stopped answering is not waited for again
            try:
                self._drain()
            except SyncError:
                pass
            try:
                protocol.write_frame(self._in, {"op": "close"})
            except OSError:
                pass
        client = self.client
        while client is not None:  # this connection, then the jump hosts it went through
            client.close()
            client = getattr(client, "jump_client", None)

    # -- the Replica interface ----------------------------------------------------------------
    def identity(self):
        return check_identity(self._call("identity")[0], self.target.host)

    def load_record(self, peer):
        return self._call("load_record", peer)[0]

    def save_record(self, peer, record):
        self._call("save_record", peer, record)

    def snapshot(self, ids=None, exclude=()):
        return self.snapshot_later(ids, exclude)()

    def snapshot_later(self, ids=None, exclude=()):
        answer = self._later("snapshot", sorted(ids) if ids is not None else None,
                             list(exclude))
        return lambda: check_snapshot(answer()[0], self.target.host)

    def find_ids(self, filter):
        ids = self._shaped("find_ids", self._call("find_ids", filter)[0],
                           lambda v: isinstance(v, list))
        return [check_id(job_id) for job_id in ids]

    def doc_mtime(self, job_id):
        return self._shaped("doc_mtime", self._call("doc_mtime", job_id)[0],
                            lambda v: type(v) is int)

    def _shaped(self, op, value, ok):
        """``value``, the answer to ``op``, if ``ok(value)``; else a ProtocolError."""
        if not ok(value):
            raise protocol.ProtocolError(f"{self.target.host} answered {op} with something "
                                         "of the wrong shape")
        return value

    def statepoint(self, job_id):
        return self._call("statepoint", job_id)[1]

    def digest(self, job_id, rel):
        return self._call("digest", job_id, rel)[0]

    def digests_later(self, requests):
        answer = self._later("digests", [list(r) for r in requests])
        return lambda: self._shaped("digests", answer()[0], lambda v: isinstance(v, list) and
                                    len(v) == len(requests) and
                                    all(isinstance(d, str) for d in v))

    def read(self, job_id, rel):
        mtime, data = self._call("read", job_id, rel)
        return data, self._shaped("read", mtime, lambda v: type(v) is int)

    def read_jobs(self, requests):
        return read_jobs_by_files(self.read_files, requests)

    def read_chunks(self, job_id, rel):
        """``(mtime_ns, iterator of chunks)``; the iterator must be consumed before any other
        request on this connection."""
        self._request("read_stream", job_id, rel)
        header, _ = self._checked_frame()
        mtime = self._shaped("read_stream", header.get("mtime"), lambda v: type(v) is int)

        def chunks():
            while True:
                header, data = self._checked_frame()
                if not header.get("more"):
                    return
                yield data

        return mtime, chunks()

    def write_stream(self, job_id, rel, chunks, mtime_ns, expect):
        self._token = getattr(self, "_token", 0) + 1
        self._post("write_open", self._token, job_id, rel, expect)
        size = 0
        for chunk in chunks:
            self._post("write_chunk", self._token, payload=chunk)
            size += len(chunk)
        self._post("write_close", self._token, mtime_ns)
        return size

    def read_files(self, requests):
        sizes, data = self._call("read_files", [list(r) for r in requests])
        if not isinstance(sizes, list) or len(sizes) != len(requests) or not all(
                _ints(item, 2) for item in sizes):
            raise protocol.ProtocolError(f"{self.target.host} answered read_files with "
                                         "something else than a size and mtime per file")
        pieces = protocol.split_payload(data, [size for size, _ in sizes])
        return [(piece, mtime) for piece, (_, mtime) in zip(pieces, sizes, strict=True)]

    def signatures_later(self, requests):
        answer = self._later("signatures", [list(r) for r in requests])

        def signatures():
            sizes, data = answer()
            self._shaped("signatures", sizes,
                         lambda v: isinstance(v, list) and len(v) == len(requests))
            return protocol.split_payload(data, sizes)

        return signatures

    def make_deltas_later(self, requests, signatures):
        answer = self._later("make_deltas", [list(r) for r in requests],
                             [len(sig) for sig in signatures], payload=b"".join(signatures))

        def deltas():
            result, data = answer()
            self._shaped("make_deltas", result, lambda v: isinstance(v, list) and len(v) == len(
                requests) and all(item is None or _ints(item, 2) for item in v))
            pieces = iter(protocol.split_payload(
                data, [item[0] for item in result if item is not None]))
            return [None if item is None else (next(pieces), item[1]) for item in result]

        return deltas

    def apply_delta(self, job_id, rel, data, mtime_ns, expect):
        self._post("apply_delta", job_id, rel, payload=data, mtime=mtime_ns, expect=expect)

    def write(self, job_id, rel, data, mtime_ns, expect):
        self._post("write", job_id, rel, payload=data, mtime=mtime_ns, expect=expect)

    def delete_file(self, job_id, rel, expect):
        self._post("delete_file", job_id, rel, expect)

    def write_link(self, job_id, rel, target, mtime_ns, expect):
        self._post("write_link", job_id, rel, target, mtime_ns, expect)

    def write_doc(self, job_id, doc, expect):
        self._post("write_doc", job_id, doc, expect)

    def write_project_doc(self, doc, expect):
        note = self._call("write_project_doc", doc, expect)[0]
        if note is not None:
            self.changed.append(check_note(note, self.target.host))
        return note

    def try_lock(self, peer):
        return self._call("try_lock", peer)[0]

    def lock(self, peer, timeout):
        self._call("lock", peer, timeout)

    def unlock(self, peer):
        self._call("unlock", peer)

    def create_job(self, job_id, statepoint, doc, files):
        payload = b"".join(data for _, data, _ in files)
        self._post("create_job", job_id, statepoint.decode(), doc, payload=payload,
                   files=[(rel, len(data), mtime) for rel, data, mtime in files])

    def delete_job(self, job_id, expect):
        self._post("delete_job", job_id, expect)


def _ints(value, n):
    """Whether ``value`` is a list of ``n`` integers (not booleans)."""
    return isinstance(value, list) and len(value) == n and all(type(v) is int for v in value)


def check_note(note, host):
    """A refused write's note from ``host`` (see :attr:`sync.replica.Replica.changed`), checked:
    it names an item of the local record. Raises :class:`protocol.ProtocolError` for a wrong
    shape, :class:`SyncError` for a bad job id or path."""
    if not isinstance(note, dict) or set(note) != {"job", "path"} or not all(
            v is None or isinstance(v, str) for v in note.values()):
        raise protocol.ProtocolError(f"{host} answered a write with something of the wrong "
                                     "shape")
    if note["job"] is not None:
        check_id(note["job"])
    if note["path"] is not None:
        check_rel(note["path"])
    return note


def check_snapshot(snapshot, host):
    """A snapshot from ``host`` (see :meth:`sync.replica.Replica.snapshot`), checked before any
    of it is used (links, skipped paths and unreadable jobs too). Raises
    :class:`protocol.ProtocolError` for a wrong shape, :class:`SyncError` for job ids or paths
    that could escape, reserved files listed as ordinary ones and a
    project document JSON cannot hold. A job whose document holds what JSON cannot (NaN,
    Infinity, bad keys) is moved to ``snapshot["refused"]`` (``{id: reason}``): the sync
    reports it and leaves it alone on both sides."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("jobs"), dict) \
            or not isinstance(snapshot.get("project_doc"), dict):
        raise protocol.ProtocolError(f"{host} sent a snapshot that is not one")
    refused, good_rels = {}, set()  # most jobs hold files of the same names: checked once
    for job_id, entry in snapshot["jobs"].items():
        check_id(job_id)
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict) \
                or not isinstance(entry.get("doc"), dict):
            raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong shape "
                                         f"for job {job_id}")
        for rel, state in entry["files"].items():
            if rel not in good_rels:
                if check_rel(rel) in RESERVED:
                    raise SyncError(f"{host} listed {rel} of job {job_id} as an ordinary "
                                    "file: refused")
                good_rels.add(rel)
            # [size, mtime_ns, inode] (the inode comes back as part of what a write expects),
            # [size, mtime_ns, inode, target] for a link kept inside the job (its target is
            # checked where the link is made, Replica.write_link)
            if not (_ints(state, 3) or (type(state) is list and len(state) == 4 and
                                        _ints(state[:3], 3) and type(state[3]) is str)) \
                    or state[0] < 0:
                raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong "
                                             f"shape for {job_id}/{rel}")
        skipped = entry.get("skipped", {})
        if not isinstance(skipped, dict) or not all(
                isinstance(v, str) for v in skipped.values()) \
                or type(entry.get("links", 0)) is not int:
            raise protocol.ProtocolError(f"{host} sent a snapshot entry of the wrong shape "
                                         f"for job {job_id}")
        for rel in skipped:
            check_rel(rel)
        try:
            check_document(entry["doc"], f"job {job_id}: document on {host}")
        except InvalidStatepointError as exc:
            refused[job_id] = str(exc)
    unreadable = snapshot.setdefault("unreadable", {})
    if not isinstance(unreadable, dict) or not all(
            isinstance(v, str) for v in unreadable.values()):
        raise protocol.ProtocolError(f"{host} sent a snapshot that is not one")
    for job_id in unreadable:
        check_id(job_id)
    try:
        check_document(snapshot["project_doc"], f"project document on {host}")
    except InvalidStatepointError as exc:
        raise SyncError(f"{exc}: refused; fix it there") from None
    for job_id in refused:
        del snapshot["jobs"][job_id]
    snapshot["refused"] = refused
    return snapshot
