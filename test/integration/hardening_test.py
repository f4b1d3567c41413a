"""Black-box tests of the server's defences against hostile clients and apps: control
characters or invalid UTF-8 reaching the text log or job errors."""

import unittest

from harness import Respaldo, start_app, wait_until


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
