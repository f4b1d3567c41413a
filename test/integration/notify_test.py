"""Notifications end to end: notifiers managed through the API, a real loopback receiver recording
what respaldo sends (webhook signatures, delivery ids stable across retries, the retry schedule,
410 disabling, delivery after a restart, each kind's format) and no token in any payload."""

import hashlib
import hmac
import http.server
import json
import os
import ssl
import tempfile
import shutil
import threading
import time
import unittest

from harness import (ADMIN_TOKEN, APP_TOKEN, SOURCE_DIR, Respaldo, free_port, start_app,
                     wait_until)

SECRET = "webhook-signing-secret-42"
ARGS = ["--probe-interval", "0", "--notify-retry-base", "200ms", "--notify-retry-max", "1s",
        "--max-attempts", "3", "--retry-base-delay", "100ms", "--retry-max-delay", "200ms"]


class Receiver:
    """A loopback HTTP server recording every request; answers come from a script (a list of
    statuses, then `default`)."""

    def __init__(self, answers=(), default=200, port=0, tls=None, reply=b"ok"):
        self.requests = []
        self.answers = list(answers)
        self.default = default
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body, "at": time.monotonic()})
                    status = receiver.answers.pop(0) if receiver.answers else receiver.default
                reply = receiver.reply
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.reply = reply
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def got(self, n):
        """Waits for at least n requests and returns them all."""
        wait_until(lambda: len(self.snapshot()) >= n, timeout=30, what="%d requests" % n)
        return self.snapshot()

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def header(req, name):
    for k, v in req["headers"].items():
        if k.lower() == name.lower():
            return v
    return None


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.server = Respaldo(args=ARGS).start()
        self.addCleanup(self.server.cleanup)

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.addCleanup(r.stop)
        return r

    def create(self, expect=201, **body):
        r = self.server.post("/api/notifiers", body)
        self.assertEqual(r.status, expect, r)
        return r.json()

    def deliveries(self, name):
        r = self.server.get("/api/notifiers/%s/deliveries" % name)
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def assert_no_secrets(self, requests, *extra):
        for req in requests:
            blob = req["body"] + json.dumps(req["headers"]).encode()
            for secret in (APP_TOKEN, ADMIN_TOKEN, SECRET) + extra:
                self.assertNotIn(secret.encode(), blob, req)

    # -- webhook --------------------------------------------------------------------------------
    def test_webhook_is_signed_and_carries_the_event_document_without_tokens(self):
        rx = self.receiver()
        name, _ = start_app(self, self.server, "hooked")
        view = self.create(name="ops", kind="webhook", url=rx.url("/in?k=hidden-query"),
                           secret=SECRET, events=["backup.started", "backup.succeeded"])
        self.assertEqual(view["url_host"], "127.0.0.1:%d" % rx.port)
        self.assertTrue(view["has_secret"])
        self.assertNotIn("hidden-query", json.dumps(view))
        self.assertNotIn(SECRET, json.dumps(view))
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        reqs = rx.got(2)
        self.assertEqual([header(r, "X-Respaldo-Event") for r in reqs],
                         ["backup.started", "backup.succeeded"])
        for r in reqs:
            self.assertEqual(r["path"], "/in?k=hidden-query")
            self.assertEqual(header(r, "Content-Type"), "application/json")
            expected = "sha256=" + hmac.new(SECRET.encode(), r["body"], hashlib.sha256).hexdigest()
            self.assertEqual(header(r, "X-Respaldo-Signature"), expected)
            doc = json.loads(r["body"])
            self.assertEqual(doc["delivery_id"], header(r, "X-Respaldo-Delivery"))
            self.assertEqual(doc["app"], name)
            self.assertEqual(doc["job"]["id"], job["id"])
            self.assertEqual(doc["job"]["url"],
                             "http://127.0.0.1:%d/api/jobs/%s" % (self.server.port, job["id"]))
        with open(os.path.join(SOURCE_DIR, "proto", "notification-event.schema.json")) as f:
            schema = json.load(f)
        for r in reqs:
            doc = json.loads(r["body"])
            self.assertEqual(set(doc), set(schema["required"]))
            self.assertIn(doc["event"], schema["properties"]["event"]["enum"])
        done = json.loads(reqs[1]["body"])
        self.assertEqual(done["event"], "backup.succeeded")
        self.assertEqual(done["backup"]["id"], job["backup"]["id"])
        self.assertIsNone(done["error"])
        self.assertNotEqual(header(reqs[0], "X-Respaldo-Delivery"),
                            header(reqs[1], "X-Respaldo-Delivery"))
        self.assert_no_secrets(reqs)
        # Neither the listing nor the deliveries show the URL or the secret.
        for path in ("/api/notifiers", "/api/notifiers/ops", "/api/notifiers/ops/deliveries"):
            text = self.server.get(path).body.decode()
            self.assertNotIn("hidden-query", text)
            self.assertNotIn(SECRET, text)
        # The receiver has the requests before respaldo has recorded the answers.
        rows = wait_until(lambda: (lambda r: r if [d["state"] for d in r] == ["delivered"] * 2
                                   else None)(self.deliveries("ops")), what="both delivered")
        self.assertNotIn("hidden-query", self.server.log_text())
        self.assertNotIn(SECRET, self.server.log_text())
        self.assertEqual(rows[0]["last_status"], 200)

    def test_retries_keep_the_delivery_id_and_back_off(self):
        rx = self.receiver(answers=[500, 500, 503])
        self.create(name="flaky", kind="webhook", url=rx.url(), secret=SECRET)
        r = self.server.post("/api/notifiers/flaky/test")
        self.assertEqual(r.status, 202, r)
        delivery = r.json()["delivery_id"]
        reqs = rx.got(4)
        self.assertEqual({header(q, "X-Respaldo-Delivery") for q in reqs}, {delivery})
        self.assertEqual(len({q["body"] for q in reqs}), 1)
        self.assertEqual(len({header(q, "X-Respaldo-Signature") for q in reqs}), 1)
        self.assertEqual(header(reqs[0], "X-Respaldo-Event"), "notifier.test")
        # 200 ms, then 400 ms, then 800 ms at least (jitter only adds).
        gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
        for gap, least in zip(gaps, (0.2, 0.4, 0.8)):
            self.assertGreaterEqual(gap, least - 0.02, gaps)
        row = wait_until(lambda: [d for d in self.deliveries("flaky")
                                  if d["id"] == delivery and d["state"] == "delivered"],
                         what="the delivery recorded")[0]
        self.assertEqual(row["attempts"], 4)
        self.assertEqual(row["last_status"], 200)
        metrics = self.server.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_notifications_total{notifier="flaky",outcome="retried"} 3', metrics)
        self.assertIn('respaldo_notifications_total{notifier="flaky",outcome="delivered"} 1', metrics)
        self.assertIn("respaldo_notifications_pending 0", metrics)

    def test_a_410_disables_the_notifier(self):
        rx = self.receiver(default=410)
        self.create(name="gone", kind="webhook", url=rx.url())
        self.assertEqual(self.server.post("/api/notifiers/gone/test").status, 202)
        rx.got(1)
        view = wait_until(lambda: (lambda v: v if not v["enabled"] else None)(
            self.server.get("/api/notifiers/gone").json()), what="the notifier disabled")
        self.assertIn("410", view["disabled_reason"])
        row = wait_until(lambda: (lambda d: d if d["state"] == "failed" else None)(
            self.deliveries("gone")[0]), what="the delivery failed")
        self.assertEqual(row["last_status"], 410)
        # Nothing more is sent to it; a PATCH enabling it sends again.
        self.assertEqual(self.server.post("/api/notifiers/gone/test").status, 202)
        wait_until(lambda: self.deliveries("gone")[0]["state"] == "failed", what="given up")
        self.assertIn("disabled", self.deliveries("gone")[0]["last_error"])
        self.assertEqual(len(rx.snapshot()), 1)
        rx.default = 200
        r = self.server.request("PATCH", "/api/notifiers/gone", {"enabled": True})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["disabled_reason"])
        self.assertEqual(self.server.post("/api/notifiers/gone/test").status, 202)
        rx.got(2)

    def test_pending_deliveries_are_sent_after_a_restart(self):
        port = free_port()
        self.create(name="later", kind="webhook", url="http://127.0.0.1:%d/hook" % port,
                    secret=SECRET)
        delivery = self.server.post("/api/notifiers/later/test").json()["delivery_id"]
        wait_until(lambda: self.deliveries("later")[0]["attempts"] >= 1, what="a failed attempt")
        row = self.deliveries("later")[0]
        self.assertEqual(row["state"], "pending")
        self.assertIsNotNone(row["last_error"])
        self.assertEqual(self.server.stop(), 0)
        rx = self.receiver(port=port)
        self.server.start()
        reqs = rx.got(1)
        self.assertEqual(header(reqs[0], "X-Respaldo-Delivery"), delivery)
        wait_until(lambda: self.deliveries("later")[0]["state"] == "delivered", what="delivered")

    def test_a_long_answer_body_does_not_undo_a_2xx(self):
        rx = self.receiver(reply=b"x" * 100_000)
        self.create(name="chatty", kind="webhook", url=rx.url())
        self.assertEqual(self.server.post("/api/notifiers/chatty/test").status, 202)
        rx.got(1)
        row = wait_until(lambda: (lambda d: d if d["state"] != "pending" else None)(
            self.deliveries("chatty")[0]), what="the delivery finished")
        self.assertEqual(row["state"], "delivered")
        self.assertEqual(row["attempts"], 1)
        self.assertEqual(len(rx.snapshot()), 1)

    # -- the other kinds, and one failure event for a job of several attempts --------------------
    def test_slack_healthchecks_and_one_failure_event_per_job(self):
        slack, checks, hook = self.receiver(), self.receiver(), self.receiver()
        good, _ = start_app(self, self.server, "good")
        bad, _ = start_app(self, self.server, "bad", mode="error500", fail_count=1000)
        self.create(name="chat", kind="slack", url=slack.url("/services/T0/B0/slack-path-secret"))
        self.create(name="pings", kind="healthchecks", url=checks.url("/ping/uuid-1/"), apps=[good])
        self.create(name="pings-bad", kind="healthchecks", url=checks.url("/ping/uuid-2"),
                    apps=[bad])
        self.create(name="hook", kind="webhook", url=hook.url(), secret=SECRET)
        ok = self.server.run_backup(good)
        self.assertEqual(ok["state"], "succeeded", ok)
        failed = self.server.run_backup(bad)
        self.assertEqual(failed["state"], "failed", failed)
        self.assertEqual(failed["attempt"], 3)

        pings = checks.got(4)
        paths = sorted(p["path"] for p in pings)
        self.assertEqual(paths, ["/ping/uuid-1/", "/ping/uuid-1/start", "/ping/uuid-2/fail",
                                 "/ping/uuid-2/start"])
        fail = [p for p in pings if p["path"].endswith("/fail")][0]
        self.assertIn(failed["error"]["code"].encode(), fail["body"])

        text = json.loads(slack.got(1)[0]["body"])
        self.assertEqual(list(text), ["text"])
        self.assertIn("backup.failed %s: %s" % (bad, failed["error"]["code"]), text["text"])
        self.assertIn("http://127.0.0.1:%d/api/jobs/%s" % (self.server.port, failed["id"]),
                      text["text"])
        self.assertNotIn("\n", text["text"])

        events = [header(r, "X-Respaldo-Event") for r in hook.got(1)]
        self.assertEqual(events, ["backup.failed"])
        doc = json.loads(hook.snapshot()[0]["body"])
        self.assertEqual(doc["error"]["code"], failed["error"]["code"])
        # Every row is finished: nothing else is on its way (one failure event, one start ping).
        for n in ("chat", "pings", "pings-bad", "hook"):
            wait_until(lambda: all(d["state"] == "delivered" for d in self.deliveries(n)),
                       what="%s delivered" % n)
        self.assertEqual(len(self.deliveries("hook")), 1)
        self.assertEqual(len(self.deliveries("chat")), 1)
        self.assertEqual(len(checks.snapshot()), 4)
        self.assert_no_secrets(slack.snapshot() + checks.snapshot() + hook.snapshot())
        # A Slack hook's path is its secret: never shown nor logged.
        self.assertNotIn("slack-path-secret", self.server.get("/api/notifiers").body.decode())
        self.assertNotIn("slack-path-secret", self.server.log_text())

    def test_a_failing_notifier_shows_in_the_app_json_and_metrics(self):
        rx = self.receiver(default=500)
        name, _ = start_app(self, self.server, "watched")
        self.create(name="broken", kind="webhook", url=rx.url(), apps=[name],
                    events=["backup.succeeded"])
        self.assertEqual(self.server.get("/api/apps/" + name).json()["notifications"],
                         {"failing": []})
        self.assertEqual(self.server.run_backup(name)["state"], "succeeded")
        rx.got(1)
        wait_until(lambda: self.server.get("/api/apps/" + name).json()["notifications"]
                   == {"failing": ["broken"]}, what="the notifier listed as failing")
        metrics = self.server.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_notifications_total{notifier="broken",outcome="retried"}', metrics)
        self.assertIn("respaldo_notifications_pending 1", metrics)

    # -- the API's refusals --------------------------------------------------------------------------
    def test_validation_names_the_field_and_never_echoes_the_url(self):
        def refused(status, code, field, body, method="POST", path="/api/notifiers"):
            r = self.server.request(method, path, body)
            self.assertEqual(r.status, status, r)
            doc = r.json()
            self.assertEqual(r.header("content-type"), "application/problem+json")
            self.assertEqual(doc["code"], code, doc)
            if field:
                self.assertEqual(doc["field"], field, doc)
            self.assertNotIn("path-secret", doc["detail"])
            return doc

        url = "https://hooks.example.com/path-secret"
        refused(422, "validation_failed", "kind", {"name": "a", "kind": "email", "url": url})
        refused(422, "validation_failed", "url", {"name": "a", "kind": "slack", "url": "ftp://x/path-secret"})
        refused(422, "validation_failed", "url", {"name": "a", "kind": "slack"})
        refused(422, "validation_failed", "url",
                {"name": "a", "kind": "webhook", "url": "http://169.254.169.254/path-secret"})
        refused(422, "validation_failed", "url",
                {"name": "a", "kind": "webhook", "url": "http://127.0.0.1:%d/path-secret" % self.server.port})
        doc = refused(422, "validation_failed", "events",
                      {"name": "a", "kind": "webhook", "url": url, "events": ["backup.exploded"]})
        self.assertIn("backup.failed", doc["detail"])
        refused(422, "validation_failed", "events",
                {"name": "a", "kind": "healthchecks", "url": url, "events": ["verify.failed"]})
        refused(422, "validation_failed", "secret", {"name": "a", "kind": "slack", "url": url, "secret": "x"})
        refused(422, "validation_failed", "name", {"name": "Bad Name", "kind": "slack", "url": url})
        refused(422, "validation_failed", "colour", {"name": "a", "kind": "slack", "url": url, "colour": 1})
        created = self.create(name="a", kind="webhook", url=url)
        self.assertEqual(created["events"], ["backup.failed", "backup.stale", "backup.fresh_again",
                                             "verify.failed", "app.unhealthy", "app.healthy_again",
                                             "storage.quota", "retention.delete_failed"])
        self.assertIsNone(created["apps"])
        self.assertFalse(created["has_secret"])
        self.assertEqual(self.server.post("/api/notifiers", {"name": "a", "kind": "slack", "url": url}).json()["code"],
                         "notifier_exists")
        refused(422, "immutable_field", "name", {"name": "b"}, "PATCH", "/api/notifiers/a")
        refused(422, "immutable_field", "kind", {"kind": "slack"}, "PATCH", "/api/notifiers/a")
        refused(404, "notifier_not_found", None, {"events": ["backup.failed"]}, "PATCH", "/api/notifiers/zz")
        r = self.server.request("PATCH", "/api/notifiers/a", {"secret": SECRET, "apps": ["x"]})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["has_secret"])
        self.assertEqual(r.json()["apps"], ["x"])
        r = self.server.request("PATCH", "/api/notifiers/a", {"secret": None, "apps": None})
        self.assertFalse(r.json()["has_secret"])
        self.assertIsNone(r.json()["apps"])
        self.assertEqual(self.server.get("/api/notifiers", auth=False).status, 401)
        self.assertEqual(self.server.request("DELETE", "/api/notifiers/a").status, 204)
        self.assertEqual(self.server.get("/api/notifiers/a").status, 404)
        self.assertEqual(self.server.post("/api/notifiers/a/test").status, 404)
        self.assertEqual(self.server.get("/api/notifiers").json(), {"items": []})


