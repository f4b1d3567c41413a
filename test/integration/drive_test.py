"""Black-box tests of the Google Drive storage: the real `respaldo serve --storage drive` against the
Drive double (OAuth token endpoint, resumable uploads, files API; in-process, over real sockets)
and the app double.

Every fault of the double ends either with a verified file in the app's folder (bytes, size and
hashes equal, appProperties set, the catalog pointing at it) or with a failed job carrying the right
code and nothing in the folder; no job stays running.
"""

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import time
import unittest
import uuid

from app_double import AppDouble, content_sha256
from drive_double import DriveDouble, make_test_pki
from harness import (ADMIN_TOKEN, DRIVE_ARGS, FINAL_STATES, DriveSetup, Respaldo, poll_until,
                     run_cli, serve_args)
from harness import drive_args as harness_drive_args

APP_TOKEN = "secreto-compartido-0123"
SIZE = 3 * 2**20 + 12345  # 13 chunks of 256 KiB, the last one short
SEED = 11
EXPECTED_SHA = content_sha256(SIZE, SEED)

COMMON_ARGS = DRIVE_ARGS + ["--max-attempts", "3", "--connect-timeout", "5s", "--read-timeout", "15s",
                            "--shutdown-grace", "2s"]


def drive_args(drive, credentials, extra=()):
    return harness_drive_args(drive, credentials, extra, base=COMMON_ARGS)


class DriveCase(unittest.TestCase):
    """A Drive double, an app double and a service account, shared by the tests of a class."""

    drive_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.setup = DriveSetup("respaldo-drive-test-", APP_TOKEN, drive_kwargs=cls.drive_kwargs,
                               size=SIZE, seed=SEED)
        cls.tmp, cls.drive, cls.sa, cls.app = cls.setup.tmp, cls.setup.drive, cls.setup.sa, cls.setup.app
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for r in cls.servers:
            r.cleanup()
        cls.setup.stop()

    def setUp(self):
        self.drive.clear_faults()
        self.app.set(mode="normal")

    def tearDown(self):
        self.drive.clear_faults()
        self.app.set(mode="normal")

    # -- common steps ------------------------------------------------------------------------
    @classmethod
    def server(cls, credentials=None, extra=(), env=None):
        r = Respaldo(args=drive_args(cls.drive, credentials or cls.sa["json"], extra), env=env)
        cls.servers.append(r)
        return r.start()

    def new_app(self, server, folder=None, shared_drive=True, create_folder=True):
        name = "app-" + uuid.uuid4().hex[:10]
        folder = folder or "1F" + uuid.uuid4().hex[:16]
        if create_folder:
            self.drive.add_folder(folder, shared_drive=shared_drive)
        server.register(name=name, url=self.app.url, token=APP_TOKEN, drive_folder_id=folder)
        return name, folder

    def backup(self, server, name, timeout=60):
        job = server.run_backup(name, timeout=timeout)
        self.assertIn(job["state"], FINAL_STATES)
        return job

    def assert_verified(self, server, job, name, folder):
        self.assertEqual(job["state"], "succeeded", json.dumps(job, indent=1) + server.log_text()[-3000:])
        files = self.drive.files(folder)
        self.assertEqual(len(files), 1, files)
        f = files[0]
        data = self.drive.file_bytes(f["id"])
        self.assertEqual(len(data), SIZE)
        self.assertEqual(hashlib.sha256(data).hexdigest(), EXPECTED_SHA)
        self.assertEqual(f["sha256"], EXPECTED_SHA)
        self.assertEqual(f["md5"], hashlib.md5(data).hexdigest())
        self.assertEqual(f["appProperties"], {"respaldo": "1", "app": name, "job_id": job["id"],
                                              "sha256": EXPECTED_SHA})
        self.assertTrue(f["name"].startswith(name + "-") and f["name"].endswith(".pgdump"), f["name"])
        b = job["backup"]
        self.assertEqual(b["storage"], "drive")
        self.assertEqual(b["location"], f["id"])
        self.assertEqual(b["size"], SIZE)
        self.assertEqual(b["sha256"], EXPECTED_SHA)
        self.assertEqual(b["md5"], f["md5"])
        self.assertEqual(b["name"], f["name"])
        return f

    def assert_failed(self, server, job, code, folder):
        self.assertEqual(job["state"], "failed", json.dumps(job, indent=1))
        self.assertEqual(job["error"]["code"], code, json.dumps(job, indent=1))
        self.assertEqual(self.drive.files(folder), [])
        return job["error"]["message"]

    def assert_nothing_running(self, server):
        r = server.get("/api/jobs?state=running")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["items"], [])

    def assert_clean(self, text):
        """Nothing secret in a message or a log: tokens, keys, session URIs."""
        self.assertNotIn("ya29.", text)
        self.assertNotIn("PRIVATE KEY", text)
        self.assertNotIn("upload_id=", text)
        self.assertNotIn("Bearer ", text)


