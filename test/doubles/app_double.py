#!/usr/bin/env python3
"""A stand-in for an app that serves respaldo's app-side backup contract.

It answers GET /backup/capabilities and POST /backup/export like a real app would, plus the
deferred-export protocol (202, poll the status URL, 200 or 303 to the download), and it can
misbehave on purpose (wrong checksum, wrong size, truncated, stalled or trickling streams,
missing or malformed headers, 401/403/500...). The backup's bytes are generated on the fly
from (size, seed), so multi-GiB exports cost no memory; content_chunks() and content_sha256()
let tests compute what respaldo should have stored.

Run as a program (prints "listening <port>" once bound, serves until SIGTERM/SIGINT):
    python3 app_double.py --port 0 --token TOKEN [--mode normal] [--size 2GiB] [--seed 1]
Or in-process:
    with AppDouble(token="t", mode="deferred", size=1 << 20) as app:
        ... app.url, app.set(mode="truncated"), app.stats() ...
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import http.server
import json
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid

BLOCK_SIZE = 1 << 20

# Modes of POST /backup/export (and of GET /backup/capabilities for the *_capabilities ones).
MODES = (
    "normal",  # 200 with Content-Length
    "chunked",  # 200 with Transfer-Encoding: chunked
    "deferred",  # 202, then the status URL polls 202 and finally answers 200 with the body
    "deferred_303",  # 202, then the status URL answers 303 to /downloads/<id>
    "deferred_failed",  # 202, then the status URL answers 200 {"status":"failed",...}
    "wrong_checksum",  # X-Checksum-SHA256 of other bytes
    "wrong_size",  # X-Size off by size_delta, body and Content-Length correct
    "truncated",  # full Content-Length/X-Size declared, connection closed after truncate_at
    "missing_header",  # omit_header is left out
    "malformed_header",  # malform_header carries a malformed value
    "stall",  # headers and stall_after bytes, then silence for stall_seconds, then the rest
    "stall_headers",  # silence for stall_seconds before the status line, then normal
    "interim_flood",  # 100 Continue after 100 Continue until the client hangs up (at most 1e6)
    "trickle",  # body paced at trickle_bytes_per_sec
    "error500",  # 500 for the first fail_count exports, then normal
    "drop",  # connection closed without an answer for the first fail_count exports
    "unauthorized",  # export always 401
    "forbidden",  # export always 403
    "bad_version",  # capabilities says version v2
    "bad_capabilities",  # capabilities is not JSON
    "slow_capabilities",  # capabilities answers after capabilities_delay seconds
)

CONTRACT_HEADERS = ("X-Checksum-SHA256", "X-Size", "X-Format")

# Faults that can also be applied to the download of a deferred export (download_fault).
DOWNLOAD_FAULTS = (
    "",
    "chunked",
    "wrong_checksum",
    "wrong_size",
    "truncated",
    "missing_header",
    "malformed_header",
    "stall",
    "trickle",
)

# name -> (type, default). Every key can be passed to AppDouble(), .set(), POST /_control and
# the command line (--deferred-polls ...).
CONFIG_SCHEMA = {
    "mode": (str, "normal"),
    "size": (int, 4 << 20),
    "seed": (int, 1),
    "format": (str, "pgdump"),
    "est_seconds": (int, 123),
    "deferred_polls": (int, 2),  # 202 answers of the status URL before it is ready
    "retry_after": (int, 1),  # Retry-After of those 202s; negative: no header
    "absolute_urls": (bool, False),  # status_url/Location as absolute URLs
    # deferred_303 sends the download to this origin ("http://host:port"), as a presigned
    # object-store URL would; such a download is served without the app's token
    "download_origin": (str, ""),
    "omit_header": (str, "X-Checksum-SHA256"),
    "malform_header": (str, "X-Size"),
    "malformed_value": (str, ""),  # "" = built-in bad value (abc, short checksum, empty)
    "stall_after": (int, 64 << 10),
    "stall_seconds": (float, 3600.0),
    "trickle_bytes_per_sec": (int, 64 << 10),
    "fail_count": (int, 1),
    "capabilities_delay": (float, 5.0),
    "truncate_at": (int, -1),  # bytes of the body sent; negative: half of it
    "chunk_size": (int, 100_000),  # chunk length in chunked mode (not aligned on purpose)
    "size_delta": (int, 1),
    "download_fault": (str, ""),  # a DOWNLOAD_FAULTS entry for deferred downloads
    "download_fault_count": (int, -1),  # faulty downloads per job; negative: all of them
    "failed_error": (str, "disk full"),  # the "error" of a deferred_failed status document
}


# ---------------------------------------------------------------------------------------------
# Content: block i (1 MiB) is a per-seed random block whose first 8 bytes are i (little endian),
# so no two blocks repeat, any offset is cheap to reach and nothing is held but one block.


@functools.lru_cache(maxsize=8)
def _block_tail(seed: int) -> bytes:
    return hashlib.shake_256(b"respaldo-app-double:%d" % seed).digest(BLOCK_SIZE)[8:]


def content_chunks(size: int, seed: int, start: int = 0, end: int | None = None):
    """Yields the bytes [start, end) of the backup of `size` bytes made from `seed`, as bytes
    objects of at most BLOCK_SIZE (split on block boundaries)."""
    if end is None or end > size:
        end = size
    if start < 0 or size < 0:
        raise ValueError("negative offset or size")
    tail = _block_tail(seed)
    pos = start
    while pos < end:
        index, off = divmod(pos, BLOCK_SIZE)
        n = min(BLOCK_SIZE - off, end - pos)
        block = index.to_bytes(8, "little") + tail
        yield block if (off == 0 and n == BLOCK_SIZE) else block[off : off + n]
        pos += n


def content_bytes(size: int, seed: int, start: int = 0, end: int | None = None) -> bytes:
    """The same bytes as content_chunks(), joined; for small sizes only."""
    return b"".join(content_chunks(size, seed, start, end))


_sha_cache: dict[tuple[int, int], str] = {}
_sha_key_locks: dict[tuple[int, int], threading.Lock] = {}
_sha_lock = threading.Lock()


def content_sha256(size: int, seed: int) -> str:
    """Lowercase hex SHA-256 of the whole backup, computed by streaming and cached."""
    key = (size, seed)
    with _sha_lock:
        key_lock = _sha_key_locks.setdefault(key, threading.Lock())
    # One computation per key; other keys (and cached lookups) are not held up by it.
    with key_lock:
        cached = _sha_cache.get(key)
        if cached is not None:
            return cached
        h = hashlib.sha256()
        for chunk in content_chunks(size, seed):
            h.update(chunk)
        digest = h.hexdigest()
        with _sha_lock:
            _sha_cache[key] = digest
        return digest


def parse_size(text: str) -> int:
    """'3145851', '256M', '2GiB', '64k' -> bytes (binary multiples)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(text))
    if not m:
        raise ValueError(f"bad size: {text!r}")
    shift = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[m.group(2).lower()]
    return int(m.group(1)) << shift


