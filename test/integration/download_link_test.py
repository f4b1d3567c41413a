"""Signed download links against the real binary: POST /api/backups/{id}/download-url gives a
link that curl fetches without the admin header (same bytes as the catalog says), that opens
no other backup, refuses a tampered signature, expires (--download-link-ttl), outlives a restart (its key comes from the secret key file), and
never shows its signature in the log."""

import hashlib
import subprocess
import tempfile
import os
import unittest
import urllib.parse

from harness import MiB, Respaldo, start_app, wait_until


class DownloadLinkTest(unittest.TestCase):
    def setUp(self):
        self.server = Respaldo(args=["--probe-interval", "0", "--download-link-ttl", "3s"]).start()
        self.addCleanup(self.server.cleanup)

    def backup(self, **settings):
        name, _ = start_app(self, self.server, **settings)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        return job["backup"]

    def link(self, backup_id):
        r = self.server.post("/api/backups/%s/download-url" % backup_id)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        body = r.json()
        self.assertRegex(body["url"], r"^/api/backups/[^/?]+/content\?sig=\d+\.[0-9a-f]{64}$")
        self.assertRegex(body["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        return body["url"]

    def test_curl_downloads_through_the_link_without_the_header(self):
        b = self.backup(size=2 * MiB + 7)
        url = self.link(b["id"])
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "backup.bin")
            done = subprocess.run(["curl", "-sS", "-f", "-o", out, "-w", "%{http_code}",
                                   "http://127.0.0.1:%d%s" % (self.server.port, url)],
                                  capture_output=True, timeout=60)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout, b"200")
            with open(out, "rb") as f:
                data = f.read()
        self.assertEqual(len(data), b["size"])
        self.assertEqual(hashlib.sha256(data).hexdigest(), b["sha256"])
        sig = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["sig"][0]
        self.server.wait_log("path=/api/backups/%s/content" % b["id"])
        self.assertNotIn(sig.split(".")[1], self.server.log_text())

    def test_a_link_opens_only_its_backup_and_resists_tampering(self):
        a = self.backup()
        other = self.backup()
        url = self.link(a["id"])
        query = urllib.parse.urlparse(url).query
        r = self.server.get("/api/backups/%s/content?%s" % (other["id"], query), auth=False)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["code"], "invalid_signature")
        self.assertNotIn(query.split(".")[1], r.json()["detail"])
        sig = query[len("sig="):]
        expires, mac = sig.split(".")
        for bad in (expires + "." + ("0" if mac[0] != "0" else "1") + mac[1:],
                    str(int(expires) + 3600) + "." + mac, "abc", mac):
            r = self.server.get("/api/backups/%s/content?sig=%s" % (a["id"], bad), auth=False)
            self.assertEqual(r.status, 403, (bad, r))
            self.assertEqual(r.json()["code"], "invalid_signature")
        # Without a signature the admin header is still required.
        r = self.server.get("/api/backups/%s/content" % a["id"], auth=False)
        self.assertEqual(r.status, 401)
        # A signature opens no other route.
        r = self.server.get("/api/backups/%s?%s" % (a["id"], query), auth=False)
        self.assertEqual(r.status, 401)
        r = self.server.post("/api/backups/missing-id/download-url")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["code"], "backup_not_found")
        r = self.server.post("/api/backups/%s/download-url" % a["id"], auth=False)
        self.assertEqual(r.status, 401)

    def test_a_link_expires(self):
        b = self.backup()
        url = self.link(b["id"])
        self.assertEqual(self.server.get(url, auth=False).status, 200)

        def expired():
            r = self.server.get(url, auth=False)
            return r.status == 403 and r.json()["code"] == "link_expired" and r
        r = wait_until(expired, timeout=15, interval=0.2, what="the link to expire")
        self.assertIn("download-url", r.json()["detail"])

    def test_a_link_outlives_a_restart_but_not_a_new_secret_key(self):
        # Long enough that the restarts below cannot outlast the link.
        self.server.args[self.server.args.index("3s")] = "10m"
        self.server.restart()
        b = self.backup()
        url = self.link(b["id"])
        self.server.restart()
        r = self.server.get(url, auth=False)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), b["sha256"])
        # A new key file (the old one lost or rotated) makes every earlier link invalid.
        self.server.stop()
        os.unlink(os.path.join(self.server.data_dir, "secret.key"))
        self.server.start()
        r = self.server.get(url, auth=False)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["code"], "invalid_signature")


if __name__ == "__main__":
    unittest.main()
