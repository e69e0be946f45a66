"""A real HTTP file server on loopback for download tests, with misbehaviours on demand.

Each path maps to a Route: the bytes to serve, whether Range requests are
honoured, how many times to fail with a status first, and how many times to
cut the connection halfway through the body.

Written here rather than taken from pytest-httpserver, which has none of
these misbehaviours built in (a body cut off halfway after a full
Content-Length, what resume is tested against, would take a werkzeug handler
that raises midway through a stream); bench/bench_pipeline.py also serves its
mirror with this class, outside pytest.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    data: bytes = b""
    status: int = 200
    fail_first: list[int] = field(default_factory=list)   # statuses answered before serving
    cut_first: int = 0                                     # responses cut off halfway
    ranges: bool = True


class FileServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                route = server.routes.get(self.path)
                if route is None:
                    return self._plain(404, b"not found\n")
                if route.fail_first:
                    return self._plain(route.fail_first.pop(0), b"try later\n")
                if route.status != 200:
                    return self._plain(route.status, b"no\n")
                data, start = route.data, 0
                if rng and route.ranges and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
                self.end_headers()
                if route.cut_first:
                    route.cut_first -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _plain(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