def _coerce(key: str, value):
    if key not in CONFIG_SCHEMA:
        raise ValueError(f"unknown setting: {key}")
    typ = CONFIG_SCHEMA[key][0]
    if typ is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        return value
    if typ is int:
        if key == "size" and isinstance(value, str):
            return parse_size(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be an integer")
        if key == "size" and value < 0:
            raise ValueError("size must not be negative")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    if key == "mode" and value not in MODES:
        raise ValueError(f"unknown mode: {value}")
    if key in ("omit_header", "malform_header"):
        for name in CONTRACT_HEADERS:
            if name.lower() == value.lower():
                return name
        raise ValueError(f"{key} must be one of {', '.join(CONTRACT_HEADERS)}")
    if key == "download_fault" and value not in DOWNLOAD_FAULTS:
        raise ValueError(f"unknown download_fault: {value}")
    return value


class _ClientGone(Exception):
    """The peer closed or reset the connection, or the double is stopping."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, double, family):
        self.address_family = family
        self.double = double
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind() resolves the host name (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # A client going away mid-response is normal in these tests; stay quiet about it.
        if self.double.verbose:
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "app-double/1"
    disable_nagle_algorithm = True
    timeout = 600  # per socket operation; a client that never reads cannot pin a thread forever

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def double(self) -> "AppDouble":
        return self.server.double

    def setup(self):
        super().setup()
        self.double._connection_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.double._connection_closed(self.connection)

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        # Only the request line and status are ever logged, never headers (the token).
        if self.double.verbose:
            sys.stderr.write("app_double: %s %s\n" % (self.address_string(), format % args))

    def _drain_request_body(self) -> bytes:
        """Reads the request body so the connection can carry the next request."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te and te != "identity":
            if te.split(",")[-1].strip() != "chunked":
                self.close_connection = True
                return b""
            parts = []
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise _ClientGone()
                try:
                    n = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:  # broken framing: the connection cannot be reused
                    self.close_connection = True
                    return b""
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(n))
                self.rfile.readline(1024)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return b""
        if n <= 0:
            return b""
        if n > (1 << 20):
            while n > 0:  # discarded: no endpoint needs a large body
                got = self.rfile.read(min(n, 1 << 16))
                if not got:
                    raise _ClientGone()
                n -= len(got)
            return b""
        return self.rfile.read(n)

    def _flood_interim(self):
        """Interim responses with no end (bounded so a test run cannot spin forever); counted in
        interim_sent."""
        for _ in range(1_000_000):
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.double._count("interim_sent")
        self.close_connection = True

    def _write(self, data: bytes, body_bytes: int = 0):
        """Writes to the socket; body_bytes of them count as backup bytes sent. They are counted
        before the write so that a client that got everything also sees them in the stats."""
        if self.double._stopping.is_set():
            raise _ClientGone()
        self.double._add_bytes(body_bytes)
        try:
            self.wfile.write(data)
        except (OSError, ValueError) as e:
            self.double._add_bytes(-body_bytes)
            raise _ClientGone() from e

    def _hold(self, seconds: float):
        """Sends nothing for `seconds`, but gives up as soon as the client hangs up (or the
        double stops), so an abandoned stalled response does not pin a thread for an hour."""
        deadline = time.monotonic() + max(seconds, 0)
        peer_may_talk = True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.double._stopping.wait(min(left, 0.05) if peer_may_talk else min(left, 0.2)):
                raise _ClientGone()
            if not peer_may_talk:
                continue
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    raise _ClientGone()
                # Pipelined bytes are left for the next request; only watch the clock then.
                peer_may_talk = not readable
            except OSError as e:
                raise _ClientGone() from e

    def _send_json(self, status: int, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self._write(body)

    def _authorized(self) -> bool:
        value = self.headers.get("Authorization")
        self.double._record_auth(value)
        if value:
            parts = value.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                token = self.double._token()
                if hmac.compare_digest(parts[1].strip().encode(), token.encode()):
                    return True
        return False

    def _unauthorized(self):
        self.double._count("unauthorized")
        self._send_json(
            401,
            {"error": "unauthorized", "message": "missing or invalid bearer token"},
            [("WWW-Authenticate", 'Bearer realm="backup"')],
        )

    def _base_url(self) -> str:
        host = self.headers.get("Host") or "%s:%d" % (self.double.host, self.double.port)
        return "http://" + host

    def _url(self, cfg, path: str) -> str:
        return self._base_url() + path if cfg["absolute_urls"] else path

    # -- dispatch ---------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str):
        try:
            body = self._drain_request_body()
            path = self.path.split("?", 1)[0]
            routes = [
                ("/backup/capabilities", "GET", self._capabilities),
                ("/backup/export", "POST", self._export),
                ("/_stats", "GET", self._stats),
                ("/_control", "POST", self._control),
            ]
            for route, allowed, fn in routes:
                if path == route:
                    if method != allowed:
                        self._send_json(405, {"error": "method not allowed"}, [("Allow", allowed)])
                    else:
                        fn(body)
                    return
            for prefix, fn in (("/exports/", self._status), ("/downloads/", self._download)):
                if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                    if method != "GET":
                        self._send_json(405, {"error": "method not allowed"}, [("Allow", "GET")])
                    else:
                        fn(path[len(prefix) :])
                    return
            self._send_json(404, {"error": "not found"})
        except _ClientGone:
            self.close_connection = True
            if not self.double._stopping.is_set():
                self.double._count("client_aborts")

    # -- the contract -----------------------------------------------------------------------

    def _capabilities(self, _body):
        self.double._count("capabilities")
        if not self._authorized():
            return self._unauthorized()
        cfg = self.double.config()
        mode = cfg["mode"]
        if mode == "slow_capabilities":
            self._hold(cfg["capabilities_delay"])
        if mode == "bad_capabilities":
            body = b"<html><body>backup service is warming up</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self._write(body)
        self._send_json(
            200,
            {
                "version": "v2" if mode == "bad_version" else "v1",
                "types": ["db"],
                "est_seconds": cfg["est_seconds"],
                "est_size": cfg["size"],
            },
        )

    def _export(self, _body):
        self.double._count("export")
        if not self._authorized():
            return self._unauthorized()
        cfg = self.double.config()
        mode = cfg["mode"]
        if mode == "unauthorized":
            return self._unauthorized()
        if mode == "forbidden":
            self.double._count("forbidden")
            return self._send_json(403, {"error": "forbidden", "message": "export not allowed"})
        if mode in ("error500", "drop") and self.double._take_failure(cfg["fail_count"]):
            if mode == "drop":
                self.close_connection = True
                return
            self.double._count("errors_500")
            return self._send_json(500, {"error": "internal", "message": "export failed"})
        if mode.startswith("deferred"):
            job = self.double._new_job(cfg)
            status_url = "/exports/" + job["id"]
            return self._send_json(
                202,
                {"job_id": job["id"], "status_url": self._url(cfg, status_url)},
                [("Location", self._url(cfg, status_url))],
            )
        if mode == "stall_headers":
            self._hold(cfg["stall_seconds"])
        if mode == "interim_flood":
            return self._flood_interim()
        fault = mode if mode in DOWNLOAD_FAULTS else ""
        self._serve_content(cfg, cfg["size"], cfg["seed"], cfg["format"], fault, ranged=False)

    def _status(self, job_id: str):
        self.double._count("status")
        if not self._authorized():
            return self._unauthorized()
        job = self.double._poll_job(job_id)
        if job is None:
            return self._send_json(404, {"error": "no such export"})
        if job["state"] == "running":
            done, total = job["polls_done"], job["polls"]
            headers = [("Retry-After", str(job["retry_after"]))] if job["retry_after"] >= 0 else []
            return self._send_json(
                202, {"status": "running", "progress": round(done / (total + 1), 3)}, headers
            )
        if job["mode"] == "deferred_failed":
            return self._send_json(200, {"status": "failed", "error": job["cfg"]["failed_error"]})
        if job["mode"] == "deferred_303":
            self.send_response(303)
            elsewhere = job["cfg"]["download_origin"]
            location = (elsewhere + "/downloads/" + job_id if elsewhere
                        else self._url(job["cfg"], "/downloads/" + job_id))
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        self.double._count("download")  # the status URL itself serves the download
        self._download_job(job)

    def _download(self, job_id: str):
        self.double._count("download")
        job = self.double._get_job(job_id)
        presigned = job is not None and job["cfg"]["download_origin"]
        if not presigned and not self._authorized():
            return self._unauthorized()
        if job is None or job["mode"] != "deferred_303" or job["state"] != "ready":
            return self._send_json(404, {"error": "no such download"})
        self._download_job(job)

    def _download_job(self, job):
        cfg = job["cfg"]
        fault = self.double._take_download_fault(job)
        self._serve_content(cfg, cfg["size"], cfg["seed"], cfg["format"], fault, ranged=True)

    # -- the body ---------------------------------------------------------------------------

    def _parse_range(self, size: int):
        """None (whole body), (start, end) half-open, or "unsatisfiable"."""
        value = self.headers.get("Range")
        if not value:
            return None
        self.double._record_range(value)
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None  # multi-range or nonsense: ignoring Range is allowed
        if m.group(1) == "":
            n = int(m.group(2))
            if n == 0:
                return "unsatisfiable"
            return (max(size - n, 0), size)
        start = int(m.group(1))
        end = int(m.group(2)) + 1 if m.group(2) else size
        if m.group(2) and end <= start:
            return None
        if start >= size:
            return "unsatisfiable"
        return (start, min(end, size))

    def _serve_content(self, cfg, size: int, seed: int, fmt: str, fault: str, ranged: bool):
        checksum = content_sha256(size, seed)
        headers = {"X-Checksum-SHA256": checksum, "X-Size": str(size), "X-Format": fmt}
        if fault == "wrong_checksum":
            other = hashlib.sha256(b"other bytes " + checksum.encode())
            headers["X-Checksum-SHA256"] = other.hexdigest()
        elif fault == "wrong_size":
            headers["X-Size"] = str(size + cfg["size_delta"])
        elif fault == "missing_header":
            del headers[cfg["omit_header"]]
        elif fault == "malformed_header":
            name = cfg["malform_header"]
            default_bad = {"X-Size": "abc", "X-Checksum-SHA256": checksum[:32], "X-Format": ""}
            headers[name] = cfg["malformed_value"] or default_bad[name]

        status, start, end = 200, 0, size
        if ranged:
            rng = self._parse_range(size)
            if rng == "unsatisfiable":
                unsatisfiable = [("Content-Range", "bytes */%d" % size)]
                return self._send_json(416, {"error": "range not satisfiable"}, unsatisfiable)
            if rng is not None:
                status, (start, end) = 206, rng

        chunked = fault == "chunked"
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(end - start))
        if ranged:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

        limit = end
        if fault == "truncated":
            cut = cfg["truncate_at"] if cfg["truncate_at"] >= 0 else (end - start) // 2
            limit = start + min(cut, end - start)
        pause_at = start + max(cfg["stall_after"], 0) if fault == "stall" else None

        if fault == "chunked":
            self._send_chunked(size, seed, start, end, max(cfg["chunk_size"], 1))
        elif fault == "trickle":
            self._send_trickle(size, seed, start, end, max(cfg["trickle_bytes_per_sec"], 1))
        elif pause_at is not None and pause_at < end:
            self._send_plain(size, seed, start, pause_at)
            self._hold(cfg["stall_seconds"])
            self._send_plain(size, seed, pause_at, end)
        else:
            self._send_plain(size, seed, start, limit)
        if limit < end:
            # The declared length was not delivered: the connection must end here.
            self.close_connection = True

    def _send_plain(self, size, seed, start, end):
        for chunk in content_chunks(size, seed, start, end):
            self._write(chunk, len(chunk))

    def _send_chunked(self, size, seed, start, end, piece):
        buf = bytearray()

        def emit(data):
            self._write(b"%x\r\n" % len(data) + data + b"\r\n", len(data))

        for block in content_chunks(size, seed, start, end):
            buf += block
            while len(buf) >= piece:
                emit(bytes(buf[:piece]))
                del buf[:piece]  # cheap: bytearray drops its head without moving the rest
        if buf:
            emit(bytes(buf))
        self._write(b"0\r\n\r\n")

    def _send_trickle(self, size, seed, start, end, rate):
        piece = max(rate // 20, 1)
        t0 = time.monotonic()
        sent = 0
        pos = start
        while pos < end:
            delay = t0 + sent / rate - time.monotonic()
            if delay > 0 and not self.double._sleep(delay):
                raise _ClientGone()
            n = min(piece, end - pos)
            data = content_bytes(size, seed, pos, pos + n)
            self._write(data, n)
            sent += n
            pos += n

    # -- test control -----------------------------------------------------------------------

    def _stats(self, _body):
        self._send_json(200, self.double.stats())

    def _control(self, body):
        try:
            settings = json.loads(body or b"{}")
            if not isinstance(settings, dict):
                raise ValueError("body must be a JSON object")
            if settings.pop("reset_stats", False):
                self.double.reset_stats()
            self.double.set(**settings)
        except (ValueError, TypeError) as e:
            return self._send_json(400, {"error": "bad settings", "message": str(e)})
        self._send_json(200, {"config": self.double.config()})


class AppDouble:
    """The app double, started on a background thread.

    AppDouble(token, host="127.0.0.1", port=0, verbose=False, **config); config keys are those
    of CONFIG_SCHEMA (mode, size, seed, format, deferred_polls, retry_after, ...)."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0, verbose=False, **config):
        if not token:
            raise ValueError("a token is required")
        self.host = host
        self._requested_port = port
        self.verbose = verbose
        self._lock = threading.Lock()
        self._cfg = {k: default for k, (_, default) in CONFIG_SCHEMA.items()}
        self._secret = token
        self._set_locked(config)
        self._failures_served = 0
        self._jobs: dict[str, dict] = {}
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset_stats()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> "AppDouble":
        """Binds and serves on a background thread. After stop(), start() again reuses the
        same port (an app that went down and came back)."""
        content_sha256(self._cfg["size"], self._cfg["seed"])  # so the first export is not slow
        self._stopping.clear()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = _Server((self.host, self._requested_port), _Handler, self, family)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        """Stops serving and cuts every open connection (stalled ones included)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._requested_port = self.port
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)

    # -- configuration ----------------------------------------------------------------------

    def set(self, **config):
        """Changes settings at run time (validated; unknown keys raise ValueError). Also resets
        the error500/drop failure counter. `token=` replaces the token."""
        with self._lock:
            self._set_locked(config)
            self._failures_served = 0
            size, seed = self._cfg["size"], self._cfg["seed"]
        content_sha256(size, seed)

    def _set_locked(self, config):
        new = dict(self._cfg)
        token = config.pop("token", None)
        for k, v in config.items():
            new[k] = _coerce(k, v)
        if token is not None:
            if not isinstance(token, str) or not token:
                raise ValueError("token must be a non-empty string")
            self._secret = token
        self._cfg = new

    def config(self) -> dict:
        """Current settings (without the token)."""
        with self._lock:
            return dict(self._cfg)

    def _token(self) -> str:
        with self._lock:
            return self._secret

    # -- stats ------------------------------------------------------------------------------

    def reset_stats(self):
        with self._lock:
            self._stats = {
                "capabilities": 0,
                "export": 0,
                "status": 0,
                "download": 0,
                "unauthorized": 0,
                "forbidden": 0,
                "errors_500": 0,
                "failures_served": 0,
                "client_aborts": 0,
                "connections": 0,
                "bytes_sent": 0,
                "range_requests": 0,
                "last_range": None,
                "last_authorization": None,
                "jobs": 0,
                "interim_sent": 0,
            }

    def stats(self) -> dict:
        """Counters: capabilities/export/status/download requests (all of them, refused ones
        included), unauthorized (401s), forbidden, errors_500, failures_served (500s and drops),
        client_aborts (responses cut short because the client went away), active_connections
        (open right now),
        connections accepted, bytes_sent (backup bytes written), range_requests, last_range,
        interim_sent (100 Continue responses of interim_flood),
        last_authorization (the raw header of the last contract request), jobs (deferred)."""
        with self._lock:
            return dict(self._stats, active_connections=len(self._conns))

    def _count(self, key, n=1):
        with self._lock:
            self._stats[key] += n

    def _add_bytes(self, n):
        self._count("bytes_sent", n)

    def _record_auth(self, value):
        with self._lock:
            self._stats["last_authorization"] = value

    def _record_range(self, value):
        with self._lock:
            self._stats["range_requests"] += 1
            self._stats["last_range"] = value

    def _connection_opened(self, conn):
        with self._lock:
            self._conns.add(conn)
            self._stats["connections"] += 1

    def _connection_closed(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def _take_failure(self, fail_count) -> bool:
        with self._lock:
            if self._failures_served < fail_count:
                self._failures_served += 1
                self._stats["failures_served"] += 1
                return True
            return False

    def _sleep(self, seconds) -> bool:
        """Waits, unless the double stops first (then False)."""
        return not self._stopping.wait(max(seconds, 0))

    # -- deferred jobs ----------------------------------------------------------------------

    def _new_job(self, cfg) -> dict:
        job = {
            "id": uuid.uuid4().hex[:16],
            "mode": cfg["mode"],
            "cfg": cfg,
            "polls": max(cfg["deferred_polls"], 0),
            "polls_done": 0,
            "retry_after": cfg["retry_after"],
            "state": "running",
            "faulty_downloads_left": cfg["download_fault_count"],
        }
        if job["polls"] == 0:
            job["state"] = "ready"
        with self._lock:
            self._jobs[job["id"]] = job
            self._stats["jobs"] += 1
        return dict(job)

    def _poll_job(self, job_id):
        """One poll of the status URL: advances a running job; returns a snapshot."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job["state"] == "running":
                job["polls_done"] += 1
                snapshot = dict(job)
                if job["polls_done"] >= job["polls"]:
                    job["state"] = "ready"  # the next poll gets the outcome
                return snapshot
            return dict(job)

    def _get_job(self, job_id):
        with self._lock:
            job = self._jobs.get(job_id)
            return dict(job) if job else None

    def _take_download_fault(self, job_snapshot) -> str:
        fault = job_snapshot["cfg"]["download_fault"]
        if not fault:
            return ""
        with self._lock:
            job = self._jobs[job_snapshot["id"]]
            if job["faulty_downloads_left"] < 0:
                return fault
            if job["faulty_downloads_left"] > 0:
                job["faulty_downloads_left"] -= 1
                return fault
            return ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Test double of an app serving the backup contract.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", required=True)
    p.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    for key, (typ, default) in CONFIG_SCHEMA.items():
        flag = "--" + key.replace("_", "-")
        if typ is bool:
            p.add_argument(flag, dest=key, action="store_true")
        elif key == "size":
            p.add_argument(flag, dest=key, type=parse_size, default=default)
        elif key == "mode":
            p.add_argument(flag, dest=key, choices=MODES, default=default)
        else:
            p.add_argument(flag, dest=key, type=typ, default=default)
    args = vars(p.parse_args(argv))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    token = args.pop("token")
    host, port, verbose = args.pop("host"), args.pop("port"), args.pop("verbose")
    try:
        double = AppDouble(token=token, host=host, port=port, verbose=verbose, **args).start()
    except (ValueError, OSError) as e:
        print(f"app_double: {e}", file=sys.stderr)
        return 2
    print(f"listening {double.port}", flush=True)
    while not stop.wait(0.5):
        pass
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
