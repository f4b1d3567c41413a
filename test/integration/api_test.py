"""Black-box tests of the foundation: the real `respaldo serve` binary over loopback HTTP.

Registration exactly as the integration guide says, every validation rule, authentication,
routing, request limits, request ids, health and metrics, persistence, graceful shutdown,
sealed app tokens, the admin token, start-up errors and the command line.
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

from harness import ADMIN_TOKEN, BIN, GUIDE_APP, Respaldo, raw_exchange, run_cli, serve_args

PROBLEM_KEYS = ("type", "title", "status", "detail", "code")


def read_until(sock, marker, timeout=15):
    """Reads from a socket until `marker` arrives (or EOF / the deadline), returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    while marker not in data and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class ServerCase(unittest.TestCase):
    """Shared helpers: problem+json checks and the scan for secrets in the captured log."""

    def assertProblem(self, r, status, code, field=None, detail_words=()):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "application/problem+json", r)
        p = r.json()
        for key in PROBLEM_KEYS:
            self.assertIn(key, p, r)
        self.assertEqual(p["status"], status)
        self.assertEqual(p["code"], code, r)
        self.assertEqual(p["type"], "urn:respaldo:problem:" + code)
        self.assertIsInstance(p["title"], str)
        self.assertTrue(p["title"])
        self.assertIsInstance(p["detail"], str)
        if field is not None:
            self.assertEqual(p.get("field"), field, r)
            self.assertIn(field, p["detail"], "detail does not name the field: %r" % r)
        for w in detail_words:
            self.assertIn(w, p["detail"], r)
        return p

    def assertNoSecrets(self, server, secrets):
        text = server.log_text()
        for s in secrets:
            if s:
                self.assertNotIn(s, text, "a secret reached the log")


