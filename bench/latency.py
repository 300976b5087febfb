"""A TCP relay that delays every byte by a fixed time each way: a wide-area round trip on
loopback (this VM has no netem). Bandwidth is not limited; only latency is added."""

import queue
import socket
import threading
import time


class DelayProxy:
    """Listen on 127.0.0.1 (``.port``) and relay each connection to ``target_port``, every
    chunk leaving ``rtt / 2`` seconds after it arrived, in order."""

    def __init__(self, target_port, rtt):
        self.target_port, self.delay = target_port, rtt / 2
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                q = queue.Queue()
                threading.Thread(target=self._read, args=(a, q), daemon=True).start()
                threading.Thread(target=self._write, args=(b, q), daemon=True).start()

    def _read(self, sock, q):
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            q.put((time.monotonic() + self.delay, data))
            if not data:
                return

    @staticmethod
    def _write(sock, q):
        while True:
            due, data = q.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                sock.sendall(data)
            except OSError:
                return

    def close(self):
        self._server.close()


def start(target_port, rtt):
    """A :class:`DelayProxy` in a process of its own (as a network is: its work is not the
    measured tool's; in the bench's process its relay threads took the interpreter lock
    from an in-process sync and their CPU counted as the sync's). Returns ``(process,
    port)``; the relay ends when the process is killed or the bench's stdin to it closes."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, __file__, str(target_port), repr(rtt)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"the latency relay did not start: {line!r}")
    return proc, int(line)


if __name__ == "__main__":
    import sys

    relay = DelayProxy(int(sys.argv[1]), float(sys.argv[2]))
    print(relay.port, flush=True)
    sys.stdin.read()  # until the bench closes it (or exits)