class NotifyProbeTest(unittest.TestCase):
    """Probe transitions are events: one app.unhealthy per episode, then app.healthy_again."""

    def setUp(self):
        self.server = Respaldo(args=["--probe-interval", "300ms", "--notify-retry-base", "200ms"])
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def failed_probes(self):
        for line in self.server.get("/metrics", auth=False).body.decode().splitlines():
            if line.startswith('respaldo_app_probes_total{status="invalid"}'):
                return float(line.split()[-1])
        return 0

    def test_one_unhealthy_event_per_episode(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        r = self.server.post("/api/notifiers", {"name": "health", "kind": "webhook", "url": rx.url(),
                                                "events": ["app.unhealthy", "app.healthy_again"]})
        self.assertEqual(r.status, 201, r)
        name, app = start_app(self, self.server, "probed")
        wait_until(lambda: self.server.get("/api/apps/" + name).json()["health"]["status"] == "ok",
                   what="a good probe")
        app.set(mode="bad_version")
        first = rx.got(1)[0]
        doc = json.loads(first["body"])
        self.assertEqual(doc["event"], "app.unhealthy")
        self.assertEqual(doc["app"], name)
        self.assertEqual(doc["error"]["code"], "invalid")
        # Several more failing probes: still one event.
        wait_until(lambda: self.failed_probes() >= 3, what="three failed probes")
        self.assertEqual(len(rx.snapshot()), 1)
        app.set(mode="normal")
        back = rx.got(2)[1]
        self.assertEqual(json.loads(back["body"])["event"], "app.healthy_again")
        self.assertIsNone(json.loads(back["body"])["error"])


class NotifyStaleTest(unittest.TestCase):
    """Stale episodes are events: one backup.stale per episode, backup.fresh_again after it."""

    def setUp(self):
        self.server = Respaldo(args=["--notify-retry-base", "200ms", "--max-attempts", "1"])
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def test_one_stale_event_per_episode_then_fresh_again(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        r = self.server.post("/api/notifiers", {"name": "fresh", "kind": "webhook", "url": rx.url(),
                                                "secret": SECRET})
        self.assertEqual(r.status, 201, r)
        # The default events include both staleness events.
        self.assertIn("backup.stale", r.json()["events"])
        self.assertIn("backup.fresh_again", r.json()["events"])
        name, app = start_app(self, self.server, "stale")
        r = self.server.request("PATCH", "/api/apps/" + name, {"stale_after": "2s"})
        self.assertEqual(r.status, 200, r)
        first = json.loads(rx.got(1)[0]["body"])
        self.assertEqual(first["event"], "backup.stale")
        self.assertEqual(first["app"], name)
        self.assertEqual(first["error"]["code"], "stale")
        self.assertIn("no good backup yet", first["error"]["message"])
        a = self.server.get("/api/apps/" + name).json()
        self.assertEqual(first["at"], a["stale_since"])
        # Still stale a while later (the monitor wakes at least once a minute, and at each job
        # end): a failed backup changes nothing, and no second event comes.
        app.set(mode="wrong_checksum")
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "failed", job)
        self.assertTrue(self.server.get("/api/apps/" + name).json()["stale"])
        app.set(mode="normal")
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        # The defaults include backup.failed too; the staleness events are what this is about.
        def freshness_docs(n):
            wait_until(lambda: len(freshness_docs_now()) >= n, timeout=30,
                       what="%d staleness events" % n)
            return freshness_docs_now()

        def freshness_docs_now():
            docs = [json.loads(r["body"]) for r in rx.snapshot()]
            return [d for d in docs if d["event"] in ("backup.stale", "backup.fresh_again")]

        docs = freshness_docs(2)
        self.assertEqual([d["event"] for d in docs[:2]], ["backup.stale", "backup.fresh_again"])
        self.assertIsNone(docs[1]["error"])
        # 2 s after that backup the next episode begins, with its own single event.
        third = freshness_docs(3)[2]
        self.assertEqual(third["event"], "backup.stale")
        self.assertIn("no good backup since " + job["backup"]["created_at"],
                      third["error"]["message"])
        for req in rx.snapshot():
            expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
            self.assertEqual(header(req, "X-Respaldo-Signature"), expected)
        self.assertEqual([d["event"] for d in freshness_docs_now()],
                         ["backup.stale", "backup.fresh_again", "backup.stale"])


class NotifyTlsTest(unittest.TestCase):
    """https receivers go through the same verified TLS client as Drive and https apps."""

    def setUp(self):
        from drive_double import make_test_pki
        self.tmp = tempfile.mkdtemp(prefix="respaldo-notify-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = make_test_pki(os.path.join(self.tmp, "pki"))
        self.server = Respaldo(args=ARGS + ["--ca-file", self.pki["ca_cert"]]).start()
        self.addCleanup(self.server.cleanup)

    def test_https_webhook_is_verified_and_delivered(self):
        good = Receiver(tls=(self.pki["server_cert"], self.pki["server_key"]))
        self.addCleanup(good.stop)
        wrong = Receiver(tls=(self.pki["wrong_cert"], self.pki["wrong_key"]))
        self.addCleanup(wrong.stop)
        for name, rx in (("good", good), ("wrong", wrong)):
            r = self.server.post("/api/notifiers", {"name": name, "kind": "webhook",
                                                    "url": rx.url(), "secret": SECRET})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.server.post("/api/notifiers/%s/test" % name).status, 202)
        req = good.got(1)[0]
        self.assertEqual(header(req, "X-Respaldo-Signature"),
                         "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest())
        rows = lambda n: self.server.get("/api/notifiers/%s/deliveries" % n).json()["items"]  # noqa: E731
        wait_until(lambda: rows("good")[0]["state"] == "delivered", what="https delivered")
        # A certificate for another name is refused, never downgraded: the row keeps retrying.
        row = wait_until(lambda: (lambda d: d if d["attempts"] >= 1 else None)(rows("wrong")[0]),
                         what="a refused attempt")
        self.assertEqual(row["state"], "pending")
        self.assertIsNone(row["last_status"])
        self.assertIn("TLS", row["last_error"])
        self.assertEqual(wrong.snapshot(), [])


if __name__ == "__main__":
    unittest.main()
