"""The dashboard's files as the real binary serves them: the page at / and its assets under /ui/
with their content types and strict headers, ETag revalidation, errors.json made from
docs/errors.md, no cookies and no token needed (the page holds no data)."""

import json
import os
import re
import unittest

from harness import SOURCE_DIR, Respaldo

CSP = "default-src 'self'; frame-ancestors 'none'"


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Respaldo(args=["--probe-interval", "0"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def assert_strict(self, r):
        self.assertEqual(r.header("Content-Security-Policy"), CSP)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
        self.assertIsNone(r.header("Set-Cookie"))

    def test_page_and_assets_with_their_types_and_headers(self):
        r = self.server.get("/", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assert_strict(r)
        with open(os.path.join(SOURCE_DIR, "web", "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())
        scripts = re.findall(rb'src="(/ui/[^"]+)"', r.body) + re.findall(rb'href="(/ui/[^"]+)"', r.body)
        self.assertIn(b"/ui/app.js", scripts)
        self.assertIn(b"/ui/style.css", scripts)
        for name, ctype in (("app.js", "text/javascript; charset=utf-8"),
                            ("api.js", "text/javascript; charset=utf-8"),
                            ("style.css", "text/css; charset=utf-8")):
            a = self.server.get("/ui/" + name, auth=False)
            self.assertEqual(a.status, 200, name)
            self.assertEqual(a.header("Content-Type"), ctype)
            self.assert_strict(a)
            with open(os.path.join(SOURCE_DIR, "web", name), "rb") as f:
                self.assertEqual(a.body, f.read(), name)
        # Nothing is loaded from elsewhere: every import is relative.
        for name in os.listdir(os.path.join(SOURCE_DIR, "web")):
            with open(os.path.join(SOURCE_DIR, "web", name), encoding="utf-8") as f:
                text = f.read()
            self.assertNotRegex(text, r"https?://(?!127\.0\.0\.1|mi-app)", name)
            self.assertNotIn("innerHTML", text, name)

    def test_etag_revalidation(self):
        r = self.server.get("/ui/app.js", auth=False)
        etag = r.header("ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{20}"$')
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        again = self.server.get("/ui/app.js", auth=False, headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.header("ETag"), etag)
        other = self.server.get("/ui/app.js", auth=False, headers={"If-None-Match": '"0000"'})
        self.assertEqual(other.status, 200)

    def test_unknown_file_and_other_methods(self):
        r = self.server.get("/ui/nope.js", auth=False)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["code"], "not_found")
        self.assert_strict(r)
        r = self.server.get("/ui/../README.md", auth=False)
        self.assertEqual(r.status, 404)
        r = self.server.post("/", auth=False)
        self.assertEqual(r.status, 405)
        # The API stays behind the token.
        self.assertEqual(self.server.get("/api/apps", auth=False).status, 401)

    def test_app_json_lists_the_next_five_fire_times_in_its_zone(self):
        self.server.register(name="zoned", timezone="America/Santiago", schedule="30 2 * * 1")
        app = self.server.get("/api/apps/zoned").json()
        runs = app["next_runs"]
        self.assertEqual(len(runs), 5)
        for t in runs:
            self.assertRegex(t, r"^\d{4}-\d\d-\d\dT02:30:00-0[34]:00$")
        self.assertEqual(sorted(runs), runs)
        self.assertEqual(len(set(runs)), 5)
        listed = [a for a in self.server.get("/api/apps").json()["items"] if a["name"] == "zoned"]
        self.assertEqual(listed[0]["next_runs"], runs)

    def test_errors_json_comes_from_the_documentation(self):
        r = self.server.get("/ui/errors.json", auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        catalog = r.json()
        self.assertIn("read the message", catalog["job"]["app_export_failed"]["hint"])
        self.assertEqual(catalog["job"]["app_export_failed"]["retried"], "yes")
        self.assertEqual(catalog["api"]["link_expired"]["status"], "403")
        self.assertEqual(catalog["api"]["too_many_event_streams"]["status"], "503")
        with open(os.path.join(SOURCE_DIR, "docs", "errors.md"), encoding="utf-8") as f:
            documented = set(re.findall(r"^\| `([a-z0-9_]+)` \| (?:yes|no|—) \|", f.read(), re.M))
        self.assertEqual(set(catalog["job"]), documented)


if __name__ == "__main__":
    unittest.main()
