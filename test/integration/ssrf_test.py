"""Where an app can send respaldo: a download outside the app's own origin is refused unless the
operator allows that origin, respaldo never connects to its own API, and --app-networks restricts
registered app URLs (422) and every connection (checked against the resolved address)."""

import unittest

from harness import APP_TOKEN, FOLDER, Respaldo, new_app_name, register_app, start_app


class SsrfTest(unittest.TestCase):
    server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()

    def assert_refused(self, job, *needles):
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "app_contract_violation", job)
        self.assertEqual(job["attempt"], 1, job)  # not retried
        self.assertIsNone(job["backup"], job)
        for n in needles:
            self.assertIn(n, job["error"]["message"])

    def test_download_on_another_origin_is_refused_without_fetching_it(self):
        self.server = Respaldo().start()
        # The same double under another name: a different origin serving a valid download.
        name, app = start_app(self, self.server, mode="deferred_303", deferred_polls=1,
                              absolute_urls=True)
        app.set(download_origin="http://localhost:%d" % app.port)
        job = self.server.run_backup(name)
        self.assert_refused(job, "localhost:%d" % app.port, "--allow-download-origin")
        self.assertEqual(app.stats()["download"], 0)  # never fetched
        self.assertEqual(self.server.catalog(name), [])

    def test_an_allowed_download_origin_is_fetched_without_the_token(self):
        self.server = Respaldo().start()
        name, app = start_app(self, self.server, mode="deferred_303", deferred_polls=1)
        self.server.args += ["--allow-download-origin", "LOCALHOST:%d" % app.port]
        self.server.restart()
        app.set(download_origin="http://localhost:%d" % app.port)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(app.stats()["download"], 1)
        self.assertEqual(len(self.server.catalog(name)), 1)

    def test_a_download_sent_to_respaldo_itself_is_never_fetched(self):
        self.server = Respaldo().start()
        name, app = start_app(self, self.server, mode="deferred_303", deferred_polls=1)
        # Every port of 127.0.0.1 allowed as an origin: the address check alone must hold.
        self.server.args += ["--allow-download-origin", "127.0.0.1"]
        self.server.restart()
        app.set(download_origin="http://127.0.0.1:%d" % self.server.port)
        job = self.server.run_backup(name)
        self.assert_refused(job, "respaldo's own API")
        # respaldo's access log shows no request for the download path.
        self.assertNotIn("path=/downloads/", self.server.log_text())

    def test_app_networks_refuse_registrations_and_connections_outside_them(self):
        self.server = Respaldo(args=["--app-networks", "10.0.0.0/8"]).start()
        for url in ("http://127.0.0.1:8000", "http://169.254.169.254/", "http://localhost:8000"):
            name, _ = new_app_name("outside")
            r = self.server.post("/api/apps", {
                "name": name, "url": url, "token": APP_TOKEN, "drive_folder_id": FOLDER,
                "schedule": "0 3 * * *", "retention": {"daily": 1, "weekly": 0}})
            self.assertEqual(r.status, 422, (url, r.body))
            self.assertEqual(r.json()["code"], "validation_failed")
            self.assertEqual(r.json()["field"], "url")
            self.assertIn("--app-networks", r.json()["detail"])
        # Registered while no networks were set, then the operator restricts them: the check at
        # connect time (what DNS rebinding would meet) refuses the app's address.
        self.server.args = []
        self.server.restart()
        name, app = start_app(self, self.server)
        self.server.args = ["--app-networks", "10.0.0.0/8"]
        self.server.restart()
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "app_contract_violation", job)
        self.assertIn("outside --app-networks", job["error"]["message"])
        self.assertEqual(app.stats()["export"], 0)
        # Inside the networks, the same app backs up.
        self.server.args = ["--app-networks", "127.0.0.0/8,10.0.0.0/8"]
        self.server.restart()
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)

    def test_a_bad_flag_value_is_refused_naming_the_flag(self):
        from harness import run_cli, serve_args
        import tempfile
        d = tempfile.mkdtemp(prefix="respaldo-ssrf-")
        r = run_cli(serve_args(d, "--app-networks", "10.0.0.0/40"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--app-networks", r.stderr)
        r = run_cli(serve_args(d, "--allow-download-origin", "https://x.example/path"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--allow-download-origin", r.stderr)


if __name__ == "__main__":
    unittest.main()
