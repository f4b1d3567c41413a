"""Backup jobs end to end: the real binary, the app double over loopback, local storage.

Every failing export mode must end in the right state and error code with nothing published
(no file under DATA_DIR/backups but completed, cataloged backups; no unfinished upload left)."""

import hashlib
import http.client
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

from app_double import content_bytes, content_sha256
from harness import (APP_TOKEN, FINAL_STATES, FOLDER, RFC3339, RSS_FACTOR, MiB, SMALL, Respaldo,
                     free_port, new_app_name, peak_rss_kib, register_app, start_app, wait_until)


class BackupCase(unittest.TestCase):
    """Helpers over one server (self.server) and in-process app doubles."""

    server = None

    @classmethod
    def make_server(cls, *args, **kw):
        server = Respaldo(args=list(args), **kw)
        server.start()
        return server

    def new_app(self, server=None, retention=None, **settings):
        return start_app(self, server or self.server, retention=retention, **settings)

    def register_url(self, url, server=None):
        return register_app(server or self.server, new_app_name()[0], url)

    def start_backup(self, name, server=None):
        return (server or self.server).start_backup(name)

    def job(self, job_id, server=None):
        return (server or self.server).job(job_id)

    def run_backup(self, name, server=None, timeout=60):
        return (server or self.server).run_backup(name, timeout=timeout)

    def wait_state(self, job_id, predicate, server=None, timeout=30, what="job state"):
        return wait_until(lambda: (lambda j: j if predicate(j) else None)(self.job(job_id, server)),
                          timeout=timeout, what=what)

    # -- what is on disk -----------------------------------------------------------------
    @staticmethod
    def files(server, name=None):
        """Files under DATA_DIR/backups (or under the app's directory), relative to the root."""
        root = os.path.join(server.data_dir, "backups")
        top = root if name is None else os.path.join(root, FOLDER, name)
        out = []
        for d, _, names in os.walk(top):
            for f in names:
                out.append(os.path.relpath(os.path.join(d, f), root))
        return sorted(out)

    def partials(self, server, name=None):
        return [f for f in self.files(server, name) if f.endswith(".partial")]

    def catalog(self, name, server=None):
        return (server or self.server).catalog(name)

    def assert_nothing_published(self, name, server=None):
        server = server or self.server
        self.assertEqual(self.files(server, name), [], "files left for %s" % name)
        self.assertEqual(self.partials(server), [])
        self.assertEqual(self.catalog(name, server), [])

    def assert_failed(self, job, code, attempt=None):
        self.assertEqual(job["state"], "failed", job)
        self.assertIsNotNone(job["error"], job)
        self.assertEqual(job["error"]["code"], code, job)
        self.assertTrue(job["error"]["message"], job)
        self.assertIsNone(job["backup"])
        self.assertRegex(job["finished_at"], RFC3339)
        if attempt is not None:
            self.assertEqual(job["attempt"], attempt, job)

    def assert_succeeded(self, job, app, server=None):
        """The job succeeded and its backup, in the catalog and on disk, is the app's content."""
        server = server or self.server
        self.assertEqual(job["state"], "succeeded", job)
        self.assertIsNone(job["error"])
        cfg = app.config()
        size, seed = cfg["size"], cfg["seed"]
        b = job["backup"]
        self.assertIsNotNone(b, job)
        self.assertEqual(b["size"], size)
        self.assertEqual(b["sha256"], content_sha256(size, seed))
        self.assertEqual(b["format"], cfg["format"])
        self.assertEqual(b["storage"], "local")
        self.assertEqual(b["job_id"], job["id"])
        self.assertEqual(job["bytes_done"], size)
        self.assertEqual(job["bytes_total"], size)
        path = os.path.join(server.data_dir, "backups", b["location"])
        self.assertEqual(os.path.getsize(path), size)
        if size <= 16 * MiB:
            with open(path, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), b["sha256"])
        self.assertEqual(self.partials(server), [])
        return b


# ---------------------------------------------------------------------------------------------
# Export modes: short read timeout, quick retries, two attempts per job.


