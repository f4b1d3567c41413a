"""Cancellation is never lost: the real binary, a trickling app double, progress saved every
100 ms. A cancel during a stream ends the job cancelled, every time; a cancel stored just before
the process is killed ends the job at the next start instead of running it again."""

import os
import sqlite3
import unittest

from harness import FOLDER, MiB, Respaldo, start_app, wait_until

# Slow enough that every cancel lands while bytes are still flowing and progress is saved often.
TRICKLE = dict(mode="trickle", size=16 * MiB, trickle_bytes_per_sec=1 * MiB)
ARGS = ["--progress-interval", "100ms", "--chunk-size", "256KiB", "--max-attempts", "3",
        "--retry-base-delay", "100ms", "--retry-max-delay", "200ms"]


class CancelTest(unittest.TestCase):
    def setUp(self):
        self.server = Respaldo(args=ARGS).start()
        self.addCleanup(self.server.cleanup)

    def uploading(self, job_id, saves=2):
        """Waits until the job's row shows `saves` different progress values while uploading."""
        seen = set()

        def progressed():
            job = self.server.job(job_id)
            if job["state"] == "running" and job["phase"] == "uploading" and job["bytes_done"] > 0:
                seen.add(job["bytes_done"])
            return len(seen) >= saves
        wait_until(progressed, timeout=60, what="progress of job %s" % job_id)

    def cancel(self, job_id):
        r = self.server.post("/api/jobs/%s/cancel" % job_id)
        self.assertEqual(r.status, 202, r)
        self.assertIn(r.json()["state"], ("running", "cancelled"))

    def assert_cancelled(self, job):
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual(job["error"]["code"], "cancelled", job)
        self.assertIsNone(job["backup"], job)

    def assert_nothing_stored(self, name):
        app_dir = os.path.join(self.server.data_dir, "backups", FOLDER, name)
        left = os.listdir(app_dir) if os.path.isdir(app_dir) else []
        self.assertEqual(left, [], "files (or partial files) left for %s" % name)
        self.assertEqual(self.server.catalog(name), [])

    def test_cancel_during_a_stream_twenty_times(self):
        name, app = start_app(self, self.server, **TRICKLE)
        for round_ in range(20):
            job_id = self.server.start_backup(name)
            self.uploading(job_id)
            self.cancel(job_id)
            job = self.server.wait_job(job_id, timeout=60)
            self.assert_cancelled(job)
            self.assertEqual(job["attempt"], 1, "round %d: %r" % (round_, job))
        self.assert_nothing_stored(name)
        self.assertEqual(app.stats()["export"], 20)  # never retried after a cancel

    def restart_and_wait(self, job_id):
        self.server.start()
        return self.server.wait_job(job_id, timeout=60)

    def test_cancel_then_kill_ends_cancelled_at_the_next_start(self):
        name, app = start_app(self, self.server, **TRICKLE)
        job_id = self.server.start_backup(name)
        self.uploading(job_id)
        self.cancel(job_id)
        self.server.kill()  # SIGKILL right after the answer: no time to tidy up
        job = self.restart_and_wait(job_id)
        self.assert_cancelled(job)
        self.assertEqual(job["attempt"], 1)
        self.assertEqual(app.stats()["export"], 1)  # not queued again
        self.assert_nothing_stored(name)

    def test_a_stored_cancel_request_is_honoured_at_recovery(self):
        name, app = start_app(self, self.server, **TRICKLE)
        job_id = self.server.start_backup(name)
        self.uploading(job_id)
        self.server.kill()
        # The request reached the database, the running process never acted on it.
        db = sqlite3.connect(os.path.join(self.server.data_dir, "respaldo.db"))
        with db:
            changed = db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = "
                                 "'running'", (job_id,)).rowcount
        db.close()
        self.assertEqual(changed, 1)
        job = self.restart_and_wait(job_id)
        self.assert_cancelled(job)
        self.assertEqual(job["attempt"], 1)
        self.assertEqual(app.stats()["export"], 1)  # not queued again
        self.assert_nothing_stored(name)
        self.assertTrue(self.server.wait_log("cancel requested before the stop honoured"),
                        "cancel requested before the stop honoured")


if __name__ == "__main__":
    unittest.main()
