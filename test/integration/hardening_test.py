"""Black-box tests of the server's defences against hostile clients and apps: request framing
(Transfer-Encoding), connection exhaustion from one address or from many idle sockets, and
control characters or invalid UTF-8 reaching the text log or job errors."""

import resource
import select
import socket
import tempfile
import time
import unittest

from harness import Respaldo, run_cli, raw_exchange, serve_args, start_app, wait_until

IDLE_CONNECTIONS = 1100


def raise_descriptor_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d is below %d" % (hard, needed))
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))


def open_idle(port, n, source="127.0.0.2"):
    """`n` connections that send nothing, from `source` (any 127/8 address works on loopback)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(20)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def closed_by_server(sock, timeout=30):
    """True when the server closes `sock` within `timeout` seconds."""
    poller = select.poll()  # select() cannot watch descriptors above 1023
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    if not poller.poll(timeout * 1000):
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def fastest_healthz(server, tries=3):
    """Seconds of the fastest of `tries` GET /healthz from 127.0.0.1, each on a new connection;
    every one must answer 200."""
    best = None
    for _ in range(tries):
        started = time.monotonic()
        r = server.get("/healthz", auth=False, timeout=10)
        elapsed = time.monotonic() - started
        if r.status != 200:
            raise AssertionError("healthz: %r" % r)
        best = elapsed if best is None else min(best, elapsed)
    return best


class TransferEncodingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Respaldo().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_only_chunked_frames_a_body(self):
        follow = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for te in (b"Transfer-Encoding: gzip\r\n", b"Transfer-Encoding: chunked, gzip\r\n",
                   b"Transfer-Encoding: gzip\r\nContent-Length: %d\r\n" % len(follow)):
            with self.subTest(te=te):
                out = raw_exchange(self.srv.port, b"POST /api/apps HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Type: application/json\r\n" + te + b"\r\n" + follow)
                self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
                self.assertIn(b'"code":"bad_request"', out)
                self.assertIn(b"Transfer-Encoding", out)
                self.assertIn(b"Connection: close", out)
                # The body was not read as a second request: one answer, then the close.
                self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)

    def test_chunked_still_works(self):
        out = raw_exchange(self.srv.port, b"POST /api/apps HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                           b"2\r\n{}\r\n0\r\n\r\n")
        # Unauthenticated, so 401 — but framed and answered as one request.
        self.assertTrue(out.startswith(b"HTTP/1.1 401 "), out[:200])


class ConnectionExhaustionTest(unittest.TestCase):
    def setUp(self):
        raise_descriptor_limit(IDLE_CONNECTIONS + 256)
        self.socks = []
        self.addCleanup(self.close_all)

    def close_all(self):
        for s in self.socks:
            s.close()

    def serve(self, *args):
        # Long request timeout: idle sockets must not be closed by it while the test runs.
        srv = Respaldo(args=["--request-timeout", "5m", "--probe-interval", "0", *args]).start()
        self.addCleanup(srv.cleanup)
        return srv

    def test_one_address_cannot_lock_others_out(self):
        srv = self.serve()
        self.socks = open_idle(srv.port, IDLE_CONNECTIONS)
        # The last one is over the per-client cap: once it is closed every accept has been seen.
        self.assertTrue(closed_by_server(self.socks[-1]), srv.log_text()[-2000:])
        self.assertLess(fastest_healthz(srv), 0.1)
        # The first 64 stay open.
        self.assertFalse(closed_by_server(self.socks[0], timeout=0.2))
        # 1036 refusals, one log line (the next may come a minute later), with its count.
        self.assertTrue(srv.wait_log("connection refused"), "connection refused")
        lines = [l for l in srv.log_lines if "connection refused" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("per-client limit reached", lines[0])
        self.assertIn("remote=127.0.0.2 refused=1 limit=64", lines[0])

    def test_idle_connections_make_room_near_the_global_cap(self):
        # Without the per-client cap the 1100 idle sockets reach the global cap of 1024; from 896
        # on each newcomer replaces the connection idle the longest instead of being refused.
        srv = self.serve("--max-connections-per-client", "1024")
        self.socks = open_idle(srv.port, IDLE_CONNECTIONS)
        evicted = IDLE_CONNECTIONS - 896
        self.assertTrue(closed_by_server(self.socks[evicted - 1]), srv.log_text()[-2000:])
        self.assertLess(fastest_healthz(srv), 0.1)
        self.assertTrue(closed_by_server(self.socks[0], timeout=1))
        self.assertFalse(closed_by_server(self.socks[-1], timeout=0.2))
        self.assertNotIn("connection refused", srv.log_text())

    def test_the_flag_is_validated(self):
        for value in ("0", "1025", "many"):
            with self.subTest(value=value):
                with tempfile.TemporaryDirectory() as data_dir:
                    r = run_cli(serve_args(data_dir, "--max-connections-per-client", value))
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(b"max-connections-per-client", r.stderr)


class LogInjectionTest(unittest.TestCase):
    def test_request_targets_are_escaped_in_the_text_log(self):
        with Respaldo() as srv:
            r = srv.get("/%1b%5b31m%0dFAKE", auth=False)
            self.assertEqual(r.status, 404)
            self.assertEqual(srv.get("/caf%C3%A9%ff", auth=False).status, 404)
            wait_until(lambda: "FAKE" in srv.log_text() and "caf" in srv.log_text(), what="access log")
            log = srv.log_text()
            self.assertNotIn("\x1b", log)
            self.assertNotIn("\r", log)
            self.assertIn('path="/\\x1b[31m\\rFAKE"', log)
            self.assertIn('path="/caf\u00e9\\xff"', log)

    def test_app_supplied_text_in_job_errors_is_escaped(self):
        with Respaldo(args=["--max-attempts", "1", "--probe-interval", "0"]) as srv:
            name, _ = start_app(self, srv, mode="deferred_failed", deferred_polls=1, retry_after=0,
                                failed_error="\x1b[31m\rFAKE \u00f1")
            job = srv.run_backup(name)
            self.assertEqual(job["error"]["code"], "app_export_failed")
            message = job["error"]["message"]
            self.assertIn("\\x1b[31m\\rFAKE \u00f1", message)
            self.assertNotIn("\x1b", message)
            self.assertNotIn("\r", message)
            self.assertNotIn("\x1b", srv.log_text())
            self.assertNotIn("\r", srv.log_text())


if __name__ == "__main__":
    unittest.main()