class ExportModesTest(BackupCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.make_server("--read-timeout", "2s", "--connect-timeout", "2s",
                                     "--retry-base-delay", "100ms", "--retry-max-delay", "200ms",
                                     "--max-attempts", "2", "--chunk-size", "1MiB")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_manual_backup_as_the_guide_says(self):
        name, app = self.new_app()
        r = self.server.post("/api/apps/%s/backups" % name)
        self.assertEqual(r.status, 202, r)
        body = r.json()
        self.assertEqual(set(body), {"job_id", "status_url"})
        self.assertEqual(body["status_url"], "/api/jobs/" + body["job_id"])
        self.assertEqual(r.header("Location"), body["status_url"])
        job = self.server.wait_job(body["job_id"])
        for field in ("id", "app", "state", "phase", "bytes_done", "bytes_total", "attempt",
                      "created_at", "started_at", "finished_at", "error", "backup"):
            self.assertIn(field, job)
        self.assertEqual(job["id"], body["job_id"])
        self.assertEqual(job["app"], name)
        self.assertEqual(job["attempt"], 1)
        self.assertEqual(job["phase"], "pruning")  # the last phase it reached
        for t in ("created_at", "started_at", "finished_at"):
            self.assertRegex(job[t], RFC3339)
        self.assertLessEqual(job["created_at"], job["started_at"])
        self.assertLessEqual(job["started_at"], job["finished_at"])
        b = self.assert_succeeded(job, app)
        self.assertEqual(b["location"], "%s/%s/%s" % (FOLDER, name, b["name"]))
        self.assertRegex(b["name"], r"^\d{8}T\d{6}Z-%s\.pgdump$" % job["id"])
        path = os.path.join(self.server.data_dir, "backups", b["location"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), content_bytes(SMALL, app.config()["seed"]))
        self.assertEqual(self.files(self.server, name), [b["location"]])
        self.assertEqual(app.stats()["last_authorization"], "Bearer " + APP_TOKEN)

    def test_unknown_app_is_404(self):
        r = self.server.post("/api/apps/no-such-app/backups")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["code"], "app_not_found")
        self.assertTrue(r.header("Content-Type").startswith("application/problem+json"))

    def test_chunked(self):
        name, app = self.new_app(mode="chunked")
        self.assert_succeeded(self.run_backup(name), app)

    def test_empty_backup(self):
        name, app = self.new_app(size=0)
        job = self.run_backup(name)
        b = self.assert_succeeded(job, app)
        self.assertEqual(b["sha256"], hashlib.sha256(b"").hexdigest())

    def test_deferred_polls_honouring_retry_after(self):
        name, app = self.new_app(mode="deferred", deferred_polls=2, retry_after=1)
        started = time.monotonic()
        job = self.run_backup(name)
        elapsed = time.monotonic() - started
        self.assert_succeeded(job, app)
        s = app.stats()
        self.assertEqual(s["export"], 1)
        self.assertEqual(s["status"], 3)  # two "not ready" answers, then the download
        self.assertGreaterEqual(elapsed, 1.9)  # waited Retry-After (1 s) twice

    def test_deferred_retry_after_zero_polls_quickly(self):
        # Without the header respaldo would wait 2 s, then 3 s, then 4.5 s.
        name, app = self.new_app(mode="deferred", deferred_polls=3, retry_after=0,
                                 absolute_urls=True)
        started = time.monotonic()
        job = self.run_backup(name)
        self.assert_succeeded(job, app)
        self.assertEqual(app.stats()["status"], 4)
        self.assertLess(time.monotonic() - started, 6.0)

    def test_deferred_without_retry_after_uses_its_own_interval(self):
        name, app = self.new_app(mode="deferred", deferred_polls=1, retry_after=-1)
        started = time.monotonic()
        job = self.run_backup(name)
        self.assert_succeeded(job, app)
        self.assertGreaterEqual(time.monotonic() - started, 1.9)

    def test_deferred_303(self):
        name, app = self.new_app(mode="deferred_303", deferred_polls=1, retry_after=0)
        self.assert_succeeded(self.run_backup(name), app)
        s = app.stats()
        self.assertEqual(s["download"], 1)
        self.assertEqual(s["last_authorization"], "Bearer " + APP_TOKEN)

    def test_deferred_failed(self):
        name, app = self.new_app(mode="deferred_failed", deferred_polls=1, retry_after=0)
        job = self.run_backup(name)
        self.assert_failed(job, "app_export_failed", attempt=2)  # a failure report is retried
        self.assertIn("disk full", job["error"]["message"])
        self.assertEqual(app.stats()["export"], 2)
        self.assert_nothing_published(name)

    def test_deferred_download_is_held_to_the_contract(self):
        cases = [("missing_header", {"omit_header": "X-Checksum-SHA256"}, "app_contract_violation",
                  "X-Checksum-SHA256"),
                 ("missing_header", {"omit_header": "X-Size"}, "app_contract_violation", "X-Size"),
                 ("wrong_checksum", {}, "checksum_mismatch", "X-Checksum-SHA256"),
                 ("truncated", {}, "app_export_failed", "")]
        for fault, extra, code, mentions in cases:
            with self.subTest(fault=fault):
                name, app = self.new_app(mode="deferred", deferred_polls=0, retry_after=0,
                                         download_fault=fault, **extra)
                job = self.run_backup(name)
                self.assert_failed(job, code)
                self.assertIn(mentions, job["error"]["message"])
                self.assert_nothing_published(name)

    def test_wrong_checksum(self):
        name, app = self.new_app(mode="wrong_checksum")
        job = self.run_backup(name)
        self.assert_failed(job, "checksum_mismatch", attempt=1)
        self.assertEqual(job["phase"], "uploading")
        actual = content_sha256(SMALL, app.config()["seed"])
        claimed = hashlib.sha256(b"other bytes " + actual.encode()).hexdigest()
        self.assertIn(actual, job["error"]["message"])
        self.assertIn(claimed, job["error"]["message"])
        self.assert_nothing_published(name)

    def test_wrong_size(self):
        for delta in (1, -1, 5 * MiB):
            with self.subTest(size_delta=delta):
                name, app = self.new_app(mode="wrong_size", size_delta=delta)
                job = self.run_backup(name)
                self.assert_failed(job, "size_mismatch", attempt=1)
                self.assertIn(str(SMALL + delta), job["error"]["message"])
                if delta > 0:
                    self.assertIn(str(SMALL), job["error"]["message"])
                self.assert_nothing_published(name)

    def test_truncated(self):
        name, app = self.new_app(mode="truncated")
        job = self.run_backup(name)
        self.assert_failed(job, "app_export_failed", attempt=2)  # a broken stream is retried
        self.assertIn("closed", job["error"]["message"])
        self.assertEqual(app.stats()["export"], 2)
        self.assert_nothing_published(name)

    def test_missing_header(self):
        for header in ("X-Checksum-SHA256", "X-Size", "X-Format"):
            with self.subTest(header=header):
                name, app = self.new_app(mode="missing_header", omit_header=header)
                job = self.run_backup(name)
                self.assert_failed(job, "app_contract_violation", attempt=1)
                self.assertIn(header, job["error"]["message"])
                self.assert_nothing_published(name)

    def test_malformed_header(self):
        for header in ("X-Checksum-SHA256", "X-Size", "X-Format"):
            with self.subTest(header=header):
                name, app = self.new_app(mode="malformed_header", malform_header=header)
                job = self.run_backup(name)
                self.assert_failed(job, "app_contract_violation", attempt=1)
                self.assertIn(header, job["error"]["message"])
                self.assert_nothing_published(name)
        # A format that would escape the backup directory is malformed too.
        name, app = self.new_app(mode="malformed_header", malform_header="X-Format",
                                 malformed_value="../../x")
        self.assert_failed(self.run_backup(name), "app_contract_violation")
        self.assert_nothing_published(name)

    def test_unauthorized_and_forbidden_are_not_retried(self):
        for mode in ("unauthorized", "forbidden"):
            with self.subTest(mode=mode):
                name, app = self.new_app(mode=mode)
                job = self.run_backup(name)
                self.assert_failed(job, "app_unauthorized", attempt=1)
                self.assertEqual(job["phase"], "exporting")
                self.assertEqual(app.stats()["export"], 1)
                self.assert_nothing_published(name)

    def test_wrong_token_is_app_unauthorized(self):
        name, app = self.new_app()
        app.set(token="a-rotated-token")
        job = self.run_backup(name)
        self.assert_failed(job, "app_unauthorized", attempt=1)
        self.assert_nothing_published(name)

    def test_error500_then_success(self):
        name, app = self.new_app(mode="error500", fail_count=1)
        job = self.run_backup(name)
        self.assert_succeeded(job, app)
        self.assertEqual(job["attempt"], 2)
        self.assertEqual(app.stats()["errors_500"], 1)

    def test_error500_every_time(self):
        name, app = self.new_app(mode="error500", fail_count=100)
        job = self.run_backup(name)
        self.assert_failed(job, "app_export_failed", attempt=2)
        self.assertIn("500", job["error"]["message"])
        self.assert_nothing_published(name)

    def test_dropped_connection_then_success(self):
        name, app = self.new_app(mode="drop", fail_count=1)
        job = self.run_backup(name)
        self.assert_succeeded(job, app)
        self.assertEqual(job["attempt"], 2)

    def test_connection_refused(self):
        name = self.register_url("http://127.0.0.1:%d" % free_port())
        job = self.run_backup(name)
        self.assert_failed(job, "app_unreachable", attempt=2)
        self.assert_nothing_published(name)

    def test_stall_fails_by_read_timeout(self):
        name, app = self.new_app(mode="stall", stall_after=64 * 1024, stall_seconds=60)
        started = time.monotonic()
        job = self.run_backup(name)
        self.assert_failed(job, "app_timeout", attempt=2)
        self.assertIn("stalled", job["error"]["message"])
        self.assertGreaterEqual(time.monotonic() - started, 3.9)  # 2 attempts x --read-timeout 2s
        self.assert_nothing_published(name)

    def test_stall_before_headers_fails_by_read_timeout(self):
        name, app = self.new_app(mode="stall_headers", stall_seconds=60)
        job = self.run_backup(name)
        self.assert_failed(job, "app_timeout", attempt=2)
        self.assert_nothing_published(name)

    def test_interim_response_flood_is_a_contract_violation(self):
        # An app that answers 100 Continue forever would hold the job (and the io thread) until
        # the job deadline; after 8 interim responses the export is refused at once.
        name, app = self.new_app(mode="interim_flood")
        job = self.run_backup(name)
        self.assert_failed(job, "app_contract_violation", attempt=1)
        self.assertIn("more than 8 interim (1xx) responses", job["error"]["message"])
        self.assertGreaterEqual(app.stats()["interim_sent"], 9)
        self.assert_nothing_published(name)

    def test_trickle_longer_than_the_read_timeout_completes(self):
        # 3 MiB at 1 MiB/s: the whole export takes longer than --read-timeout, but data never
        # stops flowing for that long.
        name, app = self.new_app(mode="trickle", trickle_bytes_per_sec=MiB)
        started = time.monotonic()
        job = self.run_backup(name)
        self.assert_succeeded(job, app)
        self.assertEqual(job["attempt"], 1)
        self.assertGreater(time.monotonic() - started, 2.0)

    def test_bad_version(self):
        name, app = self.new_app(mode="bad_version")
        job = self.run_backup(name)
        self.assert_failed(job, "app_contract_violation", attempt=1)
        self.assertEqual(job["phase"], "probing")
        self.assertIn("v2", job["error"]["message"])
        self.assertEqual(app.stats()["export"], 0)
        self.assert_nothing_published(name)

    def test_bad_capabilities(self):
        name, app = self.new_app(mode="bad_capabilities")
        job = self.run_backup(name)
        self.assert_failed(job, "app_contract_violation", attempt=1)
        self.assertEqual(app.stats()["export"], 0)
        self.assert_nothing_published(name)


