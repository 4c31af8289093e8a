"""A real HTTP server on loopback with programmable routes: the ``http_server`` fixture.

Loaded for every test suite by the root ``conftest.py``. Each test that asks for ``http_server``
gets its own :class:`LoopbackServer`: a ``ThreadingHTTPServer`` on ``127.0.0.1`` on an ephemeral
port, serving from a background thread, stopped after the test. Nothing is mocked: clients talk
real HTTP/1.1 over real sockets, so timeouts, resets and short bodies behave as in production.

Routes are exact paths (the query string is ignored for matching but recorded). A route is a
list of :class:`Reply` objects served in order; the last one repeats forever::

    def test_download(http_server):
        http_server.add("/data.jsonl", body=b'{"messages": []}\\n')          # one reply
        http_server.add(
            "/flaky.jsonl",
            Reply(status=500),                        # 1st request: 500
            Reply(reset=True),                        # 2nd: connection reset, no response
            Reply(body=DATA),                         # 3rd and later: the data
        )
        url = http_server.url("/data.jsonl", token="secret")    # http://127.0.0.1:PORT/...?token=
        ...
        assert http_server.hits("/flaky.jsonl") == 3
        put = http_server.requests_to("/upload")[0]             # Recorded: method, path, query,
        assert put.method == "PUT" and put.body == b"..."       #   headers, body

What a :class:`Reply` can do (all keyword arguments):

- ``status``, ``body`` (bytes, or str encoded as UTF-8), ``headers`` (extra headers),
  ``content_type`` (default ``application/octet-stream``; ``None`` to omit);
- ``json``: an object sent as the JSON body with ``Content-Type: application/json``;
- ``content_length``: the Content-Length header (default ``len(body)``; ``None`` to omit it and
  end the body by closing the connection);
- ``cut_after=N``: announce the full Content-Length but send only N body bytes, then close the
  connection (a body cut short); with ``reset=True`` the connection is reset (RST) instead;
- ``reset=True`` alone: reset the connection before sending anything;
- ``delay``: seconds to sleep before answering; ``chunk_delay``: seconds between chunks of
  ``chunk_size`` bytes (a slow server; both end early when the server stops);
- ``ranges=True``: advertise ``Accept-Ranges: bytes`` and answer ``Range: bytes=N-`` / ``N-M``
  with 206 and Content-Range (416 when out of range); ``cut_after`` then applies to the part sent;
- ``redirect="/other"``: answer ``status`` (default 302 when redirecting) with that Location.

Requests to unknown paths get a 404 with a JSON error body and are recorded too. Helpers:
:func:`make_jwt` builds an unsigned JWT, and :meth:`LoopbackServer.signed_url` a Supabase-style
signed URL (``token=<JWT with exp>``) for expiry tests. :class:`LoopbackServer` also works
without pytest as a context manager.
"""

from __future__ import annotations

import base64
import json as jsonlib
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

__all__ = ["LoopbackServer", "Recorded", "Reply", "http_server", "make_jwt"]


@dataclass
class Reply:
    """One programmed response (see the module docstring)."""

    status: int | None = None
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/octet-stream"
    json: Any = None
    content_length: int | None | bool = True
    cut_after: int | None = None
    reset: bool = False
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 64 * 1024
    ranges: bool = False
    redirect: str | None = None

    def payload(self) -> bytes:
        """The body as bytes (``json`` serialized when given)."""
        if self.json is not None:
            return jsonlib.dumps(self.json).encode("utf-8")
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Recorded:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class _Route:
    def __init__(self, replies: list[Reply], method: str | None) -> None:
        self.replies = replies
        self.method = method
        self.served = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, reset) is normal in these tests; keep the rest.
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            self.owner.errors.append(exc)


