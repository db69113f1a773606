"""A small HTTP server for tests and benchmarks, bound to 127.0.0.1.

It serves the files under a directory (GET and HEAD, with Content-Length), answers
configured paths with a redirect (301, 302, 303, 307, 308) or a bare status, can stall a
path (headers sent, then silence, for timeout tests), answers a path with raw bytes of
its own (`raw=`: pieces written in turn, each after its delay, then the connection
closes: a status line without reason phrase, a broken chunked body, a lying
Content-Length, headers that trickle) and logs every request in order, so a test sees
what a client asked for. The guest of a QEMU user network reaches it as
10.0.2.2:PORT. With `tls=` (an ssl.SSLContext holding the server's certificate, see
tests/testca.py) it speaks HTTPS; the handshake runs in the request's own thread, so a
client that refuses the certificate costs the server nothing but that thread.

    with HttpServer(root, redirects={"/old": (302, "/new")}) as server:
        server.url("/new")          # http://127.0.0.1:PORT/new
        server.requests             # ["GET /old", "GET /new", ...]

`python3 http_server.py ROOT [--port N] [--redirect PATH=CODE:TARGET]...` runs it in the
foreground and prints `ready PORT` once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

REDIRECT_CODES = (301, 302, 303, 307, 308)
CHUNK = 1 << 20


class HttpServer:
    """A threaded HTTP server on 127.0.0.1 serving ROOT; see the module docstring."""

    def __init__(self, root: Path, *, port: int = 0,
                 redirects: dict[str, tuple[int, str]] | None = None,
                 statuses: dict[str, int] | None = None,
                 stalls: set[str] | None = None, tls: ssl.SSLContext | None = None,
                 raw: dict[str, list[tuple[float, bytes]]] | None = None) -> None:
        self.root = root.resolve()
        self.redirects = dict(redirects or {})
        self.statuses = dict(statuses or {})
        self.stalls = set(stalls or ())
        self.raw = dict(raw or {})
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.scheme = "https"
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}/{path.lstrip('/')}"

    def count(self, path: str) -> int:
        """How many GET requests named PATH (a leading / optional)."""
        wanted = "GET /" + path.lstrip("/")
        with self._lock:
            return sum(1 for line in self.requests if line == wanted)

    def log(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def stalled(self, seconds: float) -> bool:
        """Waits up to SECONDS for the server to stop; true when it stopped."""
        return self._stop.wait(seconds)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: object) -> None:
        pass  # a client that refused our certificate, or hung up: its business


def _handler(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            server.log(f"{self.command} {path}")
            if path in server.raw:
                self._raw(server.raw[path])
            elif path in server.redirects:
                code, target = server.redirects[path]
                self._status(code, location=target)
            elif path in server.statuses:
                self._status(server.statuses[path])
            else:
                self._file(path, body)

        def _raw(self, pieces: list[tuple[float, bytes]]) -> None:
            """The answer exactly as given, piece by piece; then the connection ends."""
            self.close_connection = True
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for delay, piece in pieces:
                    if delay and server.stalled(delay):
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()

        def _status(self, code: int, location: str | None = None) -> None:
            self.send_response(code)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _file(self, path: str, body: bool) -> None:
            # Symlinks are followed (a test links big files in); ".." is refused.
            parts = [part for part in path.split("/") if part not in ("", ".")]
            file = server.root.joinpath(*parts)
            if ".." in parts or not file.is_file():
                self._status(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(file.stat().st_size))
            self.end_headers()
            if path in server.stalls:
                self.wfile.flush()
                server.stalled(600)
                return
            if body:
                with file.open("rb") as source, \
                        contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    shutil.copyfileobj(source, self.wfile, CHUNK)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the request list is the log

    return Handler


def _redirect(text: str) -> tuple[str, tuple[int, str]]:
    path, _, rest = text.partition("=")
    code, _, target = rest.partition(":")
    if not path.startswith("/") or not code.isdigit() or int(code) not in REDIRECT_CODES:
        raise argparse.ArgumentTypeError(f"{text!r} is not PATH=CODE:TARGET (CODE one of "
                                         f"{', '.join(map(str, REDIRECT_CODES))})")
    return path, (int(code), target)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Serve a directory over HTTP on 127.0.0.1.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redirect", type=_redirect, action="append", default=[],
                        metavar="PATH=CODE:TARGET")
    args = parser.parse_args(argv)
    with HttpServer(args.root, port=args.port, redirects=dict(args.redirect)) as server:
        print(f"ready {server.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