class RegistrationTest(ServerCase):
    """One server for the registration, validation and protocol tests."""

    secrets = [ADMIN_TOKEN, GUIDE_APP["token"]]

    @classmethod
    def setUpClass(cls):
        cls.srv = Respaldo(admin_token=ADMIN_TOKEN).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        text = cls.srv.log_text()
        cls.srv.cleanup()
        for s in cls.secrets:
            assert s not in text, "a secret reached the log"

    def app(self, name, **overrides):
        body = dict(GUIDE_APP)
        body["name"] = name
        body.update(overrides)
        return body

    # -- the guide --------------------------------------------------------------------------
    def test_guide_registration_exactly(self):
        body = (
            b'{\n  "name": "mi-app",\n  "url": "http://mi-app:8000",\n  "token": "secreto-compartido",\n'
            b'  "drive_folder_id": "1AbC2dEfG3",\n  "schedule": "0 3 * * *",\n'
            b'  "retention": { "daily": 7, "weekly": 4 }\n}\n'
        )
        r = self.srv.post("/api/apps", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.json(), {"id": "mi-app", "status": "registered"})
        self.assertEqual(r.header("Location"), "/api/apps/mi-app")

        g = self.srv.get("/api/apps/mi-app")
        self.assertEqual(g.status, 200, g)
        app = g.json()
        self.assertNotIn("token", app)
        self.assertNotIn(b"secreto-compartido", g.body)
        self.assertIs(app["token_set"], True)
        self.assertEqual(app["id"], "mi-app")
        self.assertEqual(app["name"], "mi-app")
        self.assertEqual(app["url"], "http://mi-app:8000")
        self.assertEqual(app["drive_folder_id"], "1AbC2dEfG3")
        self.assertEqual(app["schedule"], "0 3 * * *")
        self.assertEqual(app["retention"], {"daily": 7, "weekly": 4})
        self.assertRegex(app["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        # The same name again is a conflict that says what to do instead.
        again = self.srv.post("/api/apps", GUIDE_APP)
        self.assertProblem(again, 409, "app_exists", field="name", detail_words=("mi-app", "PATCH"))

    def test_media_type_parameters_and_case_are_accepted(self):
        r = self.srv.post("/api/apps", self.app("ct-params"), content_type="Application/JSON; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    # -- list, patch, delete ----------------------------------------------------------------
    def test_list_paging_with_limit_and_cursor(self):
        names = ["pg-%d" % i for i in range(5)]
        for n in reversed(names):
            self.assertEqual(self.srv.post("/api/apps", self.app(n)).status, 201)
        seen = []
        cursor = None
        pages = 0
        while True:
            path = "/api/apps?limit=2" + ("&cursor=" + cursor if cursor else "")
            r = self.srv.get(path)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertLessEqual(len(page["items"]), 2)
            for item in page["items"]:
                self.assertNotIn("token", item)
                self.assertIs(item["token_set"], True)
            seen += [a["name"] for a in page["items"]]
            pages += 1
            self.assertLess(pages, 100)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(seen), "apps are listed by name")
        self.assertEqual(len(seen), len(set(seen)), "no app appears twice")
        self.assertTrue(set(names) <= set(seen))
        # Without a limit a page holds everything here (default 50).
        everything = self.srv.get("/api/apps").json()
        self.assertEqual([a["name"] for a in everything["items"]], seen)
        self.assertIsNone(everything["next_cursor"])

    def test_list_parameters_are_validated(self):
        for q in ("limit=0", "limit=501", "limit=abc", "limit=-1", "limit=2.5"):
            with self.subTest(q=q):
                self.assertProblem(self.srv.get("/api/apps?" + q), 400, "invalid_parameter", field="limit")
        self.assertProblem(self.srv.get("/api/apps?cursor=%21%21"), 400, "invalid_parameter", field="cursor")

    def test_patch_merges_and_keeps_the_rest(self):
        self.assertEqual(self.srv.post("/api/apps", self.app("patchy")).status, 201)
        r = self.srv.request("PATCH", "/api/apps/patchy", {"schedule": "30 4 * * *", "retention": {"monthly": 12}},
                             content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        app = r.json()
        self.assertEqual(app["schedule"], "30 4 * * *")
        self.assertEqual(app["retention"], {"daily": 7, "weekly": 4, "monthly": 12})
        self.assertEqual(app["url"], GUIDE_APP["url"])
        self.assertEqual(app["drive_folder_id"], GUIDE_APP["drive_folder_id"])
        self.assertIs(app["token_set"], True)
        self.assertNotIn("token", app)

        # A rule set to null is removed; the policy as a whole stays valid.
        r = self.srv.request("PATCH", "/api/apps/patchy", {"retention": {"weekly": None}})
        self.assertEqual(r.json()["retention"], {"daily": 7, "monthly": 12})
        r = self.srv.request("PATCH", "/api/apps/patchy", {"retention": {"daily": None, "monthly": None}})
        self.assertProblem(r, 422, "validation_failed", field="retention")
        self.assertEqual(self.srv.get("/api/apps/patchy").json()["retention"], {"daily": 7, "monthly": 12})

        # Optional fields: set and reset with null.
        r = self.srv.request("PATCH", "/api/apps/patchy", {"timezone": "Europe/Madrid", "verify_schedule": "0 5 * * 0"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["timezone"], "Europe/Madrid")
        self.assertEqual(r.json()["verify_schedule"], "0 5 * * 0")
        r = self.srv.request("PATCH", "/api/apps/patchy", {"timezone": None, "verify_schedule": None})
        self.assertEqual(r.json()["timezone"], "UTC")
        self.assertIsNone(r.json()["verify_schedule"])

        # The token can be replaced, never read back.
        r = self.srv.request("PATCH", "/api/apps/patchy", {"token": "otro-secreto-distinto"})
        self.secrets.append("otro-secreto-distinto")
        self.assertEqual(r.status, 200)
        self.assertNotIn(b"otro-secreto-distinto", r.body)

        # The name is immutable, whatever the value; a failed patch changes nothing.
        before = self.srv.get("/api/apps/patchy").json()
        for body in ({"name": "other"}, {"name": "patchy"}, {"name": "other", "schedule": "1 1 * * *"}):
            with self.subTest(body=body):
                self.assertProblem(self.srv.request("PATCH", "/api/apps/patchy", body), 422, "immutable_field", field="name")
        for body, field in (({"url": None}, "url"), ({"schedule": "nope"}, "schedule"), ({"url": "ftp://x/"}, "url"),
                            ({"retention": 5}, "retention"), ({"bogus": 1}, "bogus"), ({"token": ""}, "token"),
                            ({"schedule": "0 0 30 2 *"}, "schedule"), ({"schedule": "0 0 31 4 *"}, "schedule")):
            with self.subTest(body=body):
                self.assertProblem(self.srv.request("PATCH", "/api/apps/patchy", body), 422, "validation_failed", field=field)
        after = self.srv.get("/api/apps/patchy").json()
        # (health and next_run_at belong to the prober and the scheduler, which run meanwhile)
        registration = ("name", "url", "token_set", "drive_folder_id", "schedule", "timezone",
                        "verify_schedule", "retention", "created_at", "updated_at")
        self.assertEqual({k: before[k] for k in registration}, {k: after[k] for k in registration})

        self.assertProblem(self.srv.request("PATCH", "/api/apps/patchy", b"[1]"), 422, "validation_failed")
        self.assertProblem(self.srv.request("PATCH", "/api/apps/patchy", b"{"), 400, "malformed_json")
        self.assertProblem(self.srv.request("PATCH", "/api/apps/patchy", {}, content_type="text/plain"), 415,
                           "unsupported_media_type")
        self.assertProblem(self.srv.request("PATCH", "/api/apps/no-such-app", {"schedule": "1 1 * * *"}), 404,
                           "app_not_found", detail_words=("no-such-app",))

    def test_delete_then_gone(self):
        self.assertEqual(self.srv.post("/api/apps", self.app("doomed")).status, 201)
        r = self.srv.request("DELETE", "/api/apps/doomed")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertProblem(self.srv.get("/api/apps/doomed"), 404, "app_not_found", detail_words=("doomed",))
        self.assertProblem(self.srv.request("DELETE", "/api/apps/doomed"), 404, "app_not_found")
        names = [a["name"] for a in self.srv.get("/api/apps?limit=500").json()["items"]]
        self.assertNotIn("doomed", names)
        # The name is free again.
        self.assertEqual(self.srv.post("/api/apps", self.app("doomed")).status, 201)

    # -- validation (issue 2, item 7) ------------------------------------------------------------
    def test_every_validation_rule(self):
        no_daily = self.app("x")
        cases = [
            # (label, overrides or None to drop a field, field, words in detail)
            ("name 64 chars", {"name": "a" * 64}, "name", ("DNS label",)),
            ("name uppercase", {"name": "Mi-App"}, "name", ("DNS label",)),
            ("name leading dash", {"name": "-mi-app"}, "name", ("DNS label",)),
            ("name trailing dash", {"name": "mi-app-"}, "name", ()),
            ("name underscore", {"name": "mi_app"}, "name", ()),
            ("name dot", {"name": "mi.app"}, "name", ()),
            ("name empty", {"name": ""}, "name", ()),
            ("url relative", {"url": "/backup"}, "url", ("absolute",)),
            ("url no scheme", {"url": "mi-app:8000"}, "url", ("http",)),
            ("url ftp", {"url": "ftp://mi-app/"}, "url", ("http or https", "ftp")),
            ("url no host", {"url": "http:///export"}, "url", ("host",)),
            ("url empty authority", {"url": "http://"}, "url", ("host",)),
            ("url userinfo", {"url": "http://user:pw@mi-app:8000"}, "url", ("credentials",)),
            ("url fragment", {"url": "http://mi-app:8000/#frag"}, "url", ("fragment",)),
            ("url port too big", {"url": "http://mi-app:99999"}, "url", ("port",)),
            ("url port zero", {"url": "http://mi-app:0"}, "url", ("port",)),
            ("url spaces", {"url": "http://mi app:8000"}, "url", ()),
            ("token empty", {"token": ""}, "token", ("1 to 4096",)),
            ("token 4097 bytes", {"token": "t" * 4097}, "token", ("4096",)),
            ("drive_folder_id bad chars", {"drive_folder_id": "abc/def"}, "drive_folder_id", ("A-Z",)),
            ("drive_folder_id space", {"drive_folder_id": "abc def"}, "drive_folder_id", ()),
            ("drive_folder_id 257", {"drive_folder_id": "a" * 257}, "drive_folder_id", ("256",)),
            ("drive_folder_id empty", {"drive_folder_id": ""}, "drive_folder_id", ()),
            ("schedule invalid", {"schedule": "61 3 * * *"}, "schedule", ("cron", "minute")),
            ("schedule four fields", {"schedule": "0 3 * *"}, "schedule", ("5 fields",)),
            ("schedule words", {"schedule": "every day"}, "schedule", ()),
            ("schedule empty", {"schedule": ""}, "schedule", ()),
            ("verify_schedule invalid", {"verify_schedule": "0 25 * * *"}, "verify_schedule", ("cron",)),
            ("schedule 30 February", {"schedule": "0 0 30 2 *"}, "schedule", ("never fires", "400 years")),
            ("schedule 31 April", {"schedule": "0 0 31 4 *"}, "schedule", ("never fires", "400 years")),
            ("timezone unknown", {"timezone": "Mars/Olympus"}, "timezone", ("IANA",)),
            ("retention missing daily", {"retention": {"weekly": 4}}, "retention", ("daily",)),
            ("retention missing weekly", {"retention": {"daily": 7}}, "retention", ("weekly",)),
            ("retention negative", {"retention": {"daily": -1, "weekly": 4}}, "retention", ("daily", "0 to 10000")),
            ("retention above 10000", {"retention": {"daily": 7, "weekly": 10001}}, "retention", ("weekly", "10000")),
            ("retention all zero", {"retention": {"daily": 0, "weekly": 0}}, "retention", ("at least one",)),
            ("retention not an object", {"retention": [7, 4]}, "retention", ("object",)),
            ("retention a number", {"retention": 7}, "retention", ("object",)),
            ("retention unknown key", {"retention": {"daily": 7, "weekly": 4, "hourly": 24}}, "retention", ("hourly",)),
            ("retention string count", {"retention": {"daily": "7", "weekly": 4}}, "retention", ("daily",)),
            ("retention fractional", {"retention": {"daily": 1.5, "weekly": 4}}, "retention", ("daily",)),
            ("unknown top-level field", {"colour": "blue"}, "colour", ("unknown field",)),
            ("name a number", {"name": 5}, "name", ("string", "number")),
            ("url an object", {"url": {"host": "x"}}, "url", ("string",)),
            ("token null", {"token": None}, "token", ("string",)),
            ("schedule an array", {"schedule": ["0 3 * * *"]}, "schedule", ("string",)),
            ("drive_folder_id a bool", {"drive_folder_id": True}, "drive_folder_id", ("string",)),
            ("missing name", {"name": None, "_drop": "name"}, "name", ("missing",)),
            ("missing url", {"_drop": "url"}, "url", ("missing",)),
            ("missing token", {"_drop": "token"}, "token", ("missing",)),
            ("missing drive_folder_id", {"_drop": "drive_folder_id"}, "drive_folder_id", ("missing",)),
            ("missing schedule", {"_drop": "schedule"}, "schedule", ("missing",)),
            ("missing retention", {"_drop": "retention"}, "retention", ("missing",)),
        ]
        for i, (label, overrides, field, words) in enumerate(cases):
            with self.subTest(label):
                body = dict(no_daily)
                body["name"] = "v-%d" % i
                overrides = dict(overrides)
                drop = overrides.pop("_drop", None)
                body.update(overrides)
                if drop:
                    body.pop(drop, None)
                r = self.srv.post("/api/apps", body)
                self.assertProblem(r, 422, "validation_failed", field=field, detail_words=words)
        # None of them was registered.
        names = [a["name"] for a in self.srv.get("/api/apps?limit=500").json()["items"]]
        self.assertFalse([n for n in names if n.startswith("v-")])

    def test_boundaries_that_are_valid(self):
        ok = [
            {"name": "a" * 63},
            {"name": "a"},
            {"name": "0-9"},
            {"token": "t" * 4096},
            {"token": "ñ"},
            {"drive_folder_id": "A" * 256},
            {"drive_folder_id": "a-B_9"},
            {"url": "https://mi-app.internal:8443/base?x=1"},
            {"url": "http://10.0.0.5"},
            {"url": "http://[::1]:8000"},
            {"url": "HTTP://MI-APP:8000"},
            {"schedule": "@daily"},
            {"schedule": "*/15 1-5 * JAN-MAR MON"},
            {"schedule": "0 0 31 2 1"},  # both day fields restricted: Mondays of February
            {"retention": {"daily": 0, "weekly": 1}},
            {"retention": {"daily": 10000, "weekly": 10000, "monthly": 0, "yearly": 3, "last": 2}},
            {"timezone": "Europe/Madrid"},
            {"verify_schedule": "0 5 * * 0"},
        ]
        for i, overrides in enumerate(ok):
            with self.subTest(overrides=str(overrides)[:80]):
                body = self.app("ok-%d" % i)
                body.update(overrides)
                r = self.srv.post("/api/apps", body)
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.header("Location"), "/api/apps/" + body["name"])

    def test_body_level_errors(self):
        p = self.assertProblem(self.srv.post("/api/apps", b'{"name": "mi-app",'), 400, "malformed_json")
        self.assertIn("JSON", p["detail"])
        self.assertProblem(self.srv.post("/api/apps", b""), 400, "malformed_json")
        self.assertProblem(self.srv.post("/api/apps", b"name=mi-app"), 400, "malformed_json")
        # Invalid UTF-8 inside a string, and a lone surrogate escape.
        bad = json.dumps(self.app("utf")).encode().replace(b"secreto", b"secr\xffto")
        p = self.assertProblem(self.srv.post("/api/apps", bad), 400, "malformed_json")
        self.assertIn("UTF-8", p["detail"])
        self.assertProblem(self.srv.post("/api/apps", b'{"name": "\xc3\x28"}'), 400, "malformed_json")
        # Not an object.
        for body in (b"[]", b'"mi-app"', b"42", b"null"):
            with self.subTest(body=body):
                self.assertProblem(self.srv.post("/api/apps", body), 422, "validation_failed")
        # Wrong or missing Content-Type: 415 naming what is expected.
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
            with self.subTest(ct=ct):
                p = self.assertProblem(self.srv.post("/api/apps", self.app("ct"), content_type=ct), 415, "unsupported_media_type")
                self.assertIn("application/json", p["detail"])
        self.assertProblem(self.srv.post("/api/apps", self.app("ct"), content_type=None), 415, "unsupported_media_type")
        self.assertEqual(self.srv.get("/api/apps/ct").status, 404)

    # -- auth -------------------------------------------------------------------------------
    def test_authentication(self):
        for auth in (False, "wrong-token-0123456789", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
            for method, path in (("GET", "/api/apps"), ("POST", "/api/apps"), ("GET", "/api/apps/mi-app"),
                                 ("DELETE", "/api/apps/mi-app"), ("GET", "/api/jobs"), ("PUT", "/api/apps"),
                                 ("GET", "/api/no-such-thing")):
                with self.subTest(auth=bool(auth), method=method, path=path):
                    r = self.srv.request(method, path, GUIDE_APP if method == "POST" else None, auth=auth)
                    p = self.assertProblem(r, 401, "unauthorized")
                    self.assertTrue(r.header("WWW-Authenticate").startswith("Bearer"), r.headers)
                    self.assertNotIn(ADMIN_TOKEN, json.dumps(p))
        # Other schemes and malformed headers.
        for value in ("Basic " + ADMIN_TOKEN, ADMIN_TOKEN, "Bearer", "Bearer ", "Token " + ADMIN_TOKEN):
            with self.subTest(value=value):
                r = self.srv.get("/api/apps", auth=False, headers={"Authorization": value})
                self.assertProblem(r, 401, "unauthorized")
                self.assertTrue(r.header("WWW-Authenticate").startswith("Bearer"))
        # The scheme is case-insensitive (RFC 9110).
        r = self.srv.get("/api/apps", auth=False, headers={"Authorization": "bearer " + ADMIN_TOKEN})
        self.assertEqual(r.status, 200, r)
        # A refused write changed nothing.
        self.assertEqual(self.srv.get("/api/apps/unauth-probe").status, 404)

    def test_open_routes(self):
        r = self.srv.get("/healthz", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        r = self.srv.get("/readyz", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ready"})
        r = self.srv.get("/metrics", auth=False)
        self.assertEqual(r.status, 200)

    def test_metrics_are_prometheus_text(self):
        self.srv.get("/api/apps")
        r = self.srv.get("/metrics", auth=False)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.headers)
        text = r.body.decode("utf-8")
        self.assertTrue(text.endswith("\n"))
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$')
        types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.assertIn(kind, ("counter", "gauge", "histogram", "summary", "untyped"))
                types[name] = kind
            elif line.startswith("# HELP ") or not line:
                continue
            else:
                self.assertRegex(line, sample)
        self.assertEqual(types.get("respaldo_store_call_seconds_max"), "gauge")
        self.assertEqual(types.get("respaldo_store_calls_total"), "counter")
        m = re.search(r"^respaldo_store_calls_total (\d+)$", text, re.M)
        self.assertTrue(m and int(m.group(1)) > 0, text)
        m = re.search(r"^respaldo_store_call_seconds_max ([0-9.e+-]+)$", text, re.M)
        self.assertTrue(m)
        self.assertGreaterEqual(float(m.group(1)), 0.0)
        self.assertLess(float(m.group(1)), 5.0, "a store call took seconds")
        # Requests are counted by route pattern, not by raw path.
        self.assertEqual(types.get("respaldo_http_requests_total"), "counter")
        m = re.search(r'^respaldo_http_requests_total\{method="GET",route="/api/apps",status="200"\} (\d+)$', text, re.M)
        self.assertTrue(m and int(m.group(1)) >= 1, text)
        self.srv.get("/api/apps/metrics-probe-app")
        text = self.srv.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_http_requests_total{method="GET",route="/api/apps/{id}",status="404"}', text)
        self.assertNotIn("metrics-probe-app", text)

    # -- routing ----------------------------------------------------------------------------
    def test_404_and_405(self):
        self.assertProblem(self.srv.get("/nope"), 404, "not_found", detail_words=("/nope",))
        self.assertProblem(self.srv.get("/nope", auth=False), 404, "not_found")
        self.assertProblem(self.srv.get("/api/nope"), 404, "not_found")
        self.assertProblem(self.srv.get("/api/apps/a/b/c"), 404, "not_found")
        # A trailing slash is another path.
        self.assertProblem(self.srv.get("/api/apps/"), 404, "not_found")
        self.assertProblem(self.srv.get("/healthz/"), 404, "not_found")
        cases = [
            ("PUT", "/api/apps/mi-app", {"GET", "PATCH", "DELETE"}),
            ("POST", "/api/apps/mi-app", {"GET", "PATCH", "DELETE"}),
            ("DELETE", "/api/apps", {"GET", "POST"}),
            ("PATCH", "/api/apps", {"GET", "POST"}),
            ("GET", "/api/jobs/abc/cancel", {"POST"}),
            # DELETE /api/backups/{id} is a route of its own now (one backup deleted).
            ("PUT", "/api/backups/abc", {"GET", "DELETE"}),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = self.srv.request(method, path)
                self.assertProblem(r, 405, "method_not_allowed", detail_words=(method,))
                self.assertEqual({m.strip() for m in r.header("Allow").split(",")}, allowed)
        # Open routes answer 405 without a token.
        for method in ("POST", "DELETE", "HEAD"):
            with self.subTest(method=method):
                r = self.srv.request(method, "/healthz", auth=False)
                self.assertEqual(r.status, 405)
                self.assertEqual(r.header("Allow"), "GET")
        # Under /api the token is checked first: no routing information without it.
        self.assertProblem(self.srv.request("PUT", "/api/apps/mi-app", auth=False), 401, "unauthorized")

    # -- limits -----------------------------------------------------------------------------
    def test_body_over_one_mib_is_413(self):
        big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
        r = self.srv.post("/api/apps", big)
        self.assertProblem(r, 413, "body_too_large")
        self.assertIn("1048576", r.json()["detail"])
        # Refused by its Content-Length alone, before the body is sent.
        head = ("POST /api/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (ADMIN_TOKEN, 5 * 1024 * 1024)).encode()
        answer = raw_exchange(self.srv.port, head)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
        self.assertIn(b"application/problem+json", answer)
        # Exactly at the limit is still read (and then judged as JSON).
        at_limit = b'"' + b"a" * (1024 * 1024 - 2) + b'"'
        self.assertEqual(len(at_limit), 1024 * 1024)
        self.assertProblem(self.srv.post("/api/apps", at_limit), 422, "validation_failed")
        # The server is fine afterwards.
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def test_chunked_body_over_the_limit_is_413(self):
        chunk = b"a" * 65536
        parts = [b"POST /api/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode() +
                 b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"]
        for _ in range(20):
            parts.append(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        parts.append(b"0\r\n\r\n")
        answer = raw_exchange(self.srv.port, b"".join(parts))
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])

    def test_header_over_16_kib_is_431(self):
        r = self.srv.get("/healthz", headers={"X-Padding": "p" * (17 * 1024)})
        self.assertProblem(r, 431, "header_fields_too_large")
        r = self.srv.get("/healthz", headers={"X-Padding": "p" * (300 * 1024)})
        self.assertEqual(r.status, 431)
        # Many small fields count too.
        r = self.srv.get("/healthz", headers={"X-F%d" % i: "v" * 100 for i in range(200)})
        self.assertEqual(r.status, 431)
        # Below the limit is fine.
        r = self.srv.get("/healthz", headers={"X-Padding": "p" * (12 * 1024)})
        self.assertEqual(r.status, 200)

    def test_malformed_http_is_400(self):
        answer = raw_exchange(self.srv.port, b"THIS IS NOT HTTP\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer[:200])
        self.assertIn(b"application/problem+json", answer)

    # -- request ids and the access log ---------------------------------------------------------
    def test_request_id_echoed_and_generated(self):
        r = self.srv.get("/healthz", headers={"X-Request-Id": "trace-abc.123:x_y"})
        self.assertEqual(r.header("X-Request-Id"), "trace-abc.123:x_y")
        r1 = self.srv.get("/healthz")
        r2 = self.srv.get("/healthz")
        for r in (r1, r2):
            self.assertRegex(r.header("X-Request-Id") or "", r"^[0-9a-f]{16}$")
        self.assertNotEqual(r1.header("X-Request-Id"), r2.header("X-Request-Id"))
        # An id unfit for logs is replaced rather than echoed.
        for bad in ("has space", "x" * 200, "quote\"d", "semi;colon"):
            with self.subTest(bad=bad):
                r = self.srv.get("/healthz", headers={"X-Request-Id": bad})
                self.assertNotEqual(r.header("X-Request-Id"), bad)
                self.assertRegex(r.header("X-Request-Id"), r"^[0-9a-f]{16}$")
        # Errors carry it too, and each request leaves one access line with its id.
        r = self.srv.get("/api/apps/none-such", headers={"X-Request-Id": "err-trace-42"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("X-Request-Id"), "err-trace-42")
        r = self.srv.get("/api/apps", auth=False, headers={"X-Request-Id": "unauth-trace-43"})
        self.assertEqual(r.header("X-Request-Id"), "unauth-trace-43")
        self.srv.wait_log("unauth-trace-43", timeout=10)
        lines = [l for l in self.srv.log_text().splitlines() if "request_id=err-trace-42" in l and " request " in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("status=404", lines[0])
        self.assertIn("method=GET", lines[0])
        self.assertIn("path=/api/apps/none-such", lines[0])

    def test_head_gets_no_body(self):
        # A 405 to HEAD must not carry a body, or the next response on the connection is garbled.
        conn = self.srv.connection()
        try:
            conn.request("HEAD", "/healthz")
            r = conn.getresponse()
            self.assertEqual(r.status, 405)
            self.assertEqual(r.read(), b"")
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.read()), {"status": "ok"})
        finally:
            conn.close()

    def test_keep_alive_serves_several_requests(self):
        conn = self.srv.connection()
        try:
            for _ in range(5):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
            conn.request("GET", "/api/apps", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        finally:
            conn.close()


class PersistenceAndShutdownTest(ServerCase):
    def test_data_survives_a_restart(self):
        with Respaldo(admin_token=ADMIN_TOKEN) as srv:
            srv.register()
            srv.register(name="second", retention={"daily": 1, "weekly": 0, "yearly": 2})
            self.assertEqual(srv.request("PATCH", "/api/apps/second", {"schedule": "@weekly"}).status, 200)
            self.assertEqual(srv.post("/api/apps", dict(GUIDE_APP, name="gone")).status, 201)
            self.assertEqual(srv.request("DELETE", "/api/apps/gone").status, 204)
            before = srv.get("/api/apps").json()["items"]
            self.assertEqual(srv.stop(), 0)
            srv.start()
            after = srv.get("/api/apps").json()["items"]
            self.assertEqual([a["name"] for a in after], ["mi-app", "second"])
            registration = ("name", "url", "token_set", "drive_folder_id", "schedule", "timezone",
                            "verify_schedule", "retention", "created_at", "updated_at")
            self.assertEqual([{k: a[k] for k in registration} for a in before],
                             [{k: a[k] for k in registration} for a in after])
            second = srv.get("/api/apps/second").json()
            self.assertEqual(second["schedule"], "@weekly")
            self.assertEqual(second["retention"], {"daily": 1, "yearly": 2})
            self.assertIs(second["token_set"], True)
            self.assertEqual(srv.stop(), 0)
            self.assertNoSecrets(srv, [ADMIN_TOKEN, GUIDE_APP["token"]])

    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig), Respaldo(admin_token=ADMIN_TOKEN) as srv:
                self.assertEqual(srv.get("/healthz").status, 200)
                started = time.time()
                self.assertEqual(srv.stop(sig, timeout=20), 0)
                self.assertLess(time.time() - started, 15)
                self.assertTrue(srv.wait_log("shutting down"), "shutting down")
                self.assertTrue(srv.wait_log("stopped"), "stopped")

    def test_graceful_shutdown_finishes_in_flight_requests(self):
        with Respaldo(admin_token=ADMIN_TOKEN) as srv:
            # An idle keep-alive connection: it must not hold the shutdown back.
            idle = srv.connection(timeout=20)
            idle.request("GET", "/healthz")
            resp = idle.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)

            # A request in flight: the server has read its header (it answered 100 Continue), the
            # body is still on its way.
            body = json.dumps(dict(GUIDE_APP, name="in-flight")).encode()
            busy = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            busy.sendall(("POST /api/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                          "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                          % (ADMIN_TOKEN, len(body))).encode())
            self.assertIn(b"100 Continue", read_until(busy, b"\r\n\r\n"))
            busy.sendall(body[:10])

            srv.proc.send_signal(signal.SIGTERM)
            # New connections are refused once the listener is closed.
            deadline = time.time() + 10
            refused = False
            while time.time() < deadline and not refused:
                try:
                    socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
                    time.sleep(0.05)
                except OSError:
                    refused = True
            self.assertTrue(refused, "still accepting after SIGTERM")
            # The idle connection is closed (EOF), the process still waits for the busy one.
            idle.sock.settimeout(10)
            self.assertEqual(idle.sock.recv(1024), b"")
            idle.close()
            self.assertIsNone(srv.proc.poll(), "exited before the in-flight request finished")

            busy.sendall(body[10:])
            answer = read_until(busy, b"registered", timeout=15)
            busy.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 201 "), answer[:300])
            self.assertIn(b"Connection: close", answer)
            self.assertEqual(srv.proc.wait(20), 0)

            # What it accepted before stopping was kept.
            srv.start()
            self.assertEqual(srv.get("/api/apps/in-flight").status, 200)
            self.assertEqual(srv.stop(), 0)

    def test_shutdown_deadline_bounds_a_stuck_client(self):
        with Respaldo(admin_token=ADMIN_TOKEN, args=["--shutdown-grace", "1s"]) as srv:
            stuck = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            stuck.sendall(("POST /api/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                           "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"
                           % ADMIN_TOKEN).encode())
            self.assertIn(b"100 Continue", read_until(stuck, b"\r\n\r\n"))
            started = time.time()
            self.assertEqual(srv.stop(signal.SIGTERM, timeout=20), 0)
            self.assertLess(time.time() - started, 12)
            stuck.close()


class TimeoutTest(ServerCase):
    def test_read_timeout_answers_408_and_idle_connections_close(self):
        with Respaldo(admin_token=ADMIN_TOKEN, args=["--request-timeout", "1s"]) as srv:
            cases = [
                (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", "header"),
                (b"POST /api/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{", "body"),
            ]
            for data, label in cases:
                with self.subTest(label):
                    started = time.time()
                    answer = raw_exchange(srv.port, data, timeout=20)
                    self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:200])
                    self.assertIn(b"request_timeout", answer)
                    self.assertIn(b"Connection: close", answer)
                    self.assertLess(time.time() - started, 15)
            # A connection that never sends anything is closed without an answer.
            self.assertEqual(raw_exchange(srv.port, b"", timeout=20), b"")
            self.assertEqual(srv.get("/healthz").status, 200)
            self.assertEqual(srv.stop(), 0)


class SealedTokenTest(ServerCase):
    CANARY = "canary-Zq7vX2pL9kR4wT8y-secreto"

    def test_token_is_sealed_at_rest(self):
        with Respaldo(admin_token=ADMIN_TOKEN) as srv:
            srv.register(name="sealed-app", token=self.CANARY)
            srv.register(name="other-app", token=self.CANARY + "-2")
            # Update paths seal too.
            r = srv.request("PATCH", "/api/apps/other-app", {"token": self.CANARY + "-3"})
            self.assertEqual(r.status, 200)
            self.assertEqual(srv.stop(), 0)

            key = os.path.join(srv.data_dir, "secret.key")
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
            found_db = False
            for name in os.listdir(srv.data_dir):
                if not name.startswith("respaldo.db"):
                    continue
                found_db = True
                with open(os.path.join(srv.data_dir, name), "rb") as f:
                    data = f.read()
                for needle in (self.CANARY, "Zq7vX2pL9kR4wT8y"):
                    self.assertNotIn(needle.encode(), data, name)
                    self.assertNotIn(needle.encode("utf-16-le"), data, name)
            self.assertTrue(found_db)
            # The store holds something in the token column, not the token.
            with sqlite3.connect(os.path.join(srv.data_dir, "respaldo.db")) as db:
                sealed = dict(db.execute("SELECT name, token_sealed FROM apps").fetchall())
            db.close()
            self.assertEqual(set(sealed), {"sealed-app", "other-app"})
            for v in sealed.values():
                self.assertTrue(v)
                self.assertNotIn("canary", v)
            self.assertNotEqual(sealed["sealed-app"], sealed["other-app"])
            self.assertNoSecrets(srv, [ADMIN_TOKEN, self.CANARY])

            # With another key the app stays visible but its token is unusable until replaced.
            os.chmod(key, 0o600)
            with open(key, "w") as f:
                f.write("ab" * 32 + "\n")
            srv.start()
            r = srv.get("/api/apps/sealed-app")
            self.assertEqual(r.status, 200, r)
            self.assertIs(r.json()["token_set"], False)
            self.assertTrue(srv.wait_log("cannot be opened"), "cannot be opened")
            r = srv.request("PATCH", "/api/apps/sealed-app", {"token": "fresh-token-value"})
            self.assertEqual(r.status, 200, r)
            self.assertIs(r.json()["token_set"], True)
            self.assertEqual(srv.stop(), 0)
            self.assertNoSecrets(srv, [ADMIN_TOKEN, self.CANARY, "fresh-token-value"])

    def test_secret_key_file_flag(self):
        d = tempfile.mkdtemp(prefix="respaldo-key-")
        key = os.path.join(d, "app-tokens.key")
        with open(key, "w") as f:
            f.write("0f" * 32 + "\n")
        os.chmod(key, 0o600)
        srv = Respaldo(admin_token=ADMIN_TOKEN, args=["--secret-key-file", key])
        try:
            srv.start()
            srv.register(token=self.CANARY)
            self.assertFalse(os.path.exists(os.path.join(srv.data_dir, "secret.key")))
            self.assertEqual(srv.stop(), 0)
            srv.start()
            self.assertIs(srv.get("/api/apps/mi-app").json()["token_set"], True)
            self.assertEqual(srv.stop(), 0)
            self.assertNotIn("0f0f0f0f", srv.log_text())
            # A named key file is never generated: a missing one stops the start.
            os.unlink(key)
            r = run_cli(serve_args(srv.data_dir, "--secret-key-file", key),
                        env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(key.encode(), r.stderr)
        finally:
            srv.cleanup()
            shutil.rmtree(d, ignore_errors=True)

    def test_key_file_open_to_others_is_refused(self):
        d = tempfile.mkdtemp(prefix="respaldo-test-")
        key = os.path.join(d, "secret.key")
        with open(key, "w") as f:
            f.write("cd" * 32 + "\n")
        os.chmod(key, 0o644)
        try:
            r = run_cli(serve_args(d), env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(key.encode(), r.stderr)
            self.assertNotIn(b"cdcdcdcd", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class AdminTokenTest(ServerCase):
    def test_generated_admin_token(self):
        srv = Respaldo(admin_token=None)
        try:
            srv.start()
            path = os.path.join(srv.data_dir, "admin-token")
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            token = srv.admin_token
            self.assertGreaterEqual(len(token), 32)
            log = srv.log_text()
            self.assertIn(path, log)
            self.assertNotIn(token, log)
            self.assertEqual(srv.get("/api/apps").status, 200)
            self.assertEqual(srv.get("/api/apps", auth="not-" + token).status, 401)
            # A restart reuses the file.
            self.assertEqual(srv.stop(), 0)
            srv.admin_token = None
            srv.start()
            self.assertEqual(srv.admin_token, token)
            self.assertEqual(srv.get("/api/apps").status, 200)
            self.assertEqual(srv.stop(), 0)
            self.assertNotIn(token, srv.log_text())
            self.assertEqual(stat.S_IMODE(os.stat(srv.data_dir).st_mode), 0o700)
        finally:
            srv.cleanup()

    def test_admin_token_file_flag_wins_over_env(self):
        d = tempfile.mkdtemp(prefix="respaldo-token-")
        path = os.path.join(d, "token")
        file_token = "file-admin-token-ABCDEFGHIJ0123"
        with open(path, "w") as f:
            f.write(file_token + "\n")
        os.chmod(path, 0o600)
        srv = Respaldo(admin_token="env-admin-token-0123456789abc", args=["--admin-token-file", path])
        try:
            srv.start()
            self.assertEqual(srv.get("/api/apps", auth=file_token).status, 200)
            self.assertEqual(srv.get("/api/apps", auth="env-admin-token-0123456789abc").status, 401)
            self.assertFalse(os.path.exists(os.path.join(srv.data_dir, "admin-token")))
            self.assertTrue(srv.wait_log(path), path)
            self.assertEqual(srv.stop(), 0)
            self.assertNoSecrets(srv, [file_token, "env-admin-token-0123456789abc"])
        finally:
            srv.cleanup()
            shutil.rmtree(d, ignore_errors=True)

    def test_bad_admin_tokens_refuse_to_start(self):
        d = tempfile.mkdtemp(prefix="respaldo-token-")
        short = os.path.join(d, "short")
        with open(short, "w") as f:
            f.write("tiny\n")
        try:
            r = run_cli(serve_args(d, "--admin-token-file", short))
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(b"16", r.stderr)
            self.assertNotIn(b"tiny", r.stderr)
            r = run_cli(serve_args(d, "--admin-token-file", os.path.join(d, "missing")))
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(b"missing", r.stderr)
            r = run_cli(serve_args(d), env={"RESPALDO_ADMIN_TOKEN": "short"})
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(b"RESPALDO_ADMIN_TOKEN", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class StartupErrorTest(ServerCase):
    def serve_once(self, data_dir):
        return run_cli(serve_args(data_dir), env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})

    def test_not_a_database(self):
        for content in (b"this is not a database\n" * 200, b"short junk"):
            with self.subTest(size=len(content)):
                d = tempfile.mkdtemp(prefix="respaldo-test-")
                try:
                    with open(os.path.join(d, "respaldo.db"), "wb") as f:
                        f.write(content)
                    r = self.serve_once(d)
                    self.assertEqual(r.returncode, 1, r)
                    self.assertIn(b"not a SQLite database", r.stderr)
                    self.assertIn(b"respaldo.db", r.stderr)
                    # The file was left as it was.
                    with open(os.path.join(d, "respaldo.db"), "rb") as f:
                        self.assertEqual(f.read(), content)
                finally:
                    shutil.rmtree(d, ignore_errors=True)

    def test_schema_newer_than_the_binary(self):
        d = tempfile.mkdtemp(prefix="respaldo-test-")
        try:
            db = sqlite3.connect(os.path.join(d, "respaldo.db"))
            db.execute("CREATE TABLE future (x INTEGER)")
            db.execute("PRAGMA user_version = 99")
            db.commit()
            db.close()
            r = self.serve_once(d)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(b"99", r.stderr)
            self.assertIn(b"newer", r.stderr)
            self.assertIn(b"store_schema_too_new", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_data_dir_that_is_a_file(self):
        fd, path = tempfile.mkstemp(prefix="respaldo-notdir-")
        os.close(fd)
        try:
            r = self.serve_once(path)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(path.encode(), r.stderr)
        finally:
            os.unlink(path)

    def test_address_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            d = tempfile.mkdtemp(prefix="respaldo-test-")
            try:
                r = run_cli(["serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", d],
                            env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
                self.assertEqual(r.returncode, 1, r)
                self.assertIn(str(port).encode(), r.stderr)
            finally:
                shutil.rmtree(d, ignore_errors=True)


class CommandLineTest(ServerCase):
    def test_help_and_version(self):
        r = run_cli(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"serve", r.stdout)
        self.assertIn(b"cron next", r.stdout)
        r = run_cli(["serve", "--help"])
        self.assertEqual(r.returncode, 0, r)
        for flag in (b"--listen", b"--data-dir", b"--admin-token-file", b"--log-format", b"--config",
                     b"--secret-key-file", b"RESPALDO_"):
            self.assertIn(flag, r.stdout)
        r = run_cli(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^respaldo \d+\.\d+\.\d+")
        r = run_cli([])
        self.assertEqual(r.returncode, 2)
        r = run_cli(["frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"frobnicate", r.stderr)

    def test_wrong_flags_and_values_exit_2_naming_them(self):
        d = tempfile.mkdtemp(prefix="respaldo-test-")
        cases = [
            (["--bogus"], "--bogus"),
            (["--listen", "nonsense"], "--listen"),
            (["--listen", "127.0.0.1:70000"], "--listen"),
            (["--listen", "127.0.0.1:port"], "--listen"),
            (["--log-format", "xml"], "--log-format"),
            (["--log-level", "loud"], "--log-level"),
            (["--max-attempts", "abc"], "--max-attempts"),
            (["--max-attempts", "0"], "--max-attempts"),
            (["--shutdown-grace", "5x"], "--shutdown-grace"),
            (["--request-timeout", "0s"], "--request-timeout"),
            (["--max-body-bytes", "12XB"], "--max-body-bytes"),
            (["--chunk-size", "100KiB"], "--chunk-size"),
            (["--storage", "tape"], "--storage"),
            (["--config", os.path.join(d, "missing.conf")], "--config"),
            (["--listen"], "--listen"),
            (["extra-positional"], "extra-positional"),
        ]
        try:
            for args, name in cases:
                with self.subTest(args=args):
                    r = run_cli(["serve", "--data-dir", d] + args, env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
                    self.assertEqual(r.returncode, 2, r)
                    self.assertIn(name.encode(), r.stderr)
                    self.assertEqual(r.stdout, b"")
            # Nothing was started or created for a refused command line.
            self.assertEqual(os.listdir(d), [])
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_environment_variables(self):
        # RESPALDO_LOG_FORMAT works like --log-format.
        with Respaldo(admin_token=ADMIN_TOKEN, env={"RESPALDO_LOG_FORMAT": "json"}) as srv:
            lines = [l for l in srv.log_text().splitlines() if l.strip()]
            self.assertTrue(lines)
            for l in lines:
                json.loads(l)
            self.assertEqual(srv.stop(), 0)
        # The flag wins over the environment.
        with Respaldo(admin_token=ADMIN_TOKEN, env={"RESPALDO_LOG_FORMAT": "json"}, args=["--log-format", "text"]) as srv:
            self.assertFalse(srv.log_text().lstrip().startswith("{"))
        # A bad value from the environment is refused like a bad flag.
        d = tempfile.mkdtemp(prefix="respaldo-test-")
        try:
            for var, value, name in (("RESPALDO_LOG_FORMAT", "xml", "log-format"),
                                     ("RESPALDO_MAX_ATTEMPTS", "lots", "max-attempts"),
                                     ("RESPALDO_LISTEN", "nowhere", "listen")):
                with self.subTest(var=var):
                    r = run_cli(["serve", "--data-dir", d], env={var: value, "RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
                    self.assertEqual(r.returncode, 2, r)
                    self.assertIn(name.encode(), r.stderr)
            # RESPALDO_DATA_DIR and RESPALDO_LISTEN place the server.
            data = os.path.join(d, "from-env")
            p = subprocess.Popen([BIN, "serve"], env=dict(os.environ, RESPALDO_DATA_DIR=data,
                                                          RESPALDO_LISTEN="127.0.0.1:0",
                                                          RESPALDO_ADMIN_TOKEN=ADMIN_TOKEN),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                line = b""
                deadline = time.time() + 15
                while b"listening" not in line and time.time() < deadline:
                    line = p.stderr.readline()
                    if not line:
                        break
                self.assertIn(b"listening address=127.0.0.1:", line)
                self.assertTrue(os.path.exists(os.path.join(data, "respaldo.db")))
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(20), 0)
                p.stderr.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_config_file(self):
        d = tempfile.mkdtemp(prefix="respaldo-test-")
        conf = os.path.join(d, "respaldo.conf")
        try:
            with open(conf, "w") as f:
                f.write("# respaldo settings\nlog-format = json\nmax-attempts = 5\n")
            with Respaldo(admin_token=ADMIN_TOKEN, args=["--config", conf]) as srv:
                self.assertTrue(srv.log_text().lstrip().startswith("{"), srv.log_text()[:200])
            # The environment wins over the file, the flag over both.
            with Respaldo(admin_token=ADMIN_TOKEN, args=["--config", conf], env={"RESPALDO_LOG_FORMAT": "text"}) as srv:
                self.assertFalse(srv.log_text().lstrip().startswith("{"))
            with open(conf, "w") as f:
                f.write("no-such-option = 1\n")
            r = run_cli(["serve", "--config", conf, "--data-dir", d], env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
            self.assertEqual(r.returncode, 2, r)
            self.assertIn(b"no-such-option", r.stderr)
            with open(conf, "w") as f:
                f.write("log-format = yaml\n")
            r = run_cli(["serve", "--config", conf, "--data-dir", d], env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
            self.assertEqual(r.returncode, 2, r)
            self.assertIn(b"log-format", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_cron_next(self):
        r = run_cli(["cron", "next", "0 3 * * *", "-n", "3", "--after", "2026-11-29T12:00:00Z"])
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout.decode().splitlines(),
                         ["2026-11-30T03:00:00Z", "2026-12-01T03:00:00Z", "2026-12-02T03:00:00Z"])
        r = run_cli(["cron", "next", "0 0 29 2 *", "-n", "2", "--after", "2026-01-01T00:00:00Z"])
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout.decode().splitlines(), ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
        r = run_cli(["cron", "next", "@hourly"])
        self.assertEqual(r.returncode, 0, r)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 5)
        for l in lines:
            self.assertRegex(l, r"^\d{4}-\d\d-\d\dT\d\d:00:00Z$")
        r = run_cli(["cron", "next", "0 3 * * * *"])
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr)
        r = run_cli(["cron", "next", "0 24 * * *"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"hour", r.stderr)


if __name__ == "__main__":
    unittest.main()
