"""An HTTP proxy in front of the moto server that refuses chosen operations, for as long as
a test says: Identity Center answering AccessDenied or throttling, as real AWS can.

    proxy = FaultyAws(fake.endpoint_url).start()
    env = {"AWS_ENDPOINT_URL": proxy.endpoint_url}
    proxy.refuse("DeleteGroupMembership", "AccessDeniedException", 403)
    ...
    proxy.allow("DeleteGroupMembership")

With ``fault_rate`` it also answers that share of the Identity Center calls, picked at
random (``seed`` makes the draw repeatable), with a transient error AWS really sends:
ThrottlingException (400) or InternalServerException (500). ``faults`` counts them by code.

    proxy = FaultyAws(fake.endpoint_url, fault_rate=0.3, seed=1).start()

Operations are told apart by the ``X-Amz-Target`` header of the JSON protocols that
identitystore and sso-admin use (``AWSIdentityStore.DeleteGroupMembership``). Everything
else is forwarded as it came.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


# Errors AWS answers now and then to any call, which a client is expected to retry.
TRANSIENT_FAULTS = (("ThrottlingException", 400), ("InternalServerException", 500))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that went away mid-call (a worker SIGKILLed by a test) is not the proxy's
        # error: no traceback for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FaultyAws:
    def __init__(self, target: str, *, fault_rate: float = 0.0, seed: int | None = None) -> None:
        self.target = target.rstrip("/")
        self._refusals: dict[str, tuple[str, int]] = {}
        self.refused: dict[str, int] = {}
        self.fault_rate = fault_rate
        self._random = random.Random(seed)
        # Identity Center calls seen, and the random faults answered, by error code.
        self.calls = 0
        self.faults: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def refuse(self, operation: str, code: str, status: int) -> None:
        with self._lock:
            self._refusals[operation] = (code, status)

    def allow(self, operation: str) -> None:
        with self._lock:
            self._refusals.pop(operation, None)

    def _draw_fault(self) -> tuple[str, int] | None:
        """For one Identity Center call (under the lock): a random fault, or None to forward."""
        if self.fault_rate <= 0 or self._random.random() >= self.fault_rate:
            return None
        code, status = self._random.choice(TRANSIENT_FAULTS)
        self.faults[code] = self.faults.get(code, 0) + 1
        return code, status

    def start(self) -> FaultyAws:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                with proxy._lock:
                    proxy.calls += bool(operation)
                    refusal = proxy._refusals.get(operation)
                    if refusal:
                        proxy.refused[operation] = proxy.refused.get(operation, 0) + 1
                    elif operation:
                        refusal = proxy._draw_fault()
                if refusal:
                    code, status = refusal
                    payload = json.dumps({"__type": code, "message": "refused by the test"}).encode()
                    self._answer(status, {"x-amzn-errortype": code, "Content-Type": "application/x-amz-json-1.1"}, payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                upstream = requests.request(
                    self.command, proxy.target + self.path, data=body, headers=headers, timeout=60
                )
                passed = {
                    k: v for k, v in upstream.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
                }
                self._answer(upstream.status_code, passed, upstream.content)

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
