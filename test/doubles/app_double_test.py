"""Self-test of the app double: every mode over loopback with http.client."""

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import app_double as ad
from app_double import AppDouble, content_bytes, content_chunks, content_sha256

MIB = 1 << 20
SIZE = 3 * MIB + 123
SEED = 7
TOKEN = "s3cret-Token-for-tests"
EXPECTED = content_bytes(SIZE, SEED)
EXPECTED_SHA = hashlib.sha256(EXPECTED).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}
HERE = os.path.dirname(os.path.abspath(__file__))


class ContentTest(unittest.TestCase):
    def test_offsets_and_ranges_are_consistent(self):
        self.assertEqual(len(EXPECTED), SIZE)
        B = ad.BLOCK_SIZE
        for start in (0, 1, 7, 8, 9, B - 1, B, B + 9, 2 * B + 1, SIZE - 1, SIZE):
            self.assertEqual(content_bytes(SIZE, SEED, start), EXPECTED[start:], start)
        self.assertEqual(content_bytes(SIZE, SEED, 5, B + 5), EXPECTED[5 : B + 5])
        self.assertEqual(content_bytes(SIZE, SEED, B - 3, B + 3), EXPECTED[B - 3 : B + 3])
        self.assertEqual(content_bytes(SIZE, SEED, 0, SIZE + 100), EXPECTED)
        self.assertEqual(content_bytes(0, SEED), b"")
        # Chunks never cross a block boundary, so any start re-aligns on blocks.
        sizes = [len(c) for c in content_chunks(SIZE, SEED, start=10)]
        self.assertEqual(sizes, [B - 10, B, B, 123])
        with self.assertRaises(ValueError):
            list(content_chunks(SIZE, SEED, start=-1))

    def test_blocks_do_not_repeat_and_depend_on_seed(self):
        B = ad.BLOCK_SIZE
        blocks = [EXPECTED[i * B : (i + 1) * B] for i in range(3)]
        self.assertEqual(len(set(blocks)), 3)
        for i, block in enumerate(blocks):
            self.assertEqual(block[:8], i.to_bytes(8, "little"))
        self.assertNotEqual(content_bytes(SIZE, SEED + 1, 0, 4096), EXPECTED[:4096])
        self.assertNotEqual(content_bytes(SIZE, SEED, 8, 4096), bytes(4088))
        self.assertEqual(content_bytes(SIZE, SEED, 0, 4096), EXPECTED[:4096])  # deterministic

    def test_sha256_matches_the_bytes(self):
        self.assertEqual(content_sha256(SIZE, SEED), EXPECTED_SHA)
        self.assertEqual(content_sha256(SIZE, SEED), EXPECTED_SHA)  # cached
        self.assertEqual(content_sha256(0, SEED), hashlib.sha256(b"").hexdigest())
        self.assertNotEqual(content_sha256(SIZE, SEED + 1), EXPECTED_SHA)
        self.assertNotEqual(content_sha256(SIZE - 1, SEED), EXPECTED_SHA)

    def test_generates_256_mib_on_the_fly(self):
        size = 256 * MIB
        h = hashlib.sha256()
        total = 0
        for chunk in content_chunks(size, 3):
            self.assertLessEqual(len(chunk), ad.BLOCK_SIZE)
            h.update(chunk)
            total += len(chunk)
        self.assertEqual(total, size)
        self.assertEqual(content_sha256(size, 3), h.hexdigest())

    def test_parse_size(self):
        self.assertEqual(ad.parse_size("3145851"), 3145851)
        self.assertEqual(ad.parse_size("64k"), 65536)
        self.assertEqual(ad.parse_size("256M"), 256 * MIB)
        self.assertEqual(ad.parse_size("2GiB"), 2 << 30)
        for bad in ("", "abc", "-1", "1.5G"):
            with self.assertRaises(ValueError):
                ad.parse_size(bad)


class ServerTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = AppDouble(token=TOKEN, size=SIZE, seed=SEED).start()

    @classmethod
    def tearDownClass(cls):
        cls.app.stop()

    def setUp(self):
        defaults = {k: d for k, (_, d) in ad.CONFIG_SCHEMA.items()}
        defaults.update(size=SIZE, seed=SEED, retry_after=0, token=TOKEN)
        self.app.set(**defaults)
        self.app.reset_stats()
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        # The next test starts with fresh stats only once this one's connections are gone.
        deadline = time.monotonic() + 5
        while self.app.stats()["active_connections"] and time.monotonic() < deadline:
            time.sleep(0.01)

    def conn(self, timeout=10.0):
        c = http.client.HTTPConnection("127.0.0.1", self.app.port, timeout=timeout)
        self.conns.append(c)
        return c

    def request(self, method, path, headers=None, body=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r, r.read()

    def export(self, headers=AUTH, conn=None):
        return self.request("POST", "/backup/export", headers, conn=conn)

    def assert_backup(self, r, body, status=200):
        self.assertEqual(r.status, status)
        self.assertEqual(r.getheader("Content-Type"), "application/octet-stream")
        self.assertEqual(r.getheader("X-Checksum-SHA256"), EXPECTED_SHA)
        self.assertEqual(r.getheader("X-Size"), str(SIZE))
        self.assertEqual(r.getheader("X-Format"), "pgdump")
        self.assertEqual(len(body), SIZE)
        self.assertEqual(hashlib.sha256(body).hexdigest(), EXPECTED_SHA)

    def assert_unauthorized(self, r, body):
        self.assertEqual(r.status, 401)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertEqual(json.loads(body)["error"], "unauthorized")
        self.assertTrue(r.getheader("WWW-Authenticate", "").startswith("Bearer"))


class CapabilitiesTest(ServerTestBase):
    def test_capabilities(self):
        r, body = self.request("GET", "/backup/capabilities", AUTH)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        expected = {"version": "v1", "types": ["db"], "est_seconds": 123, "est_size": SIZE}
        self.assertEqual(json.loads(body), expected)
        self.assertEqual(self.app.stats()["capabilities"], 1)
        self.assertEqual(self.app.stats()["last_authorization"], "Bearer " + TOKEN)

    def test_capabilities_needs_the_token(self):
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic " + TOKEN},
                        {"Authorization": "Bearer"}, {"Authorization": "Bearer " + TOKEN + "x"}):
            r, body = self.request("GET", "/backup/capabilities", headers)
            self.assert_unauthorized(r, body)
        self.assertEqual(self.app.stats()["unauthorized"], 5)
        self.assertEqual(self.app.stats()["last_authorization"], "Bearer " + TOKEN + "x")
        r, _ = self.request("GET", "/backup/capabilities", {"Authorization": "bearer " + TOKEN})
        self.assertEqual(r.status, 200)  # the scheme is case-insensitive

    def test_bad_version(self):
        self.app.set(mode="bad_version")
        r, body = self.request("GET", "/backup/capabilities", AUTH)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(body)["version"], "v2")

    def test_bad_capabilities(self):
        self.app.set(mode="bad_capabilities")
        r, body = self.request("GET", "/backup/capabilities", AUTH)
        self.assertEqual(r.status, 200)
        self.assertNotEqual(r.getheader("Content-Type"), "application/json")
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_slow_capabilities(self):
        self.app.set(mode="slow_capabilities", capabilities_delay=0.4)
        t0 = time.monotonic()
        r, body = self.request("GET", "/backup/capabilities", AUTH)
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        self.assertEqual(json.loads(body)["version"], "v1")

    def test_capabilities_is_normal_in_export_failure_modes(self):
        for mode in ("unauthorized", "forbidden", "error500", "deferred", "truncated"):
            self.app.set(mode=mode)
            r, body = self.request("GET", "/backup/capabilities", AUTH)
            self.assertEqual((r.status, json.loads(body)["version"]), (200, "v1"), mode)


