"""GET /api/events against the real binary: job progress and state changes and app health as
server-sent events with ids, Last-Event-ID resume (and reset), heartbeats, the cap on open
streams, the admin token, and the streams ending at a graceful shutdown."""

import http.client
import json
import signal
import socket
import time
import unittest

from harness import MiB, Respaldo, run_cli, start_app, wait_until

ARGS = ["--events-heartbeat", "300ms", "--progress-interval", "100ms", "--chunk-size", "256KiB",
        "--probe-interval", "0", "--max-event-streams", "3"]


class EventStream:
    """One open GET /api/events: reads frames (id, event, data) and comments under a deadline."""

    def __init__(self, server, last_event_id=None, timeout=30):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        headers = {"Authorization": "Bearer " + server.admin_token}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/api/events", headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.comments = 0
        self.ended = False

    def header(self, name):
        return self.response.getheader(name)

    def next(self):
        """The next event as {id, event, data}; None when the stream ended."""
        frame = {}
        while True:
            line = self.response.readline()
            if not line:
                self.ended = True
                return None
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if "event" in frame:
                    return frame
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            key, _, value = line.partition(": ")
            if key == "id":
                frame["id"] = int(value)
            elif key == "event":
                frame["event"] = value
            elif key == "data":
                frame["data"] = json.loads(value)

    def until(self, predicate, timeout=60, what="event"):
        """Reads events until predicate(event) holds; returns every event read."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            e = self.next()
            if e is None:
                raise AssertionError("stream ended waiting for %s; saw %r" % (what, seen[-5:]))
            seen.append(e)
            if predicate(e):
                return seen
        raise AssertionError("no %s within %ss; saw %r" % (what, timeout, seen[-5:]))

    def close(self):
        self.conn.close()


class EventsTest(unittest.TestCase):
    def setUp(self):
        self.server = Respaldo(args=ARGS).start()
        self.addCleanup(self.server.cleanup)

    def open(self, **kw):
        s = EventStream(self.server, **kw)
        self.addCleanup(s.close)
        return s

    def open_when_free(self, **kw):
        """A stream once a slot is free (a closed one is noticed at its next heartbeat write)."""
        def attempt():
            s = EventStream(self.server, **kw)
            if s.status == 200:
                self.addCleanup(s.close)
                return s
            s.close()
            return None
        return wait_until(attempt, timeout=15, interval=0.1, what="a free stream slot")

    def test_a_backup_streams_its_progress_and_end(self):
        name, _ = start_app(self, self.server, mode="trickle", size=2 * MiB,
                            trickle_bytes_per_sec=2 * MiB)
        s = self.open()
        self.assertEqual(s.status, 200)
        self.assertEqual(s.header("Content-Type"), "text/event-stream")
        self.assertEqual(s.header("Cache-Control"), "no-store")
        ready = s.next()
        self.assertEqual(ready["event"], "ready")
        job_id = self.server.start_backup(name)
        events = s.until(lambda e: e["event"] == "job" and e["data"]["id"] == job_id
                         and e["data"]["state"] == "succeeded", what="the job's success")
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(set(ids)), "ids increase")
        self.assertGreater(ids[0], ready["id"])
        jobs = [e["data"] for e in events if e["event"] == "job" and e["data"]["id"] == job_id]
        states = [j["state"] for j in jobs]
        self.assertEqual(states[0], "queued")
        self.assertIn("running", states)
        uploading = [j["bytes_done"] for j in jobs if j["phase"] == "uploading"]
        self.assertTrue(any(b > 0 for b in uploading), jobs)
        self.assertEqual(jobs[-1]["bytes_done"], 2 * MiB)
        self.assertTrue(all(j["app"] == name for j in jobs))
        s.until(lambda e: e["event"] == "backup.succeeded", timeout=10, what="backup.succeeded")

        # Resume: a client that saw only the first job event gets everything after it.
        first = next(e for e in events if e["event"] == "job")
        resumed = self.open(last_event_id=first["id"])
        again = resumed.until(lambda e: e["event"] == "backup.succeeded", timeout=10,
                              what="the replayed backup.succeeded")
        self.assertEqual(again[0]["id"], first["id"] + 1)
        self.assertEqual([e["id"] for e in again[:len(events) - 1]], ids[1:])

        # An id this process never handed out (an earlier process, a made-up one): reset.
        s.close()
        resumed.close()
        for stale in ("1", str(ids[-1] + 1000000), "not-a-number"):
            r = self.open_when_free(last_event_id=stale)
            reset = r.next()
            self.assertEqual(reset["event"], "reset", stale)
            self.assertGreaterEqual(reset["id"], ids[-1])
            r.close()

    def test_registration_changes_are_streamed(self):
        s = self.open()
        self.assertEqual(s.next()["event"], "ready")
        name, _ = start_app(self, self.server)
        e = s.next()
        self.assertEqual((e["event"], e["data"]), ("app.changed", {"app": name}))
        r = self.server.request("PATCH", "/api/apps/" + name, {"schedule": "0 4 * * *"},
                                content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.next()["data"], {"app": name})
        self.assertEqual(self.server.request("DELETE", "/api/apps/" + name).status, 204)
        self.assertEqual(s.next()["data"], {"app": name})

    def test_app_health_changes_are_streamed(self):
        self.server.stop()
        self.server.args = [a for a in ARGS]
        i = self.server.args.index("--probe-interval")
        self.server.args[i + 1] = "200ms"
        self.server.start()
        name, app = start_app(self, self.server)
        s = self.open()
        app.stop()  # the next probes fail
        events = s.until(lambda e: e["event"] == "app.unhealthy" and e["data"]["app"] == name,
                         what="app.unhealthy")
        self.assertIsNotNone(events[-1]["data"]["error"])

    def test_idle_stream_gets_heartbeats(self):
        s = self.open()
        s.next()  # ready
        s.conn.sock.settimeout(10)
        # A heartbeat is a comment; next() skips it and counts it. Read raw lines until two came.
        wait_until(lambda: s.response.readline().startswith(b": heartbeat") and
                   s.response.readline() == b"\n", timeout=10, what="a heartbeat")

    def test_streams_are_capped(self):
        open_ = [self.open() for _ in range(3)]
        for s in open_:
            self.assertEqual(s.status, 200)
            self.assertEqual(s.next()["event"], "ready")
        r = self.server.get("/api/events")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["code"], "too_many_event_streams")
        self.assertEqual(r.header("Retry-After"), "5")
        self.assertIn("--max-event-streams", r.json()["detail"])
        open_[0].close()

        # The server notices the closed stream at its next heartbeat write at the latest.
        self.assertEqual(self.open_when_free().next()["event"], "ready")

    def backup_wait(self, name):
        return run_cli(["backup", name, "--wait", "--timeout", "60s",
                        "--server", "http://127.0.0.1:%d" % self.server.port],
                       env={"RESPALDO_ADMIN_TOKEN": self.server.admin_token}, timeout=90)

    def test_backup_wait_follows_the_stream_and_falls_back_to_polling(self):
        name, _ = start_app(self, self.server, mode="trickle", size=2 * MiB,
                            trickle_bytes_per_sec=2 * MiB)
        r = self.backup_wait(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("running: uploading", out)
        self.assertRegex(out.splitlines()[-1], r"^succeeded: backup \S+, 2\.0 MiB, sha256 [0-9a-f]{64}$")
        self.server.wait_log("path=/api/events status=200")
        self.assertEqual(self.server.log_text().count("path=/api/events status=200"), 1)
        polls_with_stream = self.server.log_text().count("path=/api/jobs/")

        # Every stream taken: the command polls instead, with the same outcome.
        held = [self.open() for _ in range(3)]
        self.assertTrue(all(h.status == 200 for h in held))
        r = self.backup_wait(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode().splitlines()[-1], r"^succeeded: backup ")
        self.assertIn("path=/api/events status=503", self.server.log_text())
        polls = self.server.log_text().count("path=/api/jobs/") - polls_with_stream
        self.assertGreater(polls, 2, "the fallback did not poll")
        self.assertLessEqual(polls_with_stream, 2, "the stream did not replace polling")

    def test_token_required(self):
        r = self.server.get("/api/events", auth=False)
        self.assertEqual(r.status, 401)
        r = self.server.get("/api/events", auth="wrong-token-0123456789")
        self.assertEqual(r.status, 401)
        self.assertNotIn(b"event-stream", r.body)

    def test_shutdown_ends_open_streams(self):
        self.server.stop()
        self.server.args = [a if a != "300ms" else "60s" for a in ARGS] + ["--shutdown-grace", "30s"]
        self.server.start()
        s = self.open()
        self.assertEqual(s.next()["event"], "ready")
        started = time.monotonic()
        self.server.proc.send_signal(signal.SIGTERM)
        self.assertIsNone(s.next())  # ended, by its last chunk (http.client checks it)
        self.assertTrue(s.ended)
        self.assertEqual(self.server.proc.wait(20), 0)
        self.assertLess(time.monotonic() - started, 15, "the stream did not hold the shutdown")


if __name__ == "__main__":
    unittest.main()
