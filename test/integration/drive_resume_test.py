"""Resuming a Drive upload after respaldo dies mid-upload.

The app answers the export with 202 (a deferred export), so its download can be read again. The
first download stalls half-way; respaldo is killed (SIGKILL) or stopped (SIGTERM) while it waits,
with part of the backup already persisted in the Drive double's upload session. After a restart
the job continues THE SAME session: it re-reads the download from the start and hashes the prefix,
but the double's byte counters show that the prefix was not sent again.
"""

import hashlib
import signal
import unittest
import uuid

from app_double import AppDouble, content_sha256
from harness import DRIVE_ARGS, DriveSetup, Respaldo, drive_args, poll_until

APP_TOKEN = "secreto-compartido-resume"
CHUNK = 256 * 1024
SIZE = 48 * CHUNK + 777  # 12 MiB and a bit
SEED = 5
STALL_AFTER = 24 * CHUNK + 100  # the first download stops here
# Everything before the stall fits in whole chunks, so this is where the upload settles.
SETTLED = (STALL_AFTER // CHUNK) * CHUNK
EXPECTED_SHA = content_sha256(SIZE, SEED)

ARGS = DRIVE_ARGS + ["--max-attempts", "3", "--read-timeout", "60s", "--shutdown-grace", "5s"]


class DriveResumeTest(unittest.TestCase):
    def setUp(self):
        self.setup = DriveSetup("respaldo-resume-test-", APP_TOKEN, size=SIZE, seed=SEED,
                                mode="deferred", deferred_polls=0, retry_after=0,
                                download_fault="stall", download_fault_count=1,
                                stall_after=STALL_AFTER, stall_seconds=3600)
        self.drive, self.app = self.setup.drive, self.setup.app
        self.folder = "1R" + uuid.uuid4().hex[:16]
        self.drive.add_folder(self.folder)
        self.server = Respaldo(args=drive_args(self.drive, self.setup.sa["json"], base=ARGS))

    def tearDown(self):
        self.server.cleanup()
        self.setup.stop()

    def start_stalled_upload(self):
        self.server.start()
        self.server.register(name="resumable", url=self.app.url, token=APP_TOKEN,
                             drive_folder_id=self.folder)
        job_id = self.server.start_backup("resumable")
        # Wait until the stalled download has been forwarded as far as it goes: every whole chunk
        # before the stall persisted. Chunks still in flight would move the count after a sample.
        poll_until(lambda: self.drive.stats()["bytes_persisted"] >= SETTLED, timeout=60)
        self.assertEqual(self.drive.stats()["bytes_persisted"], SETTLED,
                         self.server.log_text()[-3000:])
        job = self.server.get("/api/jobs/" + job_id).json()
        self.assertEqual(job["state"], "running", job)
        self.assertEqual(job["phase"], "uploading", job)
        return job_id

    def persisted_after_stop(self):
        """The persisted count once respaldo is down, when nothing can move it any more."""
        persisted = self.drive.stats()["bytes_persisted"]
        self.assertEqual(persisted, SETTLED)
        return persisted

    def finish_after_restart(self, job_id, persisted_before, attempt):
        received_before = self.drive.stats()["bytes_received"]
        self.server.start()
        job = self.server.wait_job(job_id, timeout=90)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["attempt"], attempt, job)

        stats = self.drive.stats()
        self.assertEqual(stats["sessions_created"], 1, "the restarted job must continue the same session")
        sent_after_restart = stats["bytes_received"] - received_before
        self.assertEqual(sent_after_restart, SIZE - persisted_before,
                         "only the bytes after the persisted prefix may be sent again")
        self.assertGreaterEqual(stats["status_queries"], 1)

        app_stats = self.app.stats()
        self.assertEqual(app_stats["export"], 1, "the export is re-read, not started again")
        self.assertEqual(app_stats["download"], 2)

        files = self.drive.files(self.folder)
        self.assertEqual(len(files), 1, files)
        data = self.drive.file_bytes(files[0]["id"])
        self.assertEqual(len(data), SIZE)
        self.assertEqual(hashlib.sha256(data).hexdigest(), EXPECTED_SHA)
        self.assertEqual(job["backup"]["location"], files[0]["id"])
        self.assertEqual(job["backup"]["sha256"], EXPECTED_SHA)
        running = self.server.get("/api/jobs?state=running").json()["items"]
        self.assertEqual(running, [])

    def test_sigkill_mid_upload_resumes_the_same_session(self):
        job_id = self.start_stalled_upload()
        self.server.kill()
        persisted = self.persisted_after_stop()
        # A crash spends the attempt it interrupted.
        self.finish_after_restart(job_id, persisted, attempt=2)
        self.assertTrue(self.server.wait_log("re-reading the export of an interrupted attempt"),
                        "re-reading the export of an interrupted attempt")

    def test_sigterm_mid_upload_keeps_the_session_for_the_next_start(self):
        job_id = self.start_stalled_upload()
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        persisted = self.persisted_after_stop()
        # Stopped gracefully: the session is not cancelled, and the job is queued again without
        # spending an attempt.
        self.assertEqual(self.drive.stats()["sessions_cancelled"], 0)
        self.finish_after_restart(job_id, persisted, attempt=1)

    def test_a_source_that_cannot_be_read_again_restarts_cleanly(self):
        job_id = self.start_stalled_upload()
        self.server.kill()
        # The app forgot its export: the download URL now answers 404, so respaldo exports anew.
        # The new export has the same bytes, so storage may continue its session; either way the
        # result must be one verified file.
        self.app.stop()
        self.app = self.setup.app = AppDouble(token=APP_TOKEN, size=SIZE, seed=SEED,
                                              port=self.app.port).start()
        self.server.start()
        job = self.server.wait_job(job_id, timeout=90)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertTrue(self.server.wait_log("cannot be read again"), "cannot be read again")
        files = self.drive.files(self.folder)
        self.assertEqual(len(files), 1, files)
        self.assertEqual(hashlib.sha256(self.drive.file_bytes(files[0]["id"])).hexdigest(), EXPECTED_SHA)


if __name__ == "__main__":
    unittest.main()