_RANGE = re.compile(r"\s*bytes=(\d+)-(\d*)\s*$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        body = self._read_body()
        record = Recorded(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=body,
        )
        with owner.lock:
            owner.requests.append(record)
            route = owner.routes.get(parts.path)
            if route is not None and route.method not in (None, self.command):
                route = None
            reply = route.next() if route is not None else None
        if reply is None:
            reply = Reply(
                status=404,
                json={"error": "not_found", "message": f"no route for {parts.path}"},
                content_type="application/json",
            )
        try:
            self._answer(reply)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _wait(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping."""
        return not self.server.owner.stopping.wait(seconds) if seconds > 0 else True

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _answer(self, reply: Reply) -> None:
        if not self._wait(reply.delay):
            self.close_connection = True
            return
        if reply.reset and reply.cut_after is None:
            self._reset()
            return
        status = reply.status or (302 if reply.redirect else 200)
        data = reply.payload()
        headers = dict(reply.headers)
        full_length = len(data)
        if reply.ranges:
            headers.setdefault("Accept-Ranges", "bytes")
            match = _RANGE.match(self.headers.get("Range", ""))
            if match and status == 200:
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else full_length - 1
                if start >= full_length:
                    status, data = 416, b""
                    headers["Content-Range"] = f"bytes */{full_length}"
                else:
                    end = min(end, full_length - 1)
                    status, data = 206, data[start : end + 1]
                    headers["Content-Range"] = f"bytes {start}-{end}/{full_length}"
        if reply.redirect:
            headers["Location"] = reply.redirect
        content_type = "application/json" if reply.json is not None else reply.content_type
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if reply.content_length is True:
            self.send_header("Content-Length", str(len(data)))
        elif reply.content_length is not False and reply.content_length is not None:
            self.send_header("Content-Length", str(reply.content_length))
        else:
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.cut_after is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.cut_after is not None:
            data = data[: reply.cut_after]
            self.close_connection = True
        for offset in range(0, len(data), max(1, reply.chunk_size)):
            if offset and not self._wait(reply.chunk_delay):
                self.close_connection = True
                return
            self.wfile.write(data[offset : offset + reply.chunk_size])
            self.wfile.flush()
        if reply.cut_after is not None and reply.reset:
            self._reset()


def make_jwt(**claims: Any) -> str:
    """An unsigned JWT (header.payload.signature, base64url) carrying ``claims``.

    Example:
        >>> make_jwt(exp=1700000000).count(".")
        2
    """

    def part(obj: dict[str, Any]) -> str:
        raw = jsonlib.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signature = base64.urlsafe_b64encode(b"not-a-real-signature").rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


class LoopbackServer:
    """A programmable HTTP server on 127.0.0.1 (see the module docstring).

    Attributes:
        requests: Every request received, in order.
        errors: Unexpected exceptions raised while serving (a test may assert it is empty).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.routes: dict[str, _Route] = {}
        self.requests: list[Recorded] = []
        self.errors: list[BaseException | None] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        """Bind an ephemeral port and serve from a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, end slow replies early and join the threads."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The ephemeral port."""
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, **query: Any) -> str:
        """The absolute URL of ``path``, with ``query`` url-encoded (e.g. ``token=...``)."""
        if not path.startswith("/"):
            path = "/" + path
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def signed_url(self, path: str, *, expires_in: float = 3600.0, **query: Any) -> str:
        """A Supabase-style signed URL: ``token=<JWT>`` whose ``exp`` is ``expires_in`` seconds
        from now (negative for an expired link) and ``iat`` an hour before ``exp``."""
        exp = int(time.time() + expires_in)
        return self.url(path, token=make_jwt(exp=exp, iat=exp - 3600, url=path), **query)

    # routes ----------------------------------------------------------------------------------
    def add(self, path: str, *replies: Reply, method: str | None = None, **reply: Any) -> None:
        """Program ``path``: the replies in order (the last repeats), or one ``Reply(**reply)``.

        Args:
            path: Exact path, e.g. ``"/data.jsonl"`` (queries are ignored when matching).
            *replies: The replies, in order.
            method: Only answer this method (others get 404); default: any.
            **reply: Shorthand for a single reply, e.g. ``status=403, json={...}``.
        """
        if replies and reply:
            raise TypeError("pass Reply objects or keyword arguments, not both")
        chosen = list(replies) if replies else [Reply(**reply)]
        with self.lock:
            self.routes[path] = _Route(chosen, method)

    def hits(self, path: str | None = None) -> int:
        """How many requests reached ``path`` (or the server at all)."""
        return len(self.requests_to(path)) if path is not None else len(self.requests)

    def requests_to(self, path: str) -> list[Recorded]:
        """The recorded requests to ``path``, in order."""
        with self.lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A started :class:`LoopbackServer`, stopped after the test."""
    with LoopbackServer() as server:
        yield server
