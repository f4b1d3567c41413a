"""Retention and catalog reconciliation with Drive storage: the real binary against the Drive
double. Retention deletes from Drive first, then from the catalog; a failed delete stays in the
catalog as "deleting" and is retried after the next backup; a file that disappeared from the folder
is flagged "missing", never dropped from the catalog."""

import http.client
import unittest
import uuid

from harness import DriveSetup, Respaldo, drive_args

APP_TOKEN = "secreto-compartido-retention"


class DriveRetentionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.setup = DriveSetup("respaldo-drive-retention-", APP_TOKEN, size=600 * 1024, seed=3)
        cls.drive, cls.app = cls.setup.drive, cls.setup.app
        cls.server = Respaldo(args=drive_args(cls.drive, cls.setup.sa["json"])).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.setup.stop()

    def setUp(self):
        self.drive.clear_faults()
        self.name = "ret-" + uuid.uuid4().hex[:8]
        self.folder = "1T" + uuid.uuid4().hex[:16]
        self.drive.add_folder(self.folder)
        self.server.register(name=self.name, url=self.app.url, token=APP_TOKEN,
                             drive_folder_id=self.folder,
                             retention={"daily": 0, "weekly": 0, "last": 2})

    def backup(self):
        job = self.server.run_backup(self.name)
        self.assertEqual(job["state"], "succeeded", job)
        return job["backup"]

    def catalog(self):
        return self.server.catalog(self.name, limit=100)

    def folder_ids(self):
        return sorted(f["id"] for f in self.drive.files(self.folder))

    def test_keeps_the_last_two_and_deletes_the_rest_from_drive(self):
        made = [self.backup() for _ in range(4)]
        kept = sorted(b["location"] for b in made[-2:])
        self.assertEqual(self.folder_ids(), kept)
        self.assertEqual(sorted(b["location"] for b in self.catalog()), kept)
        self.assertGreaterEqual(self.drive.stats()["deletes"], 2)
        plan = self.server.get("/api/apps/%s/retention" % self.name).json()
        self.assertTrue(all(d["keep"] for d in plan["decisions"]), plan)
        reasons = sorted(r for d in plan["decisions"] for r in d["reasons"])
        self.assertIn("newest", reasons)
        self.assertIn("last 2", reasons)

    def test_a_failed_delete_is_kept_and_retried(self):
        first = self.backup()
        self.backup()
        # More failures than the client's own retries of one request.
        self.drive.set_fault("delete_fails", count=100)
        third = self.backup()
        self.drive.clear_faults()
        # The oldest could not be deleted: still in Drive, still cataloged, marked "deleting".
        entry = self.server.get("/api/backups/" + first["id"]).json()
        self.assertEqual(entry["status"], "deleting", entry)
        self.assertIn(first["location"], self.folder_ids())
        # The next backup retries it (and prunes the second one).
        fourth = self.backup()
        self.assertEqual(self.server.get("/api/backups/" + first["id"]).status, 404)
        self.assertEqual(self.folder_ids(), sorted([third["location"], fourth["location"]]))

    def test_a_file_gone_from_the_folder_is_flagged_missing(self):
        first = self.backup()
        token = self.drive.issue_token()
        conn = http.client.HTTPConnection("127.0.0.1", self.drive.port, timeout=10)
        conn.request("DELETE", "/drive/v3/files/%s?supportsAllDrives=true" % first["location"],
                     headers={"Authorization": "Bearer " + token})
        self.assertEqual(conn.getresponse().status, 204)
        conn.close()
        self.backup()
        entry = self.server.get("/api/backups/" + first["id"]).json()
        self.assertEqual(entry["status"], "missing", entry)
        plan = self.server.get("/api/apps/%s/retention" % self.name).json()
        decision = [d for d in plan["decisions"] if d["backup_id"] == first["id"]][0]
        self.assertEqual(decision["reasons"], ["missing-from-storage"])
        # Never silently dropped: later backups keep it in the catalog.
        self.backup()
        self.backup()
        self.assertIn(first["id"], [b["id"] for b in self.catalog()])
        self.assertTrue(self.server.wait_log("backup missing from storage"),
                        "backup missing from storage")

    def test_an_object_the_catalog_does_not_know_is_reported_not_deleted(self):
        stray = self.drive.add_file(self.folder, self.name + "-20260101T000000Z.pgdump", b"x" * 1000,
                                    app_properties={"respaldo": "1", "app": self.name,
                                                    "job_id": "0000000000000000", "sha256": "0" * 64})
        stray_id = stray["id"] if isinstance(stray, dict) else stray
        self.backup()
        self.backup()
        self.backup()
        self.assertIn(stray_id, self.folder_ids())
        self.assertTrue(self.server.wait_log("object in storage is not in the catalog"),
                        "object in storage is not in the catalog")
        metrics = self.server.get("/metrics", auth=False).body.decode()
        self.assertIn("respaldo_storage_unknown_objects_total", metrics)


if __name__ == "__main__":
    unittest.main()
