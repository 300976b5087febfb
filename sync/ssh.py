"""The SSH transport: one paramiko connection per sync, one channel to a suite process on the
far side (``suite _sync-server PATH``), requests and file data as frames on that channel.

Honours ``~/.ssh/config`` (HostName, User, Port, IdentityFile, ProxyJump), the SSH agent and
``~/.ssh/known_hosts``; an unknown or changed host key is refused with its fingerprint unless
``accept_new_host_key`` (then a new key is added to known_hosts; a changed key is always
refused).
"""

import collections
import os
import re
import shlex
from dataclasses import dataclass

from . import protocol
from .replica import SyncError, read_jobs_by_files


@dataclass
class Target:
    user: str | None
    host: str
    port: int | None
    path: str


def parse_url(url):
    """``ssh://user@host:port/path`` or ``[user@]host:path``."""
    m = re.match(r"ssh://(?:([^@/]+)@)?([^:/]+)(?::(\d+))?(/.*)\Z", url)
    if m:
        return Target(m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None,
                      m.group(4))
    m = re.match(r"(?:([^@/:]+)@)?([^:/]+):(.+)\Z", url)
    if m:
        return Target(m.group(1), m.group(2), None, m.group(3))
    raise SyncError(f"{url} is not a remote URL ([user@]host:path or ssh://user@host:port/path)")


def _fingerprint(key):
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def connect(target, accept_new_host_key=False, via=None):
    """An authenticated paramiko SSHClient for ``target``, through its ProxyJump chain
    (``via`` overrides the configured one: ``"a,b"`` reaches ``b`` through ``a``)."""
    import paramiko

    config = paramiko.SSHConfig()
    cfg_file = os.path.expanduser("~/.ssh/config")
    if os.path.exists(cfg_file):
        with open(cfg_file) as f:
            config.parse(f)
    opts = config.lookup(target.host)
    hostname = opts.get("hostname", target.host)
    port = target.port or int(opts.get("port", 22))
    user = target.user or opts.get("user") or os.environ.get("USER") or "root"
    keys = [os.path.expanduser(k) for k in opts.get("identityfile", [])]
    sock = jump_client = None
    jump = via if via is not None else opts.get("proxyjump")
    if jump and jump.lower() != "none":
        # the last hop is reached through the ones before it, as OpenSSH does
        *before, last = [h.strip() for h in jump.split(",")]
        jump_client = connect(_hop(last), accept_new_host_key, via=",".join(before) or "none")
        try:
            sock = jump_client.get_transport().open_channel(
                "direct-tcpip", (hostname, port), ("127.0.0.1", 0))
        except Exception as exc:
            raise SyncError(f"jump host {last} cannot reach {hostname}:{port}: {exc}") from None
    known = os.path.expanduser("~/.ssh/known_hosts")
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    if os.path.exists(known):
        client.load_host_keys(known)
    client.set_missing_host_key_policy(_Policy(accept_new_host_key, known))
    try:
        client.connect(hostname, port=port, username=user, key_filename=keys or None,
                       sock=sock, timeout=30, allow_agent=True, look_for_keys=not keys)
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
    return client


def _hop(text):
    """A ProxyJump entry ``[user@]host[:port]`` as a Target."""
    user, _, rest = text.rpartition("@")
    host, _, port = rest.partition(":")
    return Target(user or None, host, int(port) if port else None, "/")


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
        os.makedirs(os.path.dirname(self.known_hosts), exist_ok=True)
        client.save_host_keys(self.known_hosts)


