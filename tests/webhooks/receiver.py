"""A real HTTP receiver on loopback, run in a thread: records every request it gets.

Paths choose the behaviour: `/ok` answers 200, `/status/<n>` answers n, `/plan` answers the statuses queued
in `plan` in turn (then 200), `/slow` never answers in time, `/drip` trickles a 200 body one byte at a time,
`/huge` streams a 200 body of 200 MB, `/redirect` answers 307.
"""

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "Receiver":
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def bodies(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.bodies(path)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.plan.pop(0) if self.path == "/plan" and receiver.plan else 200
            try:
                self._answer(status)
            except OSError:
                pass  # the deliverer hung up, as it should on slow or huge answers

        def _answer(self, status: int) -> None:
            if self.path == "/slow":
                time.sleep(30)
            if self.path.startswith("/status/"):
                status = int(self.path.rsplit("/", 1)[1])
            if self.path == "/redirect":
                self.send_response(307)
                self.send_header("location", receiver.url("/ok"))
                self.send_header("content-length", "0")
                self.end_headers()
                return
            if self.path in ("/drip", "/huge"):
                return self._stream(self.path == "/drip")
            payload = b"receiver says no" if status >= 300 else b"ok"
            self.send_response(status)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, drip: bool) -> None:
            size = 200 * 1024 * 1024
            self.send_response(200)
            self.send_header("content-length", str(size))
            self.end_headers()
            chunk = b"x" if drip else b"x" * 65536
            for _ in range(size // len(chunk)):
                self.wfile.write(chunk)
                self.wfile.flush()
                if drip:
                    time.sleep(0.1)

    return Handler