class ServiceAccountTest(DriveCase):
    """One respaldo with a service account for all the fault cases."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # --drive-md5 for the MD5 fallback cases; the default is tested by NoMd5InFlightTest.
        cls.r = cls.server(extra=["--drive-md5"])

    def tearDown(self):
        super().tearDown()
        self.assert_nothing_running(self.r)

    def test_backup_is_a_verified_file_in_the_folder(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        job = self.backup(self.r, name)
        f = self.assert_verified(self.r, job, name, folder)
        after = self.drive.stats()
        # 13 chunks, no byte sent twice, and the double's token checks passed.
        self.assertEqual(after["bytes_received"] - before["bytes_received"], SIZE)
        self.assertEqual(after["chunk_requests"] - before["chunk_requests"], 13)
        self.assertGreaterEqual(after["token_grants"]["jwt_bearer"], 1)
        grant = after["grants"][-1]
        self.assertEqual(grant["principal"], self.sa["client_email"])
        self.assertIsNone(grant["sub"])
        self.assertEqual(grant["scope"], "https://www.googleapis.com/auth/drive")
        # Every chunk states its range and the total.
        sid = [k for k, v in after["sessions"].items() if v["file_id"] == f["id"]][0]
        puts = [q for q in self.drive.requests() if "upload_id=" + sid in q["path"]]
        self.assertTrue(all(q["method"] == "PUT" for q in puts))
        self.assertEqual(len(puts), 13)
        self.assertEqual(puts[0]["content_range"], "bytes 0-262143/%d" % SIZE)
        self.assertEqual(puts[-1]["content_range"], "bytes %d-%d/%d" % (12 * 262144, SIZE - 1, SIZE))
        self.assert_clean(self.r.log_text())

    def test_content_download_is_verified_while_streaming(self):
        name, folder = self.new_app(self.r)
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        backup_id = job["backup"]["id"]
        r = self.r.get("/api/backups/%s/content" % backup_id, timeout=60)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), SIZE)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), EXPECTED_SHA)
        self.assertEqual(r.header("X-Checksum-SHA256"), EXPECTED_SHA)

        # A connection reset mid-download is resumed with Range.
        fired = self.drive.faults.fired["reset_download"]
        self.drive.set_fault("reset_download", after=1_000_000)
        r = self.r.get("/api/backups/%s/content" % backup_id, timeout=60)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), EXPECTED_SHA)
        self.assertEqual(self.drive.faults.fired["reset_download"], fired + 1)

        # Corrupted bytes never arrive as a complete download.
        self.drive.set_fault("corrupt_download")
        try:
            r = self.r.get("/api/backups/%s/content" % backup_id, timeout=60)
            complete = r.status == 200 and len(r.body) == SIZE
        except (http.client.HTTPException, ConnectionError):  # cut short: the client sees it break
            complete = False
        self.assertFalse(complete)

        # A verify job reads it back through the same download path.
        verify = self.r.wait_job(self.r.start_verify(name))
        self.assertEqual(verify["state"], "succeeded", verify)

    def test_503_on_a_chunk_is_queried_and_resumed(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        self.drive.set_fault("fail_chunk", k=3)
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        after = self.drive.stats()
        self.assertGreaterEqual(after["status_queries"] - before["status_queries"], 1)
        self.assertEqual(job["attempt"], 1)

    def test_503_that_persisted_the_chunk_anyway(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("fail_chunk", k=2, persist=True)
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)

    def test_connection_reset_mid_chunk(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        fired = self.drive.faults.fired["reset_chunk"]
        self.drive.set_fault("reset_chunk", k=4)
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        self.assertEqual(self.drive.faults.fired["reset_chunk"], fired + 1)
        self.assertGreaterEqual(self.drive.stats()["status_queries"] - before["status_queries"], 1)

    def test_short_persist_is_sent_again_from_the_buffer(self):
        # Chunks of 256 KiB cannot be cut shorter on a 256 KiB boundary: use 1 MiB chunks here.
        r = self.server(extra=["--chunk-size", "1MiB"])
        name, folder = self.new_app(r)
        fired = self.drive.faults.fired["short_persist"]
        self.drive.set_fault("short_persist", k=2, count=2)
        before = self.drive.stats()
        job = self.backup(r, name)
        self.assert_verified(r, job, name, folder)
        after = self.drive.stats()
        self.assertEqual(self.drive.faults.fired["short_persist"], fired + 2)
        # The unpersisted halves were sent again: more bytes received than the backup's size.
        self.assertGreater(after["bytes_received"] - before["bytes_received"], SIZE)
        self.assertGreater(after["bytes_persisted"] - before["bytes_persisted"], 0)

    def test_chunk_persisted_not_at_all_is_sent_again(self):
        # With 256 KiB chunks the double's short persist keeps nothing: a 308 without Range.
        name, folder = self.new_app(self.r)
        fired = self.drive.faults.fired["short_persist"]
        self.drive.set_fault("short_persist", k=5, count=2)
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        self.assertEqual(self.drive.faults.fired["short_persist"], fired + 2)

    def test_session_expired_on_the_first_chunk_starts_a_new_session(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        self.drive.set_fault("expire_session")
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        self.assertEqual(self.drive.stats()["sessions_created"] - before["sessions_created"], 2)
        self.assertEqual(job["attempt"], 1)

    def test_session_expired_mid_upload_retries_the_job(self):
        name, folder = self.new_app(self.r)
        self.app.set(mode="trickle", trickle_bytes_per_sec=2 * 2**20)
        job_id = self.r.start_backup(name)
        under_way = lambda j: j["bytes_done"] >= 2**20 or j["state"] in FINAL_STATES  # noqa: E731
        poll_until(lambda: under_way(self.r.job(job_id)), interval=0.02)
        fired = self.drive.faults.fired["expire_session"]
        self.drive.set_fault("expire_session")
        self.app.set(mode="normal")
        job = self.r.wait_job(job_id, timeout=60)
        self.assert_verified(self.r, job, name, folder)
        self.assertEqual(self.drive.faults.fired["expire_session"], fired + 1)

    def test_429_with_retry_after_is_honoured(self):
        name, folder = self.new_app(self.r)
        fired = self.drive.faults.fired["rate_limit"]
        self.drive.set_fault("rate_limit", where="chunk", retry_after=1)
        started = time.monotonic()
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertEqual(self.drive.faults.fired["rate_limit"], fired + 1)

    def test_403_rate_limits_are_retried(self):
        for reason in ("rateLimitExceeded", "userRateLimitExceeded"):
            with self.subTest(reason=reason):
                name, folder = self.new_app(self.r)
                self.drive.set_fault("rate_limit", count=2, status=403, reason=reason)
                job = self.backup(self.r, name)
                self.assert_verified(self.r, job, name, folder)

    def test_503_at_initiation_is_retried(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("error", where="initiate", status=503, reason="backendError")
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)

    def test_401_mid_upload_refreshes_the_token_once(self):
        name, folder = self.new_app(self.r)
        self.backup(self.r, self.new_app(self.r)[0])  # a cached token exists
        grants = self.drive.stats()["token_grants"]["jwt_bearer"]
        self.drive.set_fault("unauthorized_once", where="chunk")
        job = self.backup(self.r, name)
        self.assert_verified(self.r, job, name, folder)
        self.assertEqual(self.drive.stats()["token_grants"]["jwt_bearer"], grants + 1)

    def test_storage_quota_of_a_service_account(self):
        # A My Drive folder: a service account has no quota there, as on Drive.
        name, folder = self.new_app(self.r, shared_drive=False)
        job = self.backup(self.r, name)
        message = self.assert_failed(self.r, job, "drive_quota_exceeded", folder)
        self.assertIn("shared drive", message)
        self.assertIn("--drive-impersonate", message)
        self.assertIn("OAuth", message)
        self.assertEqual(job["attempt"], 1)  # not retried
        self.assert_clean(message)

    def test_storage_quota_fault_at_initiation(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("quota_exceeded")
        job = self.backup(self.r, name)
        self.assert_failed(self.r, job, "drive_quota_exceeded", folder)
        self.assertEqual(job["attempt"], 1)

    def test_storage_quota_on_the_first_chunk(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        self.drive.set_fault("quota_exceeded", where="chunk")
        job = self.backup(self.r, name)
        self.assert_failed(self.r, job, "drive_quota_exceeded", folder)
        self.assertEqual(job["attempt"], 1)
        after = self.drive.stats()
        self.assertEqual(after["sessions_cancelled"] - before["sessions_cancelled"], 1)

    def test_missing_folder(self):
        name, folder = self.new_app(self.r, create_folder=False)
        job = self.backup(self.r, name)
        message = self.assert_failed(self.r, job, "drive_folder_not_found", folder)
        self.assertIn(folder, message)
        self.assertEqual(job["attempt"], 1)

    def test_wrong_sha256_checksum_deletes_the_file(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        self.drive.set_fault("wrong_sha256")
        job = self.backup(self.r, name)
        message = self.assert_failed(self.r, job, "drive_checksum_mismatch", folder)
        self.assertIn("deleted", message)
        self.assertEqual(self.drive.stats()["deletes"] - before["deletes"], 1)
        self.assertIsNone(job["backup"])

    def test_missing_sha256_checksum_is_accepted_with_md5(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("omit_sha256", persistent=True)
        job = self.backup(self.r, name)
        f = self.assert_verified(self.r, job, name, folder)
        self.assertEqual(job["backup"]["md5"], f["md5"])

    def test_missing_sha256_and_a_wrong_md5_deletes_the_file(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("omit_sha256", persistent=True)
        self.drive.set_fault("wrong_md5")
        job = self.backup(self.r, name)
        message = self.assert_failed(self.r, job, "drive_checksum_mismatch", folder)
        self.assertIn("MD5", message)
        self.assertIn("deleted", message)
        self.assertEqual(self.r.catalog(name), [])

    def test_no_checksum_at_all_catalogs_unverified_and_verifies_at_once(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("omit_checksums", persistent=True)
        job = self.backup(self.r, name)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(len(self.drive.files(folder)), 1)
        self.assertTrue(any("cataloged unverified" in w for w in job["warnings"]), job)
        self.assertEqual(self.drive.stats()["faults_fired"].get("omit_checksums"), 1)
        verifies = self.r.get("/api/jobs?app=%s&kind=verify" % name).json()["items"]
        self.assertEqual(len(verifies), 1, verifies)
        verify = self.r.wait_job(verifies[0]["id"])
        self.assertEqual(verify["state"], "succeeded", verify)
        self.assertEqual(verify["backup"]["id"], job["backup"]["id"])
        entry = self.r.get("/api/backups/" + job["backup"]["id"]).json()
        self.assertEqual(entry["status"], "available", entry)
        self.assertIsNotNone(entry["verified_at"])
        self.assertEqual(self.r.get("/api/apps/" + name).json()["last_verify"]["result"], "passed")

    def test_app_checksum_mismatch_cancels_the_session(self):
        name, folder = self.new_app(self.r)
        before = self.drive.stats()
        self.app.set(mode="wrong_checksum")
        job = self.backup(self.r, name)
        self.assert_failed(self.r, job, "checksum_mismatch", folder)
        after = self.drive.stats()
        created = after["sessions_created"] - before["sessions_created"]
        self.assertGreaterEqual(created, 1)
        self.assertEqual(after["sessions_cancelled"] - before["sessions_cancelled"], created)
        self.assertEqual(after["sessions_completed"], before["sessions_completed"])
        self.assertEqual(after["sessions_active"], 0)

    def test_app_size_mismatch_cancels_the_session(self):
        name, folder = self.new_app(self.r)
        self.app.set(mode="truncated")
        job = self.backup(self.r, name)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(self.drive.files(folder), [])
        self.assertEqual(self.drive.stats()["sessions_active"], 0)

    def test_cancel_mid_upload_leaves_nothing(self):
        name, folder = self.new_app(self.r)
        self.app.set(mode="trickle", trickle_bytes_per_sec=1 * 2**20)
        job_id = self.r.start_backup(name)
        poll_until(lambda: self.r.job(job_id)["bytes_done"] >= 600_000, interval=0.02)
        self.assertEqual(self.r.post("/api/jobs/%s/cancel" % job_id).status, 202)
        job = self.r.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual(self.drive.files(folder), [])
        self.assertEqual(self.drive.stats()["sessions_active"], 0)


class NoMd5InFlightTest(DriveCase):
    """The default: no MD5 computed in flight, so an answer without sha256Checksum is confirmed
    by reading the file back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.r = cls.server()

    def test_missing_sha256_is_cataloged_unverified_and_verified_by_reading_back(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("omit_sha256", persistent=True)
        job = self.backup(self.r, name)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertTrue(any("cataloged unverified" in w for w in job["warnings"]), job)
        self.assertGreaterEqual(self.drive.stats()["faults_fired"].get("omit_sha256", 0), 1)
        verifies = self.r.get("/api/jobs?app=%s&kind=verify" % name).json()["items"]
        self.assertEqual(len(verifies), 1, verifies)
        verify = self.r.wait_job(verifies[0]["id"])
        self.assertEqual(verify["state"], "succeeded", verify)
        entry = self.r.get("/api/backups/" + job["backup"]["id"]).json()
        self.assertEqual(entry["status"], "available", entry)
        self.assertIsNotNone(entry["verified_at"])

    def test_missing_sha256_and_bad_bytes_end_corrupt_not_counted(self):
        name, folder = self.new_app(self.r)
        self.drive.set_fault("omit_sha256", persistent=True)
        self.drive.set_fault("corrupt_download")
        job = self.backup(self.r, name)
        self.assertEqual(job["state"], "succeeded", job)
        verifies = self.r.get("/api/jobs?app=%s&kind=verify" % name).json()["items"]
        self.assertEqual(len(verifies), 1, verifies)
        verify = self.r.wait_job(verifies[0]["id"])
        self.assertEqual(verify["state"], "failed", verify)
        entry = self.r.get("/api/backups/" + job["backup"]["id"]).json()
        self.assertEqual(entry["status"], "corrupt", entry)


class CredentialsTest(DriveCase):
    """Credentials other than the shared service account, and start-up failures."""

    def test_authorized_user(self):
        user = self.drive.make_authorized_user(os.path.join(self.tmp, "user"))
        r = self.server(credentials=user["json"])
        # User credentials have quota of their own: a My Drive folder works.
        name, folder = self.new_app(r, shared_drive=False)
        job = self.backup(r, name)
        self.assert_verified(r, job, name, folder)
        self.assertGreaterEqual(self.drive.stats()["token_grants"]["refresh_token"], 1)
        self.assert_clean(r.log_text())
        self.assertNotIn(user["refresh_token"], r.log_text())
        self.assertNotIn(user["client_secret"], r.log_text())

    def test_impersonation_sets_sub(self):
        r = self.server(extra=["--drive-impersonate", "ana@example.com"])
        name, folder = self.new_app(r, shared_drive=False)
        job = self.backup(r, name)
        self.assert_verified(r, job, name, folder)
        subs = [g["sub"] for g in self.drive.stats()["grants"] if g["grant"] == "jwt_bearer"]
        self.assertIn("ana@example.com", subs)

    def test_invalid_grant_fails_the_job_with_advice(self):
        user = self.drive.make_authorized_user(os.path.join(self.tmp, "revoked"))
        r = self.server(credentials=user["json"])
        name, folder = self.new_app(r)
        self.drive.set_fault("invalid_grant")
        job = self.backup(r, name)
        message = self.assert_failed(r, job, "drive_auth_failed", folder)
        self.assertIn("invalid_grant", message)
        self.assertIn("revoked or has expired", message)
        self.assertIn(user["json"], message)
        self.assertEqual(job["attempt"], 1)
        self.assertNotIn(user["refresh_token"], message)
        self.assertNotIn(user["client_secret"], r.log_text())

    def test_invalid_grant_for_a_service_account(self):
        r = self.server()
        name, folder = self.new_app(r)
        self.drive.set_fault("invalid_grant", grant="jwt_bearer")
        job = self.backup(r, name)
        message = self.assert_failed(r, job, "drive_auth_failed", folder)
        self.assertIn(self.sa["client_email"], message)
        self.assert_clean(message)

    def serve_once(self, args):
        data_dir = tempfile.mkdtemp(prefix="respaldo-drive-start-", dir=self.tmp)
        return run_cli(serve_args(data_dir, *args), env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})

    def run_start_failure(self, creds_text):
        path = os.path.join(self.tmp, "bad-%s.json" % uuid.uuid4().hex[:6])
        with open(path, "w") as f:
            f.write(creds_text)
        p = self.serve_once(drive_args(self.drive, path))
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"), path

    def test_malformed_credentials_stop_start_up(self):
        with open(self.sa["json"]) as f:
            good = json.load(f)
        for field in ("private_key", "client_email", "private_key_id"):
            with self.subTest(field=field):
                doc = dict(good)
                del doc[field]
                code, out, path = self.run_start_failure(json.dumps(doc))
                self.assertEqual(code, 2, out)
                self.assertIn('lack \\"%s\\"' % field if '\\"' in out else 'lack "%s"' % field, out)
                self.assertIn(path, out)
                self.assertNotIn("PRIVATE KEY", out)
        code, out, _ = self.run_start_failure('{"type": "authorized_user", "client_id": "x"}')
        self.assertEqual(code, 2, out)
        self.assertIn("client_secret", out)
        code, out, _ = self.run_start_failure("{not json")
        self.assertEqual(code, 2, out)
        self.assertIn("not valid JSON", out)
        p = self.serve_once(drive_args(self.drive, os.path.join(self.tmp, "missing.json")))
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read the file", p.stderr.decode())