class ExportTest(ServerTestBase):
    def test_normal(self):
        r, body = self.export()
        self.assert_backup(r, body)
        self.assertEqual(r.getheader("Content-Length"), str(SIZE))
        self.assertIsNone(r.getheader("Transfer-Encoding"))
        self.assertRegex(r.getheader("X-Checksum-SHA256"), r"^[0-9a-f]{64}$")
        st = self.app.stats()
        self.assertEqual((st["export"], st["bytes_sent"]), (1, SIZE))

    def test_format_seed_and_size_follow_settings(self):
        self.app.set(format="tar.gz", seed=99, size=1000)
        r, body = self.export()
        self.assertEqual(r.getheader("X-Format"), "tar.gz")
        self.assertEqual(body, content_bytes(1000, 99))
        self.assertEqual(r.getheader("X-Checksum-SHA256"), content_sha256(1000, 99))
        self.app.set(size=0)
        r, body = self.export()
        self.assertEqual((r.status, body, r.getheader("X-Size")), (200, b"", "0"))

    def test_export_needs_the_token(self):
        r, body = self.export(headers={})
        self.assert_unauthorized(r, body)
        r, body = self.export(headers={"Authorization": "Bearer wrong"})
        self.assert_unauthorized(r, body)
        st = self.app.stats()
        self.assertEqual((st["export"], st["unauthorized"], st["bytes_sent"]), (2, 2, 0))

    def test_unauthorized_and_forbidden_modes(self):
        self.app.set(mode="unauthorized")
        r, body = self.export()
        self.assert_unauthorized(r, body)
        self.app.set(mode="forbidden")
        r, body = self.export()
        self.assertEqual(r.status, 403)
        self.assertEqual(json.loads(body)["error"], "forbidden")
        self.assertEqual(self.app.stats()["unauthorized"], 1)
        self.assertEqual(self.app.stats()["forbidden"], 1)

    def test_token_can_be_rotated(self):
        self.app.set(token="rotated")
        r, body = self.export()
        self.assert_unauthorized(r, body)
        r, body = self.export(headers={"Authorization": "Bearer rotated"})
        self.assert_backup(r, body)

    def test_chunked(self):
        self.app.set(mode="chunked")
        r, body = self.export()
        self.assert_backup(r, body)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.getheader("Content-Length"))

    def test_chunked_framing_on_the_wire(self):
        self.app.set(mode="chunked", size=250_000, chunk_size=100_000)
        with socket.create_connection(("127.0.0.1", self.app.port), timeout=10) as s:
            s.sendall(b"POST /backup/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + TOKEN.encode() + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            raw = b""
            while True:
                got = s.recv(1 << 16)
                if not got:
                    break
                raw += got
        head, _, rest = raw.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        expected = content_bytes(250_000, SEED)
        framed = (b"186a0\r\n" + expected[:100_000] + b"\r\n186a0\r\n" + expected[100_000:200_000]
                  + b"\r\nc350\r\n" + expected[200_000:] + b"\r\n0\r\n\r\n")
        self.assertEqual(rest, framed)

    def test_wrong_checksum(self):
        self.app.set(mode="wrong_checksum")
        r, body = self.export()
        self.assertEqual(r.status, 200)
        header = r.getheader("X-Checksum-SHA256")
        self.assertRegex(header, r"^[0-9a-f]{64}$")
        self.assertNotEqual(header, EXPECTED_SHA)
        self.assertEqual(body, EXPECTED)
        self.assertEqual(r.getheader("X-Size"), str(SIZE))

    def test_wrong_size(self):
        self.app.set(mode="wrong_size")
        r, body = self.export()
        self.assertEqual(r.getheader("X-Size"), str(SIZE + 1))
        self.assertEqual(r.getheader("Content-Length"), str(SIZE))
        self.assertEqual(r.getheader("X-Checksum-SHA256"), EXPECTED_SHA)
        self.assertEqual(body, EXPECTED)
        self.app.set(size_delta=-1)
        r, body = self.export()
        self.assertEqual((r.getheader("X-Size"), len(body)), (str(SIZE - 1), SIZE))

    def test_truncated(self):
        self.app.set(mode="truncated")
        c = self.conn()
        c.request("POST", "/backup/export", headers=AUTH)
        r = c.getresponse()
        self.assertEqual(r.getheader("Content-Length"), str(SIZE))
        self.assertEqual(r.getheader("X-Size"), str(SIZE))
        self.assertEqual(r.getheader("X-Checksum-SHA256"), EXPECTED_SHA)
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        self.assertEqual(cm.exception.partial, EXPECTED[: SIZE // 2])
        self.app.set(truncate_at=1000)
        c = self.conn()
        c.request("POST", "/backup/export", headers=AUTH)
        with self.assertRaises(http.client.IncompleteRead) as cm:
            c.getresponse().read()
        self.assertEqual(cm.exception.partial, EXPECTED[:1000])

    def test_missing_header(self):
        for name in ad.CONTRACT_HEADERS:
            self.app.set(mode="missing_header", omit_header=name.lower())
            r, body = self.export()
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.getheader(name), name)
            for other in ad.CONTRACT_HEADERS:
                if other != name:
                    self.assertIsNotNone(r.getheader(other), other)
            self.assertEqual(body, EXPECTED)

    def test_malformed_header(self):
        bad = {}
        for name in ad.CONTRACT_HEADERS:
            self.app.set(mode="malformed_header", malform_header=name)
            r, body = self.export()
            bad[name] = r.getheader(name)
            self.assertEqual(body, EXPECTED)
        self.assertEqual(bad["X-Size"], "abc")
        self.assertEqual(bad["X-Checksum-SHA256"], EXPECTED_SHA[:32])
        self.assertEqual(bad["X-Format"], "")
        self.app.set(malform_header="X-Size", malformed_value="-5")
        r, _ = self.export()
        self.assertEqual(r.getheader("X-Size"), "-5")

    def test_stall_then_resume(self):
        self.app.set(mode="stall", stall_after=1000, stall_seconds=3)
        c = self.conn(timeout=0.25)
        c.request("POST", "/backup/export", headers=AUTH)
        r = c.getresponse()
        self.assertEqual(r.getheader("Content-Length"), str(SIZE))
        self.assertEqual(r.read(1000), EXPECTED[:1000])
        with self.assertRaises(TimeoutError):
            r.read(1)
        # A patient client gets everything once the stall is over.
        self.app.set(stall_seconds=0.6)
        t0 = time.monotonic()
        r, body = self.export()
        self.assertGreaterEqual(time.monotonic() - t0, 0.55)
        self.assert_backup(r, body)

    def test_stalled_response_ends_when_the_client_leaves(self):
        self.app.set(mode="stall", stall_after=1000)  # stall_seconds: one hour
        c = self.conn()
        c.request("POST", "/backup/export", headers=AUTH)
        r = c.getresponse()
        self.assertEqual(r.read(1000), EXPECTED[:1000])
        c.close()
        deadline = time.monotonic() + 5
        while self.app.stats()["client_aborts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        st = self.app.stats()
        self.assertEqual((st["client_aborts"], st["bytes_sent"]), (1, 1000))

    def test_stall_headers(self):
        self.app.set(mode="stall_headers", stall_seconds=3)
        c = self.conn(timeout=0.2)
        c.request("POST", "/backup/export", headers=AUTH)
        with self.assertRaises(TimeoutError):
            c.getresponse()
        self.app.set(stall_seconds=0.5)
        t0 = time.monotonic()
        r, body = self.export()
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.assert_backup(r, body)

    def test_interim_flood(self):
        self.app.set(mode="interim_flood")
        sock = socket.create_connection(("127.0.0.1", self.app.port), timeout=5)
        sock.sendall(b"POST /backup/export HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                     AUTH["Authorization"].encode() + b"\r\nContent-Length: 0\r\n\r\n")
        got = b""
        while got.count(b"HTTP/1.1 100 Continue\r\n\r\n") < 50:
            got += sock.recv(65536)
        sock.close()
        self.assertNotIn(b"200", got.replace(b"HTTP/1.1 100", b""))
        deadline = time.monotonic() + 5
        while self.app.stats()["client_aborts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreaterEqual(self.app.stats()["interim_sent"], 50)
        self.assertEqual(self.app.stats()["client_aborts"], 1)

    def test_trickle(self):
        self.app.set(mode="trickle", size=60_000, trickle_bytes_per_sec=100_000)
        t0 = time.monotonic()
        r, body = self.export()
        elapsed = time.monotonic() - t0
        self.assertEqual(body, content_bytes(60_000, SEED))
        self.assertEqual(r.getheader("Content-Length"), "60000")
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 5)

    def test_error500_then_normal(self):
        self.app.set(mode="error500", fail_count=2)
        c = self.conn()
        for _ in range(2):
            r, body = self.export(conn=c)
            self.assertEqual(r.status, 500)
            self.assertEqual(json.loads(body)["error"], "internal")
        r, body = self.export(conn=c)
        self.assert_backup(r, body)
        st = self.app.stats()
        self.assertEqual((st["errors_500"], st["failures_served"], st["connections"]), (2, 2, 1))
        self.app.set(fail_count=1)  # set() starts counting failures again
        self.assertEqual(self.export()[0].status, 500)
        self.assertEqual(self.export()[0].status, 200)

    def test_drop_then_normal(self):
        self.app.set(mode="drop", fail_count=1)
        with self.assertRaises(http.client.RemoteDisconnected):
            self.export()
        r, body = self.export()
        self.assert_backup(r, body)

    def test_keep_alive(self):
        c = self.conn()
        r, body = self.request("GET", "/backup/capabilities", AUTH, conn=c)
        self.assertEqual(r.status, 200)
        r, body = self.request("POST", "/backup/export", {}, body=b'{"x": 1}' * 100, conn=c)
        self.assertEqual(r.status, 401)
        r, body = self.export(conn=c)
        self.assert_backup(r, body)
        self.app.set(mode="chunked")
        r, body = self.export(conn=c)
        self.assert_backup(r, body)
        r, body = self.request("GET", "/backup/capabilities", AUTH, conn=c)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.app.stats()["connections"], 1)

    def test_unknown_paths_and_methods(self):
        r, body = self.request("GET", "/nope", AUTH)
        self.assertEqual(r.status, 404)
        r, body = self.request("GET", "/backup/export", AUTH)
        self.assertEqual((r.status, r.getheader("Allow")), (405, "POST"))
        r, body = self.request("POST", "/backup/capabilities", AUTH)
        self.assertEqual((r.status, r.getheader("Allow")), (405, "GET"))


class DeferredTest(ServerTestBase):
    def start_job(self):
        r, body = self.export()
        self.assertEqual(r.status, 202)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        doc = json.loads(body)
        self.assertRegex(doc["job_id"], r"^[0-9a-f]+$")
        self.assertEqual(doc["status_url"], "/exports/" + doc["job_id"])
        self.assertEqual(r.getheader("Location"), doc["status_url"])
        return doc["status_url"]

    def poll_running(self, url, times, conn=None):
        progress = []
        for _ in range(times):
            r, body = self.request("GET", url, AUTH, conn=conn)
            self.assertEqual(r.status, 202)
            doc = json.loads(body)
            self.assertEqual(doc["status"], "running")
            progress.append(doc["progress"])
            self.assertEqual(r.getheader("Retry-After"), "0")
        self.assertEqual(progress, sorted(progress))
        self.assertTrue(all(0 <= p < 1 for p in progress))

    def test_deferred_end_to_end_with_ranges(self):
        self.app.set(mode="deferred")
        url = self.start_job()
        c = self.conn()
        self.poll_running(url, 2, conn=c)
        r, body = self.request("GET", url, AUTH, conn=c)
        self.assert_backup(r, body)
        self.assertEqual(r.getheader("Content-Length"), str(SIZE))
        self.assertEqual(r.getheader("Accept-Ranges"), "bytes")
        # Ranges on the ready download.
        ranges = [
            ("bytes=1000-", 1000, SIZE),
            ("bytes=5-9", 5, 10),
            ("bytes=%d-" % (SIZE - 1), SIZE - 1, SIZE),
            ("bytes=-100", SIZE - 100, SIZE),
            ("bytes=10-%d" % (SIZE * 2), 10, SIZE),
        ]
        for rng, start, end in ranges:
            r, body = self.request("GET", url, dict(AUTH, Range=rng), conn=c)
            self.assertEqual(r.status, 206, rng)
            content_range = "bytes %d-%d/%d" % (start, end - 1, SIZE)
            self.assertEqual(r.getheader("Content-Range"), content_range)
            self.assertEqual(r.getheader("Content-Length"), str(end - start))
            self.assertEqual(r.getheader("X-Size"), str(SIZE))
            self.assertEqual(r.getheader("X-Checksum-SHA256"), EXPECTED_SHA)
            self.assertEqual(body, EXPECTED[start:end], rng)
        r, body = self.request("GET", url, dict(AUTH, Range="bytes=%d-" % SIZE), conn=c)
        self.assertEqual((r.status, r.getheader("Content-Range")), (416, "bytes */%d" % SIZE))
        r, body = self.request("GET", url, dict(AUTH, Range="lines=1-2"), conn=c)
        self.assertEqual((r.status, len(body)), (200, SIZE))
        st = self.app.stats()
        self.assertEqual((st["export"], st["jobs"], st["status"]), (1, 1, 10))
        self.assertEqual((st["range_requests"], st["last_range"]), (7, "lines=1-2"))
        self.assertEqual(st["connections"], 2)

    def test_status_needs_token_and_known_job(self):
        self.app.set(mode="deferred", deferred_polls=1)
        url = self.start_job()
        r, body = self.request("GET", url, {})
        self.assert_unauthorized(r, body)
        r, body = self.request("GET", "/exports/doesnotexist", AUTH)
        self.assertEqual(r.status, 404)
        self.poll_running(url, 1)  # the refused requests did not count as polls
        r, body = self.request("GET", url, AUTH)
        self.assert_backup(r, body)

    def test_retry_after_and_no_polls(self):
        self.app.set(mode="deferred", retry_after=1, deferred_polls=1)
        url = self.start_job()
        r, _ = self.request("GET", url, AUTH)
        self.assertEqual((r.status, r.getheader("Retry-After")), (202, "1"))
        self.app.set(retry_after=-1)
        url = self.start_job()
        r, _ = self.request("GET", url, AUTH)
        self.assertEqual((r.status, r.getheader("Retry-After")), (202, None))
        self.app.set(deferred_polls=0)
        url = self.start_job()
        r, body = self.request("GET", url, AUTH)
        self.assert_backup(r, body)

    def test_job_keeps_the_settings_it_was_started_with(self):
        self.app.set(mode="deferred", deferred_polls=0)
        url = self.start_job()
        self.app.set(mode="wrong_checksum", size=10)
        r, body = self.request("GET", url, AUTH)
        self.assert_backup(r, body)

    def test_absolute_urls(self):
        self.app.set(mode="deferred_303", deferred_polls=0, absolute_urls=True)
        r, body = self.export()
        base = "http://127.0.0.1:%d" % self.app.port
        status_url = json.loads(body)["status_url"]
        self.assertTrue(status_url.startswith(base + "/exports/"), status_url)
        self.assertEqual(r.getheader("Location"), status_url)
        r, _ = self.request("GET", status_url[len(base) :], AUTH)
        self.assertEqual(r.status, 303)
        self.assertTrue(r.getheader("Location").startswith(base + "/downloads/"))

    def test_deferred_303(self):
        self.app.set(mode="deferred_303")
        url = self.start_job()
        job_id = url.rsplit("/", 1)[1]
        r, body = self.request("GET", "/downloads/" + job_id, AUTH)
        self.assertEqual(r.status, 404)  # not ready yet
        self.poll_running(url, 2)
        r, body = self.request("GET", url, AUTH)
        self.assertEqual(r.status, 303)
        self.assertEqual(body, b"")
        location = r.getheader("Location")
        self.assertEqual(location, "/downloads/" + job_id)
        r, body = self.request("GET", location, {})
        self.assert_unauthorized(r, body)
        c = self.conn()
        r, body = self.request("GET", location, AUTH, conn=c)
        self.assert_backup(r, body)
        r, body = self.request("GET", location, dict(AUTH, Range="bytes=%d-" % MIB), conn=c)
        self.assertEqual(r.status, 206)
        self.assertEqual(r.getheader("Content-Range"), "bytes %d-%d/%d" % (MIB, SIZE - 1, SIZE))
        self.assertEqual(body, EXPECTED[MIB:])
        r, body = self.request("GET", "/downloads/unknown", AUTH)
        self.assertEqual(r.status, 404)
        st = self.app.stats()
        self.assertEqual((st["status"], st["download"]), (3, 5))

    def test_deferred_failed(self):
        self.app.set(mode="deferred_failed", deferred_polls=1)
        url = self.start_job()
        self.poll_running(url, 1)
        for _ in range(2):
            r, body = self.request("GET", url, AUTH)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            self.assertEqual(json.loads(body), {"status": "failed", "error": "disk full"})

    def test_truncated_download_resumed_with_range(self):
        self.app.set(mode="deferred", deferred_polls=0, download_fault="truncated",
                     download_fault_count=1)
        url = self.start_job()
        c = self.conn()
        c.request("GET", url, headers=AUTH)
        with self.assertRaises(http.client.IncompleteRead) as cm:
            c.getresponse().read()
        got = cm.exception.partial
        self.assertEqual(got, EXPECTED[: SIZE // 2])
        r, rest = self.request("GET", url, dict(AUTH, Range="bytes=%d-" % len(got)))
        self.assertEqual(r.status, 206)
        self.assertEqual(got + rest, EXPECTED)

    def test_download_fault_on_every_download(self):
        self.app.set(mode="deferred_303", deferred_polls=0, download_fault="wrong_checksum")
        url = self.start_job()
        location = self.request("GET", url, AUTH)[0].getheader("Location")
        for _ in range(2):
            r, body = self.request("GET", location, AUTH)
            self.assertNotEqual(r.getheader("X-Checksum-SHA256"), EXPECTED_SHA)
            self.assertEqual(body, EXPECTED)


class ControlTest(ServerTestBase):
    def test_stats_over_http_needs_no_token(self):
        self.export()
        r, body = self.request("GET", "/_stats")
        self.assertEqual(r.status, 200)
        st = json.loads(body)
        self.assertEqual((st["export"], st["bytes_sent"]), (1, SIZE))
        self.assertEqual(st["last_authorization"], "Bearer " + TOKEN)

    def test_control_sets_mode(self):
        r, body = self.request("POST", "/_control", {"Content-Type": "application/json"},
                               body=json.dumps({"mode": "wrong_size", "size_delta": 5}))
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(body)["config"]["mode"], "wrong_size")
        r, body = self.export()
        self.assertEqual(r.getheader("X-Size"), str(SIZE + 5))
        r, body = self.request("POST", "/_control", body=json.dumps({"reset_stats": True}))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.app.stats()["export"], 0)

    def test_chunked_request_body_keeps_the_connection_usable(self):
        c = self.conn()
        body = iter([b'{"mode": ', b'"wrong_size"}'])
        c.request("POST", "/_control", body=body, encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        self.assertEqual(json.loads(r.read())["config"]["mode"], "wrong_size")
        r, _ = self.export(conn=c)
        self.assertEqual(r.getheader("X-Size"), str(SIZE + 1))
        self.assertEqual(self.app.stats()["connections"], 1)

    def test_control_rejects_bad_settings_atomically(self):
        for bad in ({"mode": "nope"}, {"bogus": 1}, {"size": "big"}, {"deferred_polls": "2"},
                    {"omit_header": "X-Other"}, [1, 2], {"mode": "chunked", "seed": 1.5}):
            r, body = self.request("POST", "/_control", body=json.dumps(bad))
            self.assertEqual(r.status, 400, bad)
        r, body = self.request("POST", "/_control", body=b"{not json")
        self.assertEqual(r.status, 400)
        self.assertEqual(self.app.config()["mode"], "normal")
        self.assertEqual(self.app.config()["seed"], SEED)

    def test_set_validates(self):
        with self.assertRaises(ValueError):
            self.app.set(mode="nope")
        with self.assertRaises(ValueError):
            self.app.set(unknown=1)
        with self.assertRaises(ValueError):
            self.app.set(token="")
        self.app.set(size="1M")
        self.assertEqual(self.app.config()["size"], MIB)

    def test_token_is_not_exposed(self):
        r, body = self.request("POST", "/_control", body=json.dumps({"token": "another-secret"}))
        self.assertEqual(r.status, 200)
        self.assertNotIn(b"another-secret", body)
        self.assertNotIn("another-secret", json.dumps(self.app.config()))


class LifecycleTest(unittest.TestCase):
    def test_stop_cuts_stalled_and_idle_connections(self):
        app = AppDouble(token=TOKEN, mode="stall", size=SIZE, seed=SEED, stall_after=100).start()
        idle = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
        idle.request("GET", "/backup/capabilities", headers=AUTH)
        idle.getresponse().read()
        c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
        c.request("POST", "/backup/export", headers=AUTH)
        r = c.getresponse()
        self.assertEqual(r.read(100), EXPECTED[:100])
        t0 = time.monotonic()
        app.stop()
        self.assertLess(time.monotonic() - t0, 3)
        with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
            r.read()
        c.close()
        idle.close()

    def test_restart_on_the_same_port(self):
        app = AppDouble(token=TOKEN, size=1000).start()
        port = app.port
        app.stop()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        app.start()
        try:
            self.assertEqual(app.port, port)
            self.assertEqual(app.url, "http://127.0.0.1:%d" % port)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/backup/capabilities", headers=AUTH)
            self.assertEqual(c.getresponse().status, 200)
            c.close()
        finally:
            app.stop()

    def test_concurrent_exports(self):
        with AppDouble(token=TOKEN, size=SIZE, seed=SEED) as app:
            results = []

            def fetch():
                c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=20)
                c.request("POST", "/backup/export", headers=AUTH)
                results.append(hashlib.sha256(c.getresponse().read()).hexdigest())
                c.close()

            threads = [threading.Thread(target=fetch) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [EXPECTED_SHA] * 4)
            self.assertEqual(app.stats()["bytes_sent"], 4 * SIZE)


class CommandLineTest(unittest.TestCase):
    def spawn(self, *extra):
        p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "app_double.py"), "--port", "0", "--host",
             "127.0.0.1", "--token", TOKEN, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        line = p.stdout.readline()
        m = re.fullmatch(r"listening (\d+)\n", line)
        self.assertIsNotNone(m, line)
        return p, int(m.group(1))

    def test_serves_until_sigterm(self):
        p, port = self.spawn("--mode", "chunked", "--size", "100000", "--seed", "5", "--format",
                             "tar.gz", "--deferred-polls", "3", "--verbose")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/backup/export", headers=AUTH)
        r = c.getresponse()
        body = r.read()
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(r.getheader("X-Format"), "tar.gz")
        self.assertEqual(body, content_bytes(100_000, 5))
        self.assertEqual(r.getheader("X-Checksum-SHA256"), content_sha256(100_000, 5))
        c.request("POST", "/_control", body=json.dumps({"mode": "deferred"}))
        cfg = json.loads(c.getresponse().read())["config"]
        self.assertEqual((cfg["mode"], cfg["deferred_polls"]), ("deferred", 3))
        c.request("POST", "/backup/export", headers={"Authorization": "Bearer wrong-" + TOKEN})
        self.assertEqual(c.getresponse().read() and 401, 401)
        c.close()  # an open keep-alive connection would not hold the exit up either way
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(out, "")  # exactly one line on stdout
        self.assertIn("POST /backup/export", err)  # verbose logs request lines...
        self.assertNotIn(TOKEN, err)  # ...and never the token

    def test_sigint_with_open_connection(self):
        p, port = self.spawn("--size", "2M")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/backup/capabilities", headers=AUTH)
        self.assertEqual(json.loads(c.getresponse().read())["est_size"], 2 * MIB)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0)
        c.close()

    def test_bad_arguments(self):
        p = subprocess.run([sys.executable, os.path.join(HERE, "app_double.py"), "--port", "0"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)
        p = subprocess.run([sys.executable, os.path.join(HERE, "app_double.py"), "--token", "t",
                            "--mode", "nope"], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