# ---------------------------------------------------------------------------------------------
# Cancel, conflicts, listing and the catalog: a long read timeout, two jobs at once.


class JobsAndCatalogTest(BackupCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.make_server("--read-timeout", "60s", "--max-concurrent-jobs", "2",
                                     "--retry-base-delay", "100ms", "--max-attempts", "2",
                                     "--chunk-size", "1MiB")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def stalled_app(self, **kw):
        # The first chunk (1 MiB) arrives, then nothing: the job sits in "uploading".
        return self.new_app(mode="stall", stall_after=MiB + MiB // 2, stall_seconds=120, **kw)

    def cancel(self, job_id):
        return self.server.post("/api/jobs/%s/cancel" % job_id)

    def test_conflict_names_the_active_job(self):
        name, app = self.stalled_app()
        first = self.start_backup(name)
        r = self.server.post("/api/apps/%s/backups" % name)
        self.assertEqual(r.status, 409, r)
        problem = r.json()
        self.assertEqual(problem["code"], "backup_in_progress")
        self.assertEqual(problem["job_id"], first)
        self.assertIn(first, problem["detail"])
        self.assertEqual(self.cancel(first).status, 202)
        self.server.wait_job(first)
        # Once it is over, a new backup may start.
        app.set(mode="normal")
        self.assert_succeeded(self.run_backup(name), app)

    def test_running_job_fields(self):
        name, app = self.stalled_app()
        job_id = self.start_backup(name)
        job = self.wait_state(job_id, lambda j: j["bytes_done"] >= MiB, what="first chunk")
        self.assertEqual(job["state"], "running")
        self.assertEqual(job["phase"], "uploading")
        self.assertEqual(job["bytes_total"], SMALL)
        self.assertEqual(job["attempt"], 1)
        self.assertRegex(job["started_at"], RFC3339)
        self.assertIsNone(job["finished_at"])
        self.assertIsNone(job["error"])
        self.assertIsNone(job["backup"])
        # The upload in progress is a hidden temporary file, not a backup.
        self.assertEqual(len(self.partials(self.server, name)), 1)
        self.assertEqual(self.catalog(name), [])
        self.cancel(job_id)
        self.server.wait_job(job_id)

    def test_cancel_running_job(self):
        name, app = self.stalled_app()
        job_id = self.start_backup(name)
        self.wait_state(job_id, lambda j: j["bytes_done"] >= MiB, what="first chunk")
        self.assertTrue(self.partials(self.server, name))
        started = time.monotonic()
        r = self.cancel(job_id)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["id"], job_id)
        job = self.server.wait_job(job_id, timeout=30)
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual(job["error"]["code"], "cancelled")
        self.assertRegex(job["finished_at"], RFC3339)
        self.assert_nothing_published(name)
        # The app saw respaldo hang up on the stalled export.
        wait_until(lambda: app.stats()["client_aborts"] >= 1, what="the export connection closed")

    def test_cancel_during_deferred_polling(self):
        name, app = self.new_app(mode="deferred", deferred_polls=1000, retry_after=30)
        job_id = self.start_backup(name)
        self.wait_state(job_id, lambda j: j["phase"] == "exporting", what="exporting")
        wait_until(lambda: app.stats()["status"] >= 1, what="first poll")
        started = time.monotonic()
        self.assertEqual(self.cancel(job_id).status, 202)
        job = self.server.wait_job(job_id, timeout=20)
        self.assertEqual(job["state"], "cancelled")
        self.assertLess(time.monotonic() - started, 10)  # not after Retry-After's 30 s
        self.assert_nothing_published(name)

    def test_cancel_finished_or_unknown_job(self):
        name, app = self.new_app()
        job = self.run_backup(name)
        self.assertEqual(job["state"], "succeeded")
        r = self.cancel(job["id"])
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["code"], "job_finished")
        self.assertEqual(r.json()["job_id"], job["id"])
        self.assertEqual(self.job(job["id"])["state"], "succeeded")
        r = self.cancel("0000000000000000")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.server.get("/api/jobs/0000000000000000").status, 404)

    def test_concurrency_limit_and_queued_cancel(self):
        apps = [self.stalled_app() for _ in range(3)]
        ids = [self.start_backup(name) for name, _ in apps]

        def states():
            return [self.job(i)["state"] for i in ids]

        wait_until(lambda: states().count("running") == 2, what="two running jobs")
        # For a while, never more than two run at once, and the third waits its turn (FIFO).
        for _ in range(15):
            s = states()
            self.assertLessEqual(s.count("running"), 2, s)
            time.sleep(0.05)
        self.assertEqual(states(), ["running", "running", "queued"])
        r = self.server.get("/api/jobs?state=running")
        self.assertEqual(r.status, 200)
        self.assertEqual({j["id"] for j in r.json()["items"]} & set(ids), set(ids[:2]))
        self.assertEqual(apps[2][1].stats()["export"], 0)

        # A queued job is cancelled at once and never reaches the app.
        extra_name, extra_app = self.stalled_app()
        extra = self.start_backup(extra_name)
        r = self.cancel(extra)
        self.assertEqual(r.status, 202)
        self.assertEqual(self.server.wait_job(extra, timeout=10)["state"], "cancelled")
        self.assertEqual(extra_app.stats()["export"], 0)

        # Freeing a slot lets the queued job run.
        self.cancel(ids[0])
        self.server.wait_job(ids[0])
        self.wait_state(ids[2], lambda j: j["state"] == "running", what="third job running")
        for i in ids[1:]:
            self.cancel(i)
        for i in ids:
            self.assertEqual(self.server.wait_job(i)["state"], "cancelled")
        for name, _ in apps:
            self.assert_nothing_published(name)

    def test_list_jobs_newest_first_with_paging(self):
        name, app = self.new_app()
        other, other_app = self.new_app()
        created = []
        for i in range(4):
            if i == 2:
                app.set(mode="wrong_checksum")
            else:
                app.set(mode="normal")
            created.append(self.run_backup(name)["id"])
        self.run_backup(other)
        r = self.server.get("/api/jobs?app=%s" % name)
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertEqual([j["id"] for j in items], created[::-1])
        self.assertIsNone(r.json()["next_cursor"])
        self.assertTrue(all(j["app"] == name for j in items))

        r = self.server.get("/api/jobs?app=%s&state=failed" % name)
        self.assertEqual([j["id"] for j in r.json()["items"]], [created[2]])
        r = self.server.get("/api/jobs?app=%s&state=succeeded" % name)
        self.assertEqual([j["id"] for j in r.json()["items"]], [created[3], created[1], created[0]])

        seen, cursor = [], None
        for _ in range(5):
            path = "/api/jobs?app=%s&limit=3" % name + ("&cursor=" + cursor if cursor else "")
            page = self.server.get(path).json()
            self.assertLessEqual(len(page["items"]), 3)
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, created[::-1])

        # Without a filter the newest jobs of every app come first.
        latest = self.server.get("/api/jobs?limit=2").json()["items"]
        self.assertEqual(latest[1]["id"], created[-1])
        self.assertEqual(latest[0]["app"], other)

        for bad in ("state=bogus", "limit=0", "limit=abc", "cursor=%21%21"):
            self.assertEqual(self.server.get("/api/jobs?" + bad).status, 400, bad)

    def test_catalog_and_content_round_trip(self):
        name, app = self.new_app(size=SMALL, seed=41, format="tar.gz")
        first = self.run_backup(name)
        app.set(seed=42, size=SMALL + 1000)
        second = self.run_backup(name)
        self.assert_succeeded(second, app)

        r = self.server.get("/api/apps/%s/backups" % name)
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertEqual([b["job_id"] for b in items], [second["id"], first["id"]])
        for b, job, (size, seed) in zip(items, (second, first),
                                        ((SMALL + 1000, 42), (SMALL, 41))):
            for field in ("id", "created_at", "size", "sha256", "format", "storage", "location",
                          "job_id"):
                self.assertIn(field, b)
            self.assertEqual(b["id"], job["backup"]["id"])
            self.assertEqual(b["size"], size)
            self.assertEqual(b["sha256"], content_sha256(size, seed))
            self.assertEqual(b["format"], "tar.gz")
            self.assertEqual(b["storage"], "local")
            self.assertRegex(b["created_at"], RFC3339)
            self.assertTrue(b["location"].endswith(".tar.gz"))

            one = self.server.get("/api/backups/" + b["id"])
            self.assertEqual(one.status, 200, one)
            single = one.json()
            self.assertEqual(single.pop("drills"), [])  # only the single view lists its drills
            self.assertEqual(single, b)

            content = self.server.get("/api/backups/%s/content" % b["id"])
            self.assertEqual(content.status, 200, content)
            self.assertEqual(content.body, content_bytes(size, seed))
            self.assertEqual(content.header("X-Checksum-SHA256"), b["sha256"])
            self.assertEqual(content.header("X-Size"), str(size))
            self.assertEqual(content.header("X-Format"), "tar.gz")
            self.assertEqual(content.header("Content-Length"), str(size))

        page = self.server.get("/api/apps/%s/backups?limit=1" % name).json()
        self.assertEqual([b["id"] for b in page["items"]], [items[0]["id"]])
        rest = self.server.get("/api/apps/%s/backups?limit=1&cursor=%s"
                               % (name, page["next_cursor"])).json()
        self.assertEqual([b["id"] for b in rest["items"]], [items[1]["id"]])

        self.assertEqual(self.server.get("/api/backups/0000000000000000").status, 404)
        self.assertEqual(self.server.get("/api/backups/0000000000000000/content").status, 404)
        self.assertEqual(self.server.get("/api/apps/no-such-app/backups").status, 404)

    def test_retention_keeps_the_backup_just_made(self):
        # The guide's policy keeps one backup a day: each new backup replaces the previous one of
        # the day, even when both were made within the same second.
        name, app = self.new_app(size=64 * 1024, retention={"daily": 7, "weekly": 4})
        for _ in range(4):
            job = self.run_backup(name)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertIsNotNone(job["backup"], "the backup just made was pruned: %s" % job)
            self.assertEqual([b["id"] for b in self.catalog(name)], [job["backup"]["id"]])
            self.assertEqual(self.files(self.server, name), [job["backup"]["location"]])

    def read_content(self, backup_id):
        """(status, declared length, bytes received, complete?) of GET .../content."""
        conn = self.server.connection(timeout=30)
        try:
            conn.request("GET", "/api/backups/%s/content" % backup_id,
                         headers={"Authorization": "Bearer " + self.server.admin_token})
            r = conn.getresponse()
            length = int(r.getheader("Content-Length"))
            try:
                data = r.read()
                return r.status, length, data, len(data) == length
            except http.client.IncompleteRead as e:
                return r.status, length, e.partial, False
        finally:
            conn.close()

    def test_corrupted_file_is_never_served_as_complete(self):
        name, app = self.new_app(size=SMALL)
        job = self.run_backup(name)
        b = self.assert_succeeded(job, app)
        path = os.path.join(self.server.data_dir, "backups", b["location"])
        original = content_bytes(SMALL, app.config()["seed"])

        status, length, data, complete = self.read_content(b["id"])
        self.assertEqual((status, length, complete), (200, SMALL, True))
        self.assertEqual(data, original)

        for where in (SMALL - 1, 10):  # in the last piece, and in the first
            with self.subTest(flipped_byte=where):
                damaged = bytearray(original)
                damaged[where] ^= 0xFF
                with open(path, "wb") as f:
                    f.write(damaged)
                status, length, data, complete = self.read_content(b["id"])
                self.assertEqual((status, length), (200, SMALL))
                self.assertFalse(complete, "a corrupted backup was served in full")
                self.assertLess(len(data), SMALL)

        with self.subTest(truncated=True):
            with open(path, "wb") as f:
                f.write(original[: SMALL - 100])
            status, length, data, complete = self.read_content(b["id"])
            self.assertFalse(complete)
            self.assertEqual(data, original[: len(data)])

        with self.subTest(missing=True):
            os.remove(path)
            r = self.server.get("/api/backups/%s/content" % b["id"])
            self.assertEqual(r.status, 404, r)
        # The server is fine afterwards.
        self.assertEqual(self.server.get("/readyz", auth=False).status, 200)