class TlsTest(unittest.TestCase):
    """The Drive double over HTTPS with its own CA."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-drive-tls-")
        cls.pki = make_test_pki(os.path.join(cls.tmp, "pki"))
        cls.app = AppDouble(token=APP_TOKEN, size=SIZE, seed=SEED).start()
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for r in cls.servers:
            r.cleanup()
        cls.app.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_backup(self, cert, key, extra):
        with DriveDouble(tls_cert=cert, tls_key=key, data_dir=os.path.join(self.tmp, uuid.uuid4().hex)) as d:
            self.assertTrue(d.base_url.startswith("https://"))
            sa = d.make_service_account(os.path.join(self.tmp, uuid.uuid4().hex))
            folder = "1T" + uuid.uuid4().hex[:12]
            d.add_folder(folder)
            r = Respaldo(args=drive_args(d, sa["json"], extra))
            self.servers.append(r)
            r.start()
            name = "tls-" + uuid.uuid4().hex[:8]
            r.register(name=name, url=self.app.url, token=APP_TOKEN, drive_folder_id=folder)
            job = r.run_backup(name, timeout=90)
            files = d.files(folder)
            r.cleanup()
            return job, files

    def test_success_with_ca_file(self):
        job, files = self.run_backup(self.pki["server_cert"], self.pki["server_key"],
                                     ["--ca-file", self.pki["ca_cert"]])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0]["sha256"], EXPECTED_SHA)

    def test_failure_without_ca_file(self):
        job, files = self.run_backup(self.pki["server_cert"], self.pki["server_key"], [])
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "tls_error", job)
        self.assertIn("certificate", job["error"]["message"])
        self.assertEqual(files, [])

    def test_failure_with_a_wrong_host_certificate(self):
        job, files = self.run_backup(self.pki["wrong_cert"], self.pki["wrong_key"],
                                     ["--ca-file", self.pki["ca_cert"]])
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "tls_error", job)
        self.assertIn("certificate", job["error"]["message"])
        self.assertEqual(files, [])


class OwnDriveCase(unittest.TestCase):
    """A Drive double, an app double and one folder of its own per test, for tests that change
    the double's faults or respaldo's flags in ways the shared classes above must not see."""

    folder = "1OwnFolder"

    def setUp(self):
        self.setup = DriveSetup("respaldo-drive-own-", APP_TOKEN, size=SIZE, seed=SEED)
        self.tmp, self.drive, self.sa, self.app = self.setup.tmp, self.setup.drive, self.setup.sa, self.setup.app
        self.drive.add_folder(self.folder)
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()
        self.setup.stop()

    def start_backup(self, name, extra):
        """Starts respaldo with `extra` flags, registers `name` and starts a backup of it."""
        self.server = Respaldo(args=drive_args(self.drive, self.sa["json"], extra)).start()
        self.server.register(name=name, url=self.app.url, token=APP_TOKEN,
                             drive_folder_id=self.folder)
        return self.server.start_backup(name)


class UnreachableTokenEndpointTest(OwnDriveCase):
    """Storage that cannot be reached at the start of an upload is a transient failure: the job
    is retried, then fails with storage_unavailable; nothing reaches the folder."""

    def test_connection_refused_by_the_token_endpoint_is_retried(self):
        job_id = self.start_backup("tokenless", ["--drive-token-url", "http://127.0.0.1:1/token",
                                                 "--max-attempts", "2"])
        job = self.server.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["attempt"], 2, job)
        self.assertEqual(job["error"]["code"], "storage_unavailable", job)
        self.assertIn("token endpoint", job["error"]["message"])
        self.assertEqual(self.drive.files(self.folder), [])


class CancelDuringDriveRetryTest(OwnDriveCase):
    """A cancel lands while the Drive client waits to retry a failing chunk: the job ends at
    once, not after the client's whole retry sequence, and the session is cancelled."""

    def test_cancel_interrupts_the_backoff(self):
        # Every chunk from the second on fails with 503: the client backs off 1 s, 2 s, 4 s...
        self.drive.set_fault("fail_chunk", count=1000)
        job_id = self.start_backup("cancelled", ["--retry-base-delay", "1s",
                                                 "--retry-max-delay", "30s"])
        self.assertTrue(self.server.wait_log("drive upload paused"), "drive upload paused")
        time.sleep(1.5)  # well into the backoff sequence
        started = time.time()
        c = self.server.post("/api/jobs/%s/cancel" % job_id)
        self.assertEqual(c.status, 202, c)
        job = self.server.wait_job(job_id, timeout=30)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertLess(time.time() - started, 5.0)
        self.assertEqual(self.drive.files(self.folder), [])
        self.assertGreaterEqual(self.drive.stats()["sessions_cancelled"], 1)


if __name__ == "__main__":
    unittest.main()
