"""Size bounds: an X-Size above --max-backup-size fails the job before storage is touched, and
local storage refuses at once a backup its file system has no room for (X-Size plus 1%)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import FOLDER, RFC3339, MiB, Respaldo, start_app


def try_mount(args):
    try:
        return subprocess.run(["mount"] + args, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SizeBoundsTest(unittest.TestCase):
    server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()

    def assert_failed_at_once(self, job, code):
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], code, job)
        self.assertEqual(job["attempt"], 1, job)  # not retried
        self.assertIsNone(job["backup"], job)
        self.assertRegex(job["finished_at"], RFC3339)

    def stored_files(self, backups):
        out = []
        for d, _, names in os.walk(backups):
            out += [os.path.relpath(os.path.join(d, f), backups) for f in names]
        return out

    def test_x_size_above_max_backup_size_fails_before_any_upload(self):
        self.server = Respaldo(args=["--max-backup-size", "1MiB", "--max-attempts", "3",
                                     "--retry-base-delay", "100ms"]).start()
        name, app = start_app(self, self.server, size=MiB + 1)
        job = self.server.run_backup(name)
        self.assert_failed_at_once(job, "backup_too_large")
        self.assertEqual(job["error"]["message"],
                         "the app announced X-Size %d bytes, above --max-backup-size (%d bytes); "
                         "make the backup smaller or raise --max-backup-size" % (MiB + 1, MiB))
        self.assertEqual(job["bytes_total"], MiB + 1)
        self.assertEqual(job["bytes_done"], 0)
        # The upload was never opened: not even the app's directory exists.
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "backups", FOLDER, name)))
        self.assertEqual(self.server.catalog(name), [])
        self.assertEqual(app.stats()["export"], 1)
        # Exactly the bound is fine.
        app.set(size=MiB)
        self.assertEqual(self.server.run_backup(name)["state"], "succeeded")

    def test_local_storage_without_room_fails_storage_full_at_once(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        data_dir = tempfile.mkdtemp(prefix="respaldo-room-")
        backups = os.path.join(data_dir, "backups")
        os.makedirs(backups)
        if not try_mount(["-t", "tmpfs", "-o", "size=4m", "tmpfs", backups]):
            os.rmdir(backups)
            os.rmdir(data_dir)
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(shutil.rmtree, data_dir, True)
        self.addCleanup(subprocess.run, ["umount", "-l", backups], capture_output=True)
        self.server = Respaldo(data_dir=data_dir, args=["--chunk-size", "1MiB", "--max-attempts",
                                                        "3", "--retry-base-delay", "100ms"]).start()
        free_before = os.statvfs(backups).f_bavail * os.statvfs(backups).f_frsize
        # 6 MiB at 1 MiB/s: had the job begun writing, it would still be running for seconds.
        name, app = start_app(self, self.server, size=6 * MiB, mode="trickle",
                              trickle_bytes_per_sec=MiB)
        job = self.server.run_backup(name)
        self.assert_failed_at_once(job, "storage_full")
        message = job["error"]["message"]
        self.assertIn("not enough free space", message)
        self.assertIn("X-Size %d plus 1%%" % (6 * MiB), message)
        self.assertEqual(job["bytes_done"], 0)
        # No partial file was ever created, and no space was taken.
        self.assertEqual(self.stored_files(backups), [])
        fs = os.statvfs(backups)
        self.assertEqual(fs.f_bavail * fs.f_frsize, free_before)
        self.assertEqual(self.server.catalog(name), [])
        self.assertLess(app.stats()["bytes_sent"], 6 * MiB)  # the stream was never read through
        self.assertEqual(app.stats()["export"], 1)
        # A backup that fits still works on the same disk.
        app.set(size=MiB, mode="normal")
        self.assertEqual(self.server.run_backup(name)["state"], "succeeded")


if __name__ == "__main__":
    unittest.main()
