"""Verification results drive the catalog, end to end: the real binary, an app double and local
storage. A verify job that reads back other bytes marks the backup corrupt; retention then counts
only good backups (a corrupt one is kept with the reason "corrupt" and never takes a good one's
place); DELETE /api/backups/{id} removes one backup; `respaldo restore` refuses a corrupt one."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ADMIN_TOKEN, BIN, RFC3339, SMALL, Respaldo, start_app


class CorruptBackupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Respaldo(admin_token=ADMIN_TOKEN, args=["--probe-interval", "0"]).start()
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-corrupt-")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.name, self.app = start_app(self, self.server, prefix="corrupt",
                                        retention={"daily": 0, "weekly": 0, "last": 2})

    # -- helpers --------------------------------------------------------------------------
    def backup(self):
        job = self.server.run_backup(self.name)
        self.assertEqual(job["state"], "succeeded", job)
        return job["backup"]

    def verify(self):
        return self.server.wait_job(self.server.start_verify(self.name))

    def path(self, backup):
        return os.path.join(self.server.data_dir, "backups", backup["location"])

    def flip_a_byte(self, backup):
        with open(self.path(backup), "r+b") as f:
            f.seek(SMALL // 2)
            byte = f.read(1)
            f.seek(SMALL // 2)
            f.write(bytes([byte[0] ^ 0x01]))

    def entry(self, backup):
        res = self.server.get("/api/backups/" + backup["id"])
        self.assertEqual(res.status, 200, res)
        return res.json()

    def ids(self):
        return [b["id"] for b in self.server.catalog(self.name)]

    def make_corrupt(self):
        """Two good backups, then the newer one found corrupt by a verify job."""
        first, second = self.backup(), self.backup()
        self.flip_a_byte(second)
        job = self.verify()
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "verify_mismatch", job)
        self.assertEqual(job["backup"]["id"], second["id"])
        return first, second

    def delete(self, backup, query=""):
        return self.server.request("DELETE", "/api/backups/%s%s" % (backup["id"], query))

    def restore(self, backup, *extra):
        out = os.path.join(self.tmp, self.name + "-" + backup["id"])
        cmd = [BIN, "restore", backup["id"], "--output", out, "--server",
               "http://127.0.0.1:%d" % self.server.port] + list(extra)
        env = dict(os.environ, RESPALDO_ADMIN_TOKEN=ADMIN_TOKEN)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        return p, out

    # -- tests ----------------------------------------------------------------------------
    def test_a_mismatch_marks_the_backup_corrupt_and_the_app_shows_it(self):
        _, second = self.make_corrupt()
        entry = self.entry(second)
        self.assertEqual(entry["status"], "corrupt", entry)
        mismatch = entry["mismatch"]
        self.assertEqual(mismatch["expected_sha256"], second["sha256"])
        self.assertNotEqual(mismatch["found_sha256"], second["sha256"])
        self.assertRegex(mismatch["found_sha256"], r"^[0-9a-f]{64}$")
        self.assertEqual(mismatch["expected_size"], SMALL)
        self.assertEqual(mismatch["found_size"], SMALL)
        self.assertRegex(mismatch["detected_at"], RFC3339)
        last = self.server.get("/api/apps/" + self.name).json()["last_verify"]
        self.assertEqual(last["result"], "corrupt", last)
        self.assertEqual(last["backup_id"], second["id"])
        self.assertRegex(last["at"], RFC3339)

    def test_retention_never_deletes_a_good_backup_in_a_corrupt_ones_place(self):
        # The reproduced case: {"last": 2}, the newest of two backups corrupt.
        first, second = self.make_corrupt()
        third = self.backup()
        # Two good backups are kept (third and first); the corrupt one stays for inspection.
        self.assertEqual(self.ids(), [third["id"], second["id"], first["id"]])
        self.assertTrue(os.path.isfile(self.path(first)))
        self.assertTrue(os.path.isfile(self.path(second)))
        plan = self.server.get("/api/apps/%s/retention" % self.name).json()
        decisions = {d["backup_id"]: d for d in plan["decisions"]}
        self.assertEqual(decisions[second["id"]]["reasons"], ["corrupt"])
        self.assertTrue(decisions[second["id"]]["keep"])
        self.assertEqual(decisions[third["id"]]["reasons"], ["newest", "last 1"])
        self.assertEqual(decisions[first["id"]]["reasons"], ["last 2"])
        # The next backup prunes the older good one, never the corrupt one.
        fourth = self.backup()
        self.assertEqual(self.ids(), [fourth["id"], third["id"], second["id"]])
        self.assertFalse(os.path.exists(self.path(first)))
        self.assertEqual(self.entry(second)["status"], "corrupt")

    def test_delete_removes_one_backup_and_guards_the_newest_good_one(self):
        first, second = self.make_corrupt()
        res = self.delete(second)
        self.assertEqual(res.status, 204, res)
        self.assertFalse(os.path.exists(self.path(second)))
        self.assertEqual(self.server.get("/api/backups/" + second["id"]).status, 404)
        # The only good backup left is refused without force=true.
        res = self.delete(first)
        self.assertEqual(res.status, 409, res)
        self.assertEqual(res.json()["code"], "last_good_backup")
        self.assertEqual(res.json()["backup_id"], first["id"])
        self.assertTrue(os.path.isfile(self.path(first)))
        res = self.delete(first, "?force=maybe")
        self.assertEqual(res.status, 400, res)
        self.assertEqual(res.json()["field"], "force")
        res = self.delete(first, "?force=true")
        self.assertEqual(res.status, 204, res)
        self.assertEqual(self.ids(), [])
        self.assertFalse(os.path.exists(self.path(first)))
        self.assertTrue(self.server.wait_log("backup deleted"), "backup deleted")

    def test_restore_refuses_a_corrupt_backup_unless_forced(self):
        first, second = self.make_corrupt()
        p, out = self.restore(second)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("has status corrupt", p.stderr)
        self.assertIn("--force", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".partial"))
        # Forced, the download is tried, and its own check still refuses the bytes.
        p, out = self.restore(second, "--force")
        self.assertEqual(p.returncode, 1, p)
        self.assertNotIn("has status corrupt", p.stderr)
        self.assertIn("nothing written to", p.stderr)
        self.assertFalse(os.path.exists(out))
        # A good backup restores as before.
        p, out = self.restore(first)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(os.path.getsize(out), SMALL)


if __name__ == "__main__":
    unittest.main()
