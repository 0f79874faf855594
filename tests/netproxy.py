"""A TCP forwarder that a test can cut and restore, to take a server away (Redis, PostgreSQL)
without stopping it for everyone else on the machine.

    proxy = TcpProxy("127.0.0.1", 6379).start()
    url = f"redis://127.0.0.1:{proxy.port}/15"
    proxy.cut()       # live connections closed, new ones refused: "the server is gone"
    proxy.restore()   # listening again on the same port
    proxy.stop()

Each connection is forwarded by two threads, one per direction; the listener polls so that
``cut`` and ``stop`` never wait on a blocked ``accept``.
"""

from __future__ import annotations

import socket
import threading

_POLL_SECONDS = 0.05
_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        """Listen on a free port (``.port``) and forward every connection to the target."""
        self._listen()
        return self

    def cut(self) -> None:
        """Close the listener and every live connection: new connections are refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._open = self._open, set()
        if listener is not None:
            listener.close()
        for sock in live:
            _close(sock)
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None

    def restore(self) -> None:
        """Listen again, on the same port as before."""
        if self._listener is None:
            self._listen()

    def stop(self) -> None:
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- inside -----------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Restoring binds the port again while the cut connections are in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._accepting = self._spawn(self._accept_loop, listener)

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open.update((client, upstream))
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)

    def _spawn(self, target, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        return thread


def _close(sock: socket.socket) -> None:
    # shutdown first: it wakes a thread blocked in recv() on this socket, close() alone may not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