# ---------------------------------------------------------------------------------------------
# Restarts: each test has its own server and data directory.


class RestartTest(BackupCase):
    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()

    def test_queued_job_runs_after_restart(self):
        self.server = self.make_server("--max-concurrent-jobs", "1", "--chunk-size", "1MiB",
                                       "--read-timeout", "60s", "--shutdown-grace", "5s")
        stalled, stalled_app = self.new_app(mode="stall", stall_after=MiB + 10, stall_seconds=120)
        waiting, waiting_app = self.new_app()
        first = self.start_backup(stalled)
        self.wait_state(first, lambda j: j["state"] == "running", what="first job running")
        second = self.start_backup(waiting)
        time.sleep(0.3)
        self.assertEqual(self.job(second)["state"], "queued")

        self.assertEqual(self.server.stop(), 0)
        stalled_app.set(mode="normal")
        self.server.start()
        a = self.server.wait_job(first)
        b = self.server.wait_job(second)
        self.assert_succeeded(a, stalled_app)
        self.assert_succeeded(b, waiting_app)
        self.assertEqual(a["attempt"], 1)  # a shutdown does not spend an attempt
        self.assertEqual(b["attempt"], 1)
        self.assertEqual(self.partials(self.server), [])

    def test_queued_job_survives_sigkill(self):
        self.server = self.make_server("--max-concurrent-jobs", "1", "--read-timeout", "60s")
        stalled, stalled_app = self.new_app(mode="stall", stall_seconds=120)
        waiting, waiting_app = self.new_app()
        first = self.start_backup(stalled)
        self.wait_state(first, lambda j: j["state"] == "running", what="first job running")
        second = self.start_backup(waiting)
        self.server.stop(signal.SIGKILL)
        stalled_app.set(mode="normal")
        self.server.start()
        self.assert_succeeded(self.server.wait_job(second), waiting_app)
        self.assert_succeeded(self.server.wait_job(first), stalled_app)

    def test_token_that_cannot_be_unsealed(self):
        # A replaced secret key leaves the app's sealed token unreadable: the job fails at once,
        # without retries, and the server keeps working.
        self.server = self.make_server()
        name, app = self.new_app(size=MiB)
        self.server.stop()
        os.remove(os.path.join(self.server.data_dir, "secret.key"))
        self.server.start()
        for _ in range(2):
            job = self.run_backup(name)
            self.assert_failed(job, "app_unauthorized", attempt=1)
            self.assertIn("PATCH /api/apps/" + name, job["error"]["message"])
        self.assertEqual(app.stats()["export"], 0)
        self.assertEqual(self.server.get("/readyz", auth=False).status, 200)
        r = self.server.request("PATCH", "/api/apps/" + name, {"token": APP_TOKEN})
        self.assertEqual(r.status, 200, r)
        self.assert_succeeded(self.run_backup(name), app)

    def kill_during_upload(self, *args):
        self.server = self.make_server("--chunk-size", "1MiB", "--read-timeout", "60s", *args)
        name, app = self.new_app(mode="stall", stall_after=2 * MiB + 10, stall_seconds=120)
        job_id = self.start_backup(name)
        self.wait_state(job_id, lambda j: j["bytes_done"] >= MiB, what="first chunk")
        root = os.path.join(self.server.data_dir, "backups")

        def partial_size():
            found = self.partials(self.server, name)
            return found and os.path.getsize(os.path.join(root, found[0])) >= MiB

        # Part of the backup is on disk, in the unfinished upload's file.
        wait_until(partial_size, what="partial file")
        self.assertEqual(self.server.stop(signal.SIGKILL), -signal.SIGKILL)
        self.assertEqual(len(self.partials(self.server, name)), 1)
        app.set(mode="normal")
        self.server.start()
        return name, app, job_id

    def test_sigkill_during_a_running_job_retries_it(self):
        name, app, job_id = self.kill_during_upload("--max-attempts", "2")
        job = self.server.wait_job(job_id)
        self.assert_succeeded(job, app)
        self.assertEqual(job["attempt"], 2)
        self.assertTrue(any("interrupted" in w for w in job["warnings"]), job)
        self.assertTrue(self.server.wait_log("interrupted job queued again"),
                        "interrupted job queued again")
        self.assertTrue(self.server.wait_log("removed unfinished uploads"),
                        "removed unfinished uploads")
        self.assertEqual(len(self.files(self.server, name)), 1)

    def test_sigkill_during_a_running_job_without_attempts_left_fails_it(self):
        name, app, job_id = self.kill_during_upload("--max-attempts", "1")
        job = self.server.wait_job(job_id)
        self.assert_failed(job, "interrupted", attempt=1)
        self.assert_nothing_published(name)
        self.assertEqual(self.server.get("/api/jobs?state=running").json()["items"], [])
        # The app can be backed up again right away.
        self.assert_succeeded(self.run_backup(name), app)