class SSHReplica:
    """A :class:`sync.replica.Replica` on another machine, reached over one SSH channel."""

    def __init__(self, url, remote_suite=None, accept_new_host_key=False, label=None):
        self.target = parse_url(url)
        self.path = self.target.path
        self.client = connect(self.target, accept_new_host_key)
        command = f"{remote_suite or 'suite'} _sync-server {shlex.quote(self.target.path)}"
        stdin, stdout, stderr = self.client.exec_command(command)
        self._in, self._out, self._err = stdin, stdout, stderr
        # one entry per answer not read yet, oldest first: None for a posted write, a list
        # for a request sent ahead (filled with its frame when read, see _later)
        self._expect = collections.deque()
        self._outbuf = bytearray()
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
            self.close()
            raise SyncError(
                f"the suite on {self.target.host} speaks sync protocol {header.get('version')}, "
                f"this one {protocol.VERSION}: install the same suite version on both machines")
        self.label = label or header.get("label") or self.target.host

    def _frame(self):
        try:
            return protocol.read_frame(self._out)
        except protocol.ProtocolError as exc:
            raise SyncError(f"connection to {self.target.host} lost: {exc}") from None

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
        except OSError as exc:
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
            self._checked_frame()
        except SyncError:
            self._expect.clear()
            raise

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
        return self._call("identity")[0]

    def load_record(self, peer):
        return self._call("load_record", peer)[0]

    def save_record(self, peer, record):
        self._call("save_record", peer, record)

    def snapshot(self, ids=None, exclude=()):
        return self._call("snapshot", sorted(ids) if ids is not None else None, list(exclude))[0]

    def snapshot_later(self, ids=None, exclude=()):
        answer = self._later("snapshot", sorted(ids) if ids is not None else None,
                             list(exclude))
        return lambda: answer()[0]

    def find_ids(self, filter):
        return self._call("find_ids", filter)[0]

    def doc_mtime(self, job_id):
        return self._call("doc_mtime", job_id)[0]

    def statepoint(self, job_id):
        return self._call("statepoint", job_id)[1]

    def digest(self, job_id, rel):
        return self._call("digest", job_id, rel)[0]

    def digests_later(self, requests):
        answer = self._later("digests", [list(r) for r in requests])
        return lambda: answer()[0]

    def read(self, job_id, rel):
        mtime, data = self._call("read", job_id, rel)
        return data, mtime

    def read_jobs(self, requests):
        return read_jobs_by_files(self.read_files, requests)

    def read_chunks(self, job_id, rel):
        """``(mtime_ns, iterator of chunks)``; the iterator must be consumed before any other
        request on this connection."""
        self._request("read_stream", job_id, rel)
        header, _ = self._checked_frame()
        mtime = header["mtime"]

        def chunks():
            while True:
                header, data = self._checked_frame()
                if not header.get("more"):
                    return
                yield data

        return mtime, chunks()

    def write_stream(self, job_id, rel, chunks, mtime_ns):
        self._token = getattr(self, "_token", 0) + 1
        self._post("write_open", self._token, job_id, rel)
        size = 0
        for chunk in chunks:
            self._post("write_chunk", self._token, payload=chunk)
            size += len(chunk)
        self._post("write_close", self._token, mtime_ns)
        return size

    def read_files(self, requests):
        sizes, data = self._call("read_files", [list(r) for r in requests])
        pieces = protocol.split_payload(data, [size for size, _ in sizes])
        return [(piece, mtime) for piece, (_, mtime) in zip(pieces, sizes, strict=True)]

    def signatures_later(self, requests):
        answer = self._later("signatures", [list(r) for r in requests])

        def signatures():
            sizes, data = answer()
            return protocol.split_payload(data, sizes)

        return signatures

    def make_deltas_later(self, requests, signatures):
        answer = self._later("make_deltas", [list(r) for r in requests],
                             [len(sig) for sig in signatures], payload=b"".join(signatures))

        def deltas():
            result, data = answer()
            pieces = iter(protocol.split_payload(
                data, [item[0] for item in result if item is not None]))
            return [None if item is None else (next(pieces), item[1]) for item in result]

        return deltas

    def apply_delta(self, job_id, rel, data, mtime_ns):
        self._post("apply_delta", job_id, rel, payload=data, mtime=mtime_ns)

    def write(self, job_id, rel, data, mtime_ns):
        self._post("write", job_id, rel, payload=data, mtime=mtime_ns)

    def delete_file(self, job_id, rel):
        self._post("delete_file", job_id, rel)

    def write_link(self, job_id, rel, target, mtime_ns):
        self._post("write_link", job_id, rel, target, mtime_ns)

    def write_doc(self, job_id, doc):
        self._post("write_doc", job_id, doc)

    def write_project_doc(self, doc):
        self._call("write_project_doc", doc)

    def create_job(self, job_id, statepoint, doc, files):
        payload = b"".join(data for _, data, _ in files)
        self._post("create_job", job_id, statepoint.decode(), doc, payload=payload,
                   files=[(rel, len(data), mtime) for rel, data, mtime in files])

    def delete_job(self, job_id):
        self._post("delete_job", job_id)

