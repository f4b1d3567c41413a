"""The client commands (`respaldo apps|backup|jobs|restore`) against a real server and app doubles.

Each command runs as a separate process, the way people and CI pipelines use it; every output is
checked for the admin token, which must never appear."""

import hashlib
import http.server
import json
import os
import shutil
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from app_double import content_bytes, content_sha256
from harness import (APP_TOKEN, BIN, FOLDER, GUIDE_APP, SMALL, Respaldo, free_port,
                     RSS_FACTOR, peak_rss_kib, start_app)

ADMIN_TOKEN = "cli-admin-token-4f1d9a7c2b"


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "<exit %s\nstdout: %s\nstderr: %s>" % (self.rc, self.out[-2000:], self.err[-2000:])


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Respaldo(admin_token=ADMIN_TOKEN,
                              args=["--chunk-size", "1MiB", "--read-timeout", "5s",
                                    "--retry-base-delay", "100ms", "--retry-max-delay", "200ms",
                                    "--max-attempts", "2", "--probe-interval", "0s"])
        cls.server.start()
        cls.url = "http://127.0.0.1:%d" % cls.server.port
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-cli-")
        cls.token_file = os.path.join(cls.tmp, "admin-token")
        with open(cls.token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------------
    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RESPALDO_ADMIN_TOKEN", "RESPALDO_SERVER")}
        env.update(extra)
        return env

    def check_secrets(self, run, *secrets):
        for secret in (ADMIN_TOKEN, APP_TOKEN, GUIDE_APP["token"]) + secrets:
            self.assertNotIn(secret, run.out, "a token was printed")
            self.assertNotIn(secret, run.err, "a token was printed")

    def cli(self, *args, stdin=None, env=None, auth=True, server=True, timeout=60):
        cmd = [BIN] + list(args)
        if server:
            cmd += ["--server", self.url]
        if auth:
            cmd += ["--token-file", self.token_file]
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           env=env if env is not None else self.env())
        run = Run(p.returncode, p.stdout, p.stderr)
        self.check_secrets(run)
        return run

    def assert_exit(self, run, code):
        self.assertEqual(run.rc, code, run)

    def new_app(self, **settings):
        return start_app(self, self.server, prefix="cli-app", **settings)

    def start_backup(self, name):
        return self.server.start_backup(name)

    def backup_file(self, job):
        return os.path.join(self.server.data_dir, "backups", job["backup"]["location"])

    def out_path(self, name):
        d = tempfile.mkdtemp(dir=self.tmp)
        return os.path.join(d, name)

    # -- apps -----------------------------------------------------------------------------
    def test_apps_register_list_get_delete(self):
        body = dict(GUIDE_APP, name="guide-app")
        path = os.path.join(self.tmp, "app.json")
        with open(path, "w") as f:
            json.dump(body, f)
        r = self.cli("apps", "register", "--file", path)
        self.assert_exit(r, 0)
        self.assertEqual(r.out, "registered app guide-app\n")
        stored = self.server.get("/api/apps/guide-app").json()
        for field in ("url", "drive_folder_id", "schedule", "retention"):
            self.assertEqual(stored[field], body[field])

        # From the standard input, with --json.
        r = self.cli("apps", "register", "--file", "-", "--json",
                     stdin=json.dumps(dict(GUIDE_APP, name="stdin-app")))
        self.assert_exit(r, 0)
        self.assertEqual(r.json(), {"id": "stdin-app", "status": "registered"})

        r = self.cli("apps", "list")
        self.assert_exit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split()[:2], ["NAME", "SCHEDULE"])
        rows = {line.split()[0]: line for line in lines[1:]}
        self.assertIn("guide-app", rows)
        self.assertIn("stdin-app", rows)
        self.assertIn("0 3 * * *", rows["guide-app"])
        r = self.cli("apps", "list", "--json")
        self.assert_exit(r, 0)
        names = [a["name"] for a in r.json()["items"]]
        self.assertIn("guide-app", names)
        self.assertEqual(names, sorted(names))
        self.assertIsNone(r.json()["next_cursor"])

        r = self.cli("apps", "get", "guide-app")
        self.assert_exit(r, 0)
        fields = dict(line.split(":", 1) for line in r.out.splitlines())
        fields = {k: v.strip() for k, v in fields.items()}
        self.assertEqual(fields["name"], "guide-app")
        self.assertEqual(fields["url"], "http://mi-app:8000")
        self.assertEqual(fields["schedule"], "0 3 * * * (UTC)")
        self.assertEqual(fields["retention"], "daily=7 weekly=4")
        self.assertEqual(fields["drive_folder_id"], FOLDER)
        r = self.cli("apps", "get", "guide-app", "--json")
        self.assert_exit(r, 0)
        self.assertEqual(r.json()["token_set"], True)
        self.assertEqual(r.json()["retention"], {"daily": 7, "weekly": 4})

        # Refusals are the server's problem details, exit 1.
        r = self.cli("apps", "register", "--file", path)
        self.assert_exit(r, 1)
        self.assertRegex(r.err, r"^error: .*guide-app.* \(app_exists\)\n$")
        r = self.cli("apps", "register", "--file", "-",
                     stdin=json.dumps(dict(GUIDE_APP, name="bad-app", schedule="0 25 * * *")))
        self.assert_exit(r, 1)
        self.assertIn("schedule", r.err)
        self.assertIn("(validation_failed)", r.err)
        r = self.cli("apps", "register", "--file", "-", stdin="{not json")
        self.assert_exit(r, 1)
        self.assertIn("(malformed_json)", r.err)

        r = self.cli("apps", "delete", "stdin-app")
        self.assert_exit(r, 0)
        self.assertIn("deleted app stdin-app", r.out)
        r = self.cli("apps", "get", "stdin-app")
        self.assert_exit(r, 1)
        self.assertRegex(r.err, r"^error: .*stdin-app.* \(app_not_found\)\n$")
        r = self.cli("apps", "delete", "stdin-app", "--json")
        self.assert_exit(r, 1)
        self.assertEqual(r.out, "")
        r = self.cli("apps", "delete", "guide-app", "--json")
        self.assert_exit(r, 0)
        self.assertEqual(r.json(), {"id": "guide-app", "status": "deleted"})

    # -- backup ---------------------------------------------------------------------------
    def test_backup_wait_succeeds(self):
        name, app = self.new_app()
        r = self.cli("backup", name, "--wait", "--timeout", "60s")
        self.assert_exit(r, 0)
        lines = r.out.splitlines()
        self.assertRegex(lines[0], r"^job \S+ started for app %s$" % name)
        job_id = lines[0].split()[1]
        job = self.server.wait_job(job_id)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(lines[-1], "succeeded: backup %s, 3.0 MiB, sha256 %s"
                         % (job["backup"]["id"], content_sha256(SMALL, app.config()["seed"])))
        self.assertEqual(r.err, "")

        # Without --wait: just the job id, for scripts.
        r = self.cli("backup", name)
        self.assert_exit(r, 0)
        job_id = r.out.strip()
        self.assertRegex(job_id, r"^\S+$")
        self.assertEqual(self.server.wait_job(job_id)["state"], "succeeded")

        # --json --wait: only the final job document on stdout.
        r = self.cli("backup", name, "--wait", "--json")
        self.assert_exit(r, 0)
        job = r.json()
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(job["app"], name)
        self.assertEqual(job["backup"]["size"], SMALL)
        r = self.cli("backup", name, "--json")
        self.assert_exit(r, 0)
        self.assertEqual(set(r.json()), {"job_id", "status_url"})
        self.server.wait_job(r.json()["job_id"])

        r = self.cli("backup", "no-such-app", "--wait")
        self.assert_exit(r, 1)
        self.assertIn("(app_not_found)", r.err)

    def test_backup_wait_fails_with_the_code(self):
        name, app = self.new_app(mode="wrong_checksum")
        r = self.cli("backup", name, "--wait")
        self.assert_exit(r, 1)
        self.assertRegex(r.err, r"^error: job \S+ failed: .+ \(checksum_mismatch\)\n$")
        self.assertNotIn("succeeded", r.out)
        r = self.cli("backup", name, "--wait", "--json")
        self.assert_exit(r, 1)
        self.assertEqual(r.json()["error"]["code"], "checksum_mismatch")
        self.assertIn("(checksum_mismatch)", r.err)

    def test_conflict_follows_the_active_job_and_cancel(self):
        name, app = self.new_app(mode="stall", stall_after=2**20 + 2**19, stall_seconds=120)
        first = self.start_backup(name)
        deadline = time.monotonic() + 30
        while self.server.get("/api/jobs/" + first).json()["bytes_done"] < 2**20:
            self.assertLess(time.monotonic(), deadline, "the job never started uploading")
            time.sleep(0.05)

        # Without --wait a second backup is refused, naming the running one.
        r = self.cli("backup", name)
        self.assert_exit(r, 1)
        self.assertIn(first, r.err)
        self.assertIn("(backup_in_progress)", r.err)

        # With --wait it follows that job; the timeout expires first (exit 3).
        started = time.monotonic()
        r = self.cli("backup", name, "--wait", "--timeout", "1500ms")
        self.assert_exit(r, 3)
        self.assertLess(time.monotonic() - started, 20)
        self.assertIn("already in progress: following job %s" % first, r.out)
        self.assertIn("running: uploading", r.out)
        self.assertIn("did not finish within 1500ms", r.err)
        self.assertIn("respaldo jobs get %s" % first, r.err)
        self.assertEqual(self.server.get("/api/jobs/" + first).json()["state"], "running")

        # A follower in the background sees the cancellation and exits 1 with its code.
        cmd = [BIN, "backup", name, "--wait", "--server", self.url, "--token-file",
               self.token_file]
        follower = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=self.env())
        lines = []
        try:
            # Cancel only once it follows the running job (its first line says so), or it would
            # start a backup of its own.
            reader = threading.Thread(target=lambda: lines.append(follower.stdout.readline()),
                                      daemon=True)
            reader.start()
            reader.join(timeout=20)
            self.assertTrue(lines and lines[0], "the follower printed nothing")
            r = self.cli("jobs", "cancel", first)
            self.assert_exit(r, 0)
            self.assertRegex(r.out, r"^(job %s cancelled|cancellation of job %s requested .*)\n$"
                             % (first, first))
            out, err = follower.communicate(timeout=20)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
        run = Run(follower.returncode, lines[0] + out, err)
        self.check_secrets(run)
        self.assert_exit(run, 1)
        self.assertIn("following job %s" % first, run.out)
        self.assertRegex(run.err, r"^error: job %s was cancelled.*\(cancelled\)\n$" % first)

        # Cancelling it again is refused: it is over.
        r = self.cli("jobs", "cancel", first)
        self.assert_exit(r, 1)
        self.assertIn("(job_finished)", r.err)

    # -- jobs -----------------------------------------------------------------------------
    def test_jobs_list_and_get(self):
        name, app = self.new_app(size=64 * 1024)
        ok = self.server.wait_job(self.start_backup(name))
        app.set(mode="wrong_checksum")
        bad = self.server.wait_job(self.start_backup(name))
        self.assertEqual((ok["state"], bad["state"]), ("succeeded", "failed"))

        r = self.cli("jobs", "list", "--app", name)
        self.assert_exit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "APP", "KIND", "STATE", "PHASE", "PROGRESS",
                                            "CREATED", "ERROR"])
        self.assertEqual([line.split()[0] for line in lines[1:]], [bad["id"], ok["id"]])
        self.assertIn("checksum_mismatch", lines[1])
        self.assertIn("succeeded", lines[2])

        r = self.cli("jobs", "list", "--app", name, "--state", "succeeded", "--json")
        self.assert_exit(r, 0)
        self.assertEqual([j["id"] for j in r.json()["items"]], [ok["id"]])
        r = self.cli("jobs", "list", "--app", name, "--limit", "1")
        self.assert_exit(r, 0)
        self.assertEqual(len(r.out.splitlines()), 3)  # header, one job, "older jobs" note
        self.assertIn(bad["id"], r.out)
        self.assertIn("raise --limit", r.out)
        r = self.cli("jobs", "list", "--app", "no-such-app")
        self.assert_exit(r, 0)
        self.assertEqual(r.out, "no jobs\n")

        r = self.cli("jobs", "get", ok["id"])
        self.assert_exit(r, 0)
        fields = {k: v.strip() for k, v in
                  (line.split(":", 1) for line in r.out.splitlines())}
        self.assertEqual(fields["id"], ok["id"])
        self.assertEqual(fields["app"], name)
        self.assertEqual(fields["state"], "succeeded")
        self.assertEqual(fields["kind"], "backup (manual)")
        self.assertEqual(fields["backup"], ok["backup"]["id"])
        self.assertEqual(fields["sha256"], ok["backup"]["sha256"])
        self.assertEqual(fields["error"], "-")
        r = self.cli("jobs", "get", bad["id"])
        self.assert_exit(r, 0)
        self.assertIn("(checksum_mismatch)", r.out)
        r = self.cli("jobs", "get", bad["id"], "--json")
        self.assert_exit(r, 0)
        self.assertEqual(r.json(), self.server.get("/api/jobs/" + bad["id"]).json())

        r = self.cli("jobs", "get", "0000000000000000")
        self.assert_exit(r, 1)
        self.assertIn("(job_not_found)", r.err)
        r = self.cli("jobs", "cancel", "0000000000000000")
        self.assert_exit(r, 1)
        self.assertIn("(job_not_found)", r.err)

    # -- restore --------------------------------------------------------------------------
    def test_restore_round_trip(self):
        name, app = self.new_app(format="tar.gz")
        job = self.server.wait_job(self.start_backup(name))
        self.assertEqual(job["state"], "succeeded", job)
        bid = job["backup"]["id"]
        expected = content_bytes(SMALL, app.config()["seed"])

        out = self.out_path("restored.tar.gz")
        r = self.cli("restore", bid, "--output", out)
        self.assert_exit(r, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), expected)
        self.assertEqual(os.listdir(os.path.dirname(out)), ["restored.tar.gz"])
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        self.assertIn(hashlib.sha256(expected).hexdigest(), r.out)
        self.assertIn("(%d bytes)" % SMALL, r.out)

        # An existing file is only replaced with --force.
        r = self.cli("restore", bid, "--output", out)
        self.assert_exit(r, 2)
        self.assertIn("--output", r.err)
        self.assertIn("--force", r.err)
        r = self.cli("restore", bid, "--output", out, "--force", "--json")
        self.assert_exit(r, 0)
        self.assertEqual(r.json(), {"backup_id": bid, "path": out, "size": SMALL,
                                    "sha256": job["backup"]["sha256"], "format": "tar.gz"})
        with open(out, "rb") as f:
            self.assertEqual(f.read(), expected)

        out2 = self.out_path("missing")
        r = self.cli("restore", "0000000000000000", "--output", out2)
        self.assert_exit(r, 1)
        self.assertIn("(backup_not_found)", r.err)
        self.assertEqual(os.listdir(os.path.dirname(out2)), [])

    def test_restore_streams_in_bounded_memory(self):
        size = 96 * 2**20
        name, app = self.new_app(size=size)
        job = self.server.wait_job(self.start_backup(name))
        self.assertEqual(job["state"], "succeeded", job)
        out = self.out_path("big")
        p = subprocess.Popen([BIN, "restore", job["backup"]["id"], "--output", out, "--server",
                              self.url, "--token-file", self.token_file],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env())
        # VmHWM of the restore itself (a new address space from exec on), sampled until it ends.
        peak = 0
        binary = os.path.realpath(BIN)
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            try:
                # Before exec the child still shows the test's own memory.
                if os.readlink("/proc/%d/exe" % p.pid) == binary:
                    peak = max(peak, peak_rss_kib(p.pid))
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        out_text, err_text = p.communicate(timeout=30)
        run = Run(p.returncode, out_text, err_text)
        self.check_secrets(run)
        self.assert_exit(run, 0)
        self.assertEqual(os.path.getsize(out), size)
        with open(out, "rb") as f:
            digest = hashlib.sha256()
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
        self.assertEqual(digest.hexdigest(), content_sha256(size, app.config()["seed"]))
        self.assertGreater(peak, 0, "the restore ended before its memory could be sampled")
        self.assertLess(peak, 40 * 1024 * RSS_FACTOR, "peak RSS of the restore, KiB")

    def test_restore_of_a_corrupted_file_leaves_nothing(self):
        name, app = self.new_app()
        job = self.server.wait_job(self.start_backup(name))
        self.assertEqual(job["state"], "succeeded", job)
        stored = self.backup_file(job)
        damaged = bytearray(content_bytes(SMALL, app.config()["seed"]))
        damaged[SMALL // 2] ^= 0xFF
        with open(stored, "wb") as f:
            f.write(damaged)

        out = self.out_path("restored.pgdump")
        r = self.cli("restore", job["backup"]["id"], "--output", out)
        self.assert_exit(r, 1)
        self.assertRegex(r.err, r"^error: .*%s" % job["backup"]["id"])
        self.assertIn("nothing written to %s" % out, r.err)
        self.assertEqual(os.listdir(os.path.dirname(out)), [])

    def test_restore_checks_size_and_checksum_itself(self):
        """A server (here a stand-in) whose bytes do not match its own headers: the client's own
        check refuses the file and shows both values."""
        content = b"restored bytes " * 1000
        good = hashlib.sha256(content).hexdigest()
        wrong = hashlib.sha256(b"other").hexdigest()
        stand_in = self.stand_in(content, {
            "/api/backups/b-sum/content": (len(content), wrong),
            "/api/backups/b-size/content": (len(content) + 1, good),
            "/api/backups/b-ok/content": (len(content), good),
            "/under/a/prefix/api/backups/b-ok/content": (len(content), good),
        })
        for bid, values in (("b-sum", (wrong, good)),
                            ("b-size", (str(len(content) + 1), str(len(content))))):
            with self.subTest(bid):
                out = self.out_path("x")
                r = self.cli("restore", bid, "--output", out, "--server", stand_in.url,
                             server=False)
                self.assert_exit(r, 1)
                for v in values:
                    self.assertIn(v, r.err)
                self.assertEqual(os.listdir(os.path.dirname(out)), [])
        for server in (stand_in.url, stand_in.url + "/under/a/prefix/"):
            out = self.out_path("x")
            r = self.cli("restore", "b-ok", "-o", out, "--server", server, server=False)
            self.assert_exit(r, 0)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), content)
        self.assertEqual(stand_in.authorizations, {"Bearer " + ADMIN_TOKEN})
        # Something that is not respaldo: no problem document.
        r = self.cli("jobs", "get", "j1", "--server", stand_in.url, server=False)
        self.assert_exit(r, 1)
        self.assertIn("HTTP 404", r.err)
        self.assertIn("is it a respaldo server?", r.err)

    def test_https_with_ca_file(self):
        from drive_double import make_test_pki
        pki = make_test_pki(os.path.join(self.tmp, "pki"))
        content = b"over tls " * 500
        answers = {"/api/backups/b-tls/content": (len(content), hashlib.sha256(content).hexdigest())}
        stand_in = self.stand_in(content, answers, tls=(pki["server_cert"], pki["server_key"]))
        out = self.out_path("x")
        r = self.cli("restore", "b-tls", "-o", out, "--server", stand_in.url, server=False)
        self.assert_exit(r, 1)
        self.assertIn("cannot reach the respaldo server at %s" % stand_in.url, r.err)
        self.assertIn("certificate", r.err)
        self.assertEqual(os.listdir(os.path.dirname(out)), [])
        r = self.cli("restore", "b-tls", "-o", out, "--server", stand_in.url, "--ca-file",
                     pki["ca_cert"], server=False)
        self.assert_exit(r, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)

    def stand_in(self, content, answers, tls=None):
        """A minimal HTTP(S) server answering GET paths of `answers` with `content` and the given
        (X-Size, X-Checksum-SHA256); 404 text otherwise."""
        seen = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                seen.add(self.headers.get("Authorization"))
                if self.path not in answers:
                    body = b"not here"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                size, checksum = answers[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(content)))
                self.send_header("X-Size", str(size))
                self.send_header("X-Checksum-SHA256", checksum)
                self.send_header("X-Format", "raw")
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        server.url = "%s://127.0.0.1:%d" % (scheme, server.server_address[1])
        server.authorizations = seen
        return server

    # -- failures of access and usage -----------------------------------------------------
    def test_wrong_token(self):
        wrong = "wrong-token-8c3e1f0a"
        path = os.path.join(self.tmp, "wrong-token")
        with open(path, "w") as f:
            f.write(wrong)
        for args in (("apps", "list"), ("jobs", "list"), ("backup", "x", "--wait")):
            with self.subTest(args=args):
                r = self.cli(*args, "--token-file", path, auth=False)
                self.check_secrets(r, wrong)
                self.assert_exit(r, 1)
                self.assertIn("(unauthorized)", r.err)
                self.assertIn("admin token", r.err)
                self.assertEqual(r.out, "")
        # The environment variable works like the file, and is not printed either.
        r = self.cli("apps", "list", auth=False, env=self.env(RESPALDO_ADMIN_TOKEN=wrong))
        self.check_secrets(r, wrong)
        self.assert_exit(r, 1)
        self.assertIn("(unauthorized)", r.err)
        r = self.cli("apps", "list", "--json", auth=False,
                     env=self.env(RESPALDO_ADMIN_TOKEN=ADMIN_TOKEN, RESPALDO_SERVER=self.url),
                     server=False)
        self.assert_exit(r, 0)
        self.assertIn("items", r.json())

    def test_server_down(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args in (("apps", "list"), ("backup", "x", "--wait"), ("jobs", "get", "1"),
                     ("restore", "b", "--output", self.out_path("y"))):
            with self.subTest(args=args):
                r = self.cli(*args, "--server", url, server=False)
                self.assert_exit(r, 1)
                self.assertIn("cannot reach the respaldo server at %s" % url, r.err)
                self.assertEqual(r.out, "")

    def test_bad_usage_names_the_flag(self):
        cases = [
            (("apps", "list", "--bogus"), "--bogus"),
            (("apps", "frobnicate"), "frobnicate"),
            (("apps", "get"), "NAME"),
            (("apps", "register"), "--file"),
            (("apps", "register", "--file", "/nonexistent/app.json"), "--file"),
            (("backup",), "NAME"),
            (("backup", "x", "--wait", "--timeout", "soon"), "--timeout"),
            (("backup", "x", "--timeout", "5s"), "--timeout"),
            (("backup", "x", "--wait=yes"), "--wait"),
            (("jobs", "list", "--limit", "0"), "--limit"),
            (("jobs", "list", "--state", "done"), "--state"),
            (("jobs", "list", "--limit"), "--limit"),
            (("jobs", "get"), "ID"),
            (("restore", "b"), "--output"),
            (("restore", "b", "--output", self.tmp), "--output"),
            (("apps", "list", "--server", "ftp://example.com"), "--server"),
            (("apps", "list", "--token-file", "/nonexistent/token"), "--token-file"),
            (("apps", "list", "--ca-file", "/nonexistent/ca.pem"), "--ca-file"),
        ]
        for args, flag in cases:
            with self.subTest(args=args):
                r = self.cli(*args, server=False, auth=False)
                self.assert_exit(r, 2)
                self.assertIn(flag, r.err.splitlines()[0])  # the message, not the usage text
                self.assertEqual(r.out, "")
        r = self.cli("apps", "list", server=False, auth=False)
        self.assert_exit(r, 2)
        self.assertIn("RESPALDO_ADMIN_TOKEN", r.err)
        for cmd in ("apps", "backup", "jobs", "restore"):
            r = self.cli(cmd, "--help", server=False, auth=False)
            self.assert_exit(r, 0)
            self.assertIn("usage: respaldo " + cmd, r.out)
            self.assertIn("--token-file", r.out)


if __name__ == "__main__":
    unittest.main()