class DeadlineTest(BackupCase):
    def test_job_deadline_stops_a_stalled_job(self):
        self.server = self.make_server("--job-deadline", "1s", "--read-timeout", "60s")
        self.addCleanup(self.server.cleanup)
        name, app = self.new_app(mode="stall", stall_seconds=120)
        started = time.monotonic()
        job = self.run_backup(name, timeout=30)
        self.assert_failed(job, "job_deadline_exceeded", attempt=1)  # not retried
        self.assertLess(time.monotonic() - started, 20)
        self.assert_nothing_published(name)


# ---------------------------------------------------------------------------------------------
# Large streams: bounded memory.


class LargeStreamTest(BackupCase):
    def backup_with_peak_rss(self, size, seed, mode="normal"):
        """Runs one backup on a fresh server; returns the backup and respaldo's peak RSS in KiB."""
        self.server = self.make_server()  # default 8 MiB chunks
        self.addCleanup(self.server.cleanup)
        name, app = self.new_app(size=size, seed=seed, mode=mode)
        job_id = self.start_backup(name)
        pid = self.server.proc.pid
        peak = 0
        deadline = time.monotonic() + 100
        job = None
        while time.monotonic() < deadline:
            peak = max(peak, peak_rss_kib(pid))
            job = self.job(job_id)
            if job["state"] in FINAL_STATES:
                break
            time.sleep(0.1)
        peak = max(peak, peak_rss_kib(pid))
        self.assertEqual(job["state"], "succeeded", job)
        b = job["backup"]
        self.assertEqual(b["size"], size)
        self.assertEqual(b["sha256"], content_sha256(size, seed))
        path = os.path.join(self.server.data_dir, "backups", b["location"])
        self.assertEqual(os.path.getsize(path), size)
        os.remove(path)
        sys.stderr.write("\n%d MiB %s backup: respaldo peak RSS (VmHWM) %.1f MiB\n"
                         % (size >> 20, mode, peak / 1024))
        return b, peak

    def test_one_gib_with_bounded_rss(self):
        b, peak = self.backup_with_peak_rss(1 << 30, 3)
        self.assertLess(peak, 120 * 1024 * RSS_FACTOR, "peak RSS %d KiB" % peak)

    def test_chunked_stream_with_bounded_rss(self):
        b, peak = self.backup_with_peak_rss(512 << 20, 4, mode="chunked")
        self.assertLess(peak, 120 * 1024 * RSS_FACTOR, "peak RSS %d KiB" % peak)


# ---------------------------------------------------------------------------------------------
# Storage failures: the job fails with storage_error, nothing is left, the service stays healthy.


def limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # kept across exec: writes get EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def try_mount(args):
    try:
        return subprocess.run(["mount"] + args, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class StorageFailureTest(BackupCase):
    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()

    def assert_healthy_after(self, name, app):
        self.assertEqual(self.server.get("/healthz", auth=False).status, 200)
        self.assertEqual(self.server.get("/readyz", auth=False).status, 200)
        app.set(size=MiB)
        self.assert_succeeded(self.run_backup(name), app)

    def test_write_error_fails_with_storage_error(self):
        # Files may not grow past 16 MiB: a 24 MiB backup hits EFBIG half-way.
        self.server = self.make_server("--chunk-size", "1MiB",
                                       preexec_fn=limit_file_size(16 * MiB))
        name, app = self.new_app(size=24 * MiB)
        job = self.run_backup(name)
        self.assert_failed(job, "storage_error", attempt=1)
        self.assertIn("File too large", job["error"]["message"])
        self.assert_nothing_published(name)
        self.assert_healthy_after(name, app)

    def test_full_disk_fails_with_storage_error(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        data_dir = tempfile.mkdtemp(prefix="respaldo-full-")
        backups = os.path.join(data_dir, "backups")
        os.makedirs(backups)
        if not try_mount(["-t", "tmpfs", "-o", "size=8m", "tmpfs", backups]):
            os.rmdir(backups)
            os.rmdir(data_dir)
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(shutil.rmtree, data_dir, True)
        self.addCleanup(subprocess.run, ["umount", "-l", backups], capture_output=True)
        self.server = Respaldo(data_dir=data_dir, args=["--chunk-size", "1MiB"]).start()
        # The 6 MiB fit when the upload begins (a larger X-Size is refused up front with
        # storage_full); 4 MiB written beside it meanwhile fill the disk half-way through.
        name, app = self.new_app(size=6 * MiB, mode="trickle", trickle_bytes_per_sec=2 * MiB)
        job_id = self.start_backup(name)
        self.wait_state(job_id, lambda j: j["bytes_done"] > 0 or j["state"] in FINAL_STATES)
        with open(os.path.join(backups, "filler"), "wb") as f:
            f.write(b"\0" * (4 * MiB))
        job = self.server.wait_job(job_id)
        self.assert_failed(job, "storage_error", attempt=1)
        self.assertIn("No space left", job["error"]["message"])
        self.assert_nothing_published(name)
        fs = os.statvfs(backups)
        self.assertGreater(fs.f_bavail * fs.f_frsize, 3 * MiB)  # the partial file's space is back
        app.set(mode="normal")
        self.assert_healthy_after(name, app)

    def test_read_only_backups_directory_fails_with_storage_error(self):
        self.server = self.make_server("--chunk-size", "1MiB")
        name, app = self.new_app(size=MiB)
        self.assert_succeeded(self.run_backup(name), app)  # creates the app's directory
        app_dir = os.path.join(self.server.data_dir, "backups", FOLDER, name)
        if os.geteuid() == 0:
            if not (try_mount(["--bind", app_dir, app_dir])
                    and try_mount(["-o", "remount,bind,ro", app_dir])):
                subprocess.run(["umount", app_dir], capture_output=True)
                self.skipTest("cannot make a read-only bind mount here")
            undo = lambda: subprocess.run(["umount", app_dir], capture_output=True)
        else:
            os.chmod(app_dir, 0o555)
            undo = lambda: os.chmod(app_dir, 0o755)
        try:
            job = self.run_backup(name)
        finally:
            undo()
        self.assert_failed(job, "storage_error", attempt=1)
        self.assertEqual(len(self.catalog(name)), 1)
        self.assertEqual(len(self.files(self.server, name)), 1)
        self.assertEqual(self.partials(self.server), [])
        self.assert_healthy_after(name, app)


if __name__ == "__main__":
    unittest.main()
