"""/metrics, staleness and `respaldo status` against the real binary: metric values after known
sequences of jobs (counts, histogram, sizes, timestamps), the same values after a restart, a
deleted app's series gone, `promtool check metrics` on the exposition, --metrics-token-file, an
app going stale with a stale_after of a few seconds and fresh again after a backup, and the exit
status and order of `respaldo status`."""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import (ADMIN_TOKEN, BIN, SMALL, Respaldo, run_cli, serve_args, start_app,
                     wait_until)

METRICS_TOKEN = "metrics-token-0123456789"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def epoch(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class Metrics:
    """Reads /metrics with the metrics token."""

    def __init__(self, server):
        self.server = server

    def text(self):
        r = self.server.get("/metrics", auth=METRICS_TOKEN)
        assert r.status == 200, r
        return r.body.decode("utf-8")

    def samples(self):
        return parse_metrics(self.text())


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-metrics-")
        cls.token_file = os.path.join(cls.tmp, "metrics-token")
        with open(cls.token_file, "w") as f:
            f.write(METRICS_TOKEN + "\n")
        cls.server = Respaldo(args=["--metrics-token-file", cls.token_file]).start()
        cls.metrics = Metrics(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def app_json(self, name):
        r = self.server.get("/api/apps/" + name)
        self.assertEqual(r.status, 200, r)
        return r.json()

    # -- token protection -------------------------------------------------------------------
    def test_metrics_token_protects_metrics(self):
        r = self.server.get("/metrics", auth=False)
        self.assertEqual(r.status, 401, r)
        self.assertTrue(r.header("Content-Type").startswith("application/problem+json"), r.headers)
        self.assertEqual(r.json()["code"], "unauthorized")
        self.assertIn("Bearer", r.header("WWW-Authenticate"))
        # The admin token is not the metrics token.
        r = self.server.get("/metrics", auth=ADMIN_TOKEN)
        self.assertEqual(r.status, 401, r)
        self.assertIn("invalid_token", r.header("WWW-Authenticate"))
        r = self.server.get("/metrics", auth=METRICS_TOKEN)
        self.assertEqual(r.status, 200, r)
        self.assertIn("respaldo_build_info", r.body.decode())
        # ... nor does the metrics token open the API.
        self.assertEqual(self.server.get("/api/apps", auth=METRICS_TOKEN).status, 401)
        # Probes stay open.
        self.assertEqual(self.server.get("/healthz", auth=False).status, 200)
        self.assertNotIn(METRICS_TOKEN, self.server.log_text())

    def test_a_bad_metrics_token_file_stops_start_up(self):
        short = os.path.join(self.tmp, "short-token")
        with open(short, "w") as f:
            f.write("short\n")
        data = tempfile.mkdtemp(prefix="respaldo-metrics-bad-")
        self.addCleanup(shutil.rmtree, data, True)
        for path, words in ((os.path.join(self.tmp, "absent"), "cannot read"),
                            (short, "shorter than 16")):
            done = run_cli(serve_args(data, "--metrics-token-file", path),
                           env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
            self.assertEqual(done.returncode, 2, done)
            err = done.stderr.decode()
            self.assertIn("--metrics-token-file", err)
            self.assertIn(words, err)
            self.assertNotIn("short\n", err)

    # -- values after known jobs ------------------------------------------------------------
    def test_values_after_two_successes_and_a_failure(self):
        name, app = start_app(self, self.server, prefix="metered")
        first = self.server.run_backup(name)
        second = self.server.run_backup(name)
        self.assertEqual([first["state"], second["state"]], ["succeeded", "succeeded"])
        app.set(mode="wrong_checksum")
        third = self.server.run_backup(name)
        self.assertEqual(third["state"], "failed", third)
        self.assertEqual(third["error"]["code"], "checksum_mismatch")
        wait_until(lambda: self.app_json(name)["up"] is True, what="the probe of " + name)
        wait_until(lambda: self.app_json(name)["next_run_at"], what="next_run_at of " + name)

        s = self.metrics.samples()
        self.assertEqual(value(s, "respaldo_backups_total", app=name, outcome="succeeded"), 2)
        self.assertEqual(value(s, "respaldo_backups_total", app=name, outcome="failed"), 1)
        self.assertEqual(value(s, "respaldo_backups_total", app=name, outcome="cancelled"), 0)
        self.assertEqual(value(s, "respaldo_backup_duration_seconds_count", app=name), 3)
        self.assertEqual(value(s, "respaldo_backup_duration_seconds_bucket", app=name, le="+Inf"), 3)
        durations = [epoch(j["finished_at"]) - epoch(j["started_at"]) for j in (first, second, third)]
        self.assertEqual(value(s, "respaldo_backup_duration_seconds_sum", app=name), sum(durations))
        self.assertEqual(value(s, "respaldo_backup_duration_seconds_bucket", app=name, le="1"),
                         len([d for d in durations if d <= 1]))
        self.assertEqual(value(s, "respaldo_backup_last_size_bytes", app=name), SMALL)
        self.assertEqual(value(s, "respaldo_backup_bytes_total", app=name), 2 * SMALL)
        self.assertEqual(value(s, "respaldo_backup_last_status", app=name), 1)
        self.assertEqual(value(s, "respaldo_backup_last_success_timestamp_seconds", app=name),
                         epoch(second["finished_at"]))
        self.assertEqual(value(s, "respaldo_backup_last_attempt_timestamp_seconds", app=name),
                         epoch(third["finished_at"]))
        self.assertEqual(value(s, "respaldo_backups_stored", app=name, status="available"), 2)
        self.assertEqual(value(s, "respaldo_backups_stored", app=name, status="corrupt"), 0)
        self.assertEqual(value(s, "respaldo_app_stale", app=name), 0)
        self.assertEqual(value(s, "respaldo_app_up", app=name), 1)
        self.assertEqual(value(s, "respaldo_backup_next_run_timestamp_seconds", app=name),
                         epoch(self.app_json(name)["next_run_at"]))
        self.assertIsNone(value(s, "respaldo_verify_last_success_timestamp_seconds", app=name))

        # The app JSON says the same.
        a = self.app_json(name)
        self.assertEqual(a["last_backup"]["job_id"], third["id"])
        self.assertEqual(a["last_backup"]["state"], "failed")
        self.assertEqual(a["last_backup"]["error_code"], "checksum_mismatch")
        self.assertEqual(a["last_success"]["job_id"], second["id"])
        self.assertEqual(a["last_success"]["size"], SMALL)
        self.assertEqual(a["last_success"]["duration_seconds"], durations[1])
        self.assertFalse(a["stale"])
        self.assertIsNone(a["stale_since"])

        # A success after the failure: last status back to 0; a verify sets its timestamp.
        app.set(mode="normal")
        fourth = self.server.run_backup(name)
        self.assertEqual(fourth["state"], "succeeded")
        verify = self.server.wait_job(self.server.start_verify(name))
        self.assertEqual(verify["state"], "succeeded", verify)
        s = self.metrics.samples()
        self.assertEqual(value(s, "respaldo_backup_last_status", app=name), 0)
        self.assertEqual(value(s, "respaldo_backups_total", app=name, outcome="succeeded"), 3)
        self.assertEqual(value(s, "respaldo_backup_duration_seconds_count", app=name), 4)
        self.assertEqual(value(s, "respaldo_verify_last_success_timestamp_seconds", app=name),
                         epoch(verify["finished_at"]))

    def test_job_log_lines_carry_app_and_job_id(self):
        name, app = start_app(self, self.server, prefix="logged")
        ok = self.server.run_backup(name)
        app.set(mode="wrong_checksum")
        failed = self.server.run_backup(name)
        self.assertEqual([ok["state"], failed["state"]], ["succeeded", "failed"])
        # The API may show a job ended before the log reader has its last lines.
        for job in (ok, failed):
            wait_until(lambda: len([l for l in list(self.server.log_lines)
                                    if job["id"] in l and "request_id=" not in l]) >= 2,
                       what="two log lines of " + job["id"])
        wait_until(lambda: any(failed["id"] in l and "job ended" in l
                               for l in list(self.server.log_lines)),
                   what="the job ended line of " + failed["id"])
        for job in (ok, failed):
            lines = [l for l in self.server.log_lines if job["id"] in l and "request_id=" not in l]
            self.assertGreaterEqual(len(lines), 2, lines)  # started, and how it ended
            for line in lines:
                self.assertIn("app=%s" % name, line)
                self.assertIn("job_id=%s" % job["id"], line)
        ended = [l for l in self.server.log_lines if failed["id"] in l and "job ended" in l]
        self.assertEqual(len(ended), 1, ended)
        self.assertIn("state=failed", ended[0])
        self.assertIn("error=checksum_mismatch", ended[0])

    def test_values_survive_a_restart_and_vanish_with_the_app(self):
        server = Respaldo(args=["--metrics-token-file", self.token_file]).start()
        self.addCleanup(server.cleanup)
        metrics = Metrics(server)
        name, _ = start_app(self, server, prefix="kept")
        job = server.run_backup(name)
        self.assertEqual(job["state"], "succeeded")
        before = metrics.samples()
        self.assertEqual(value(before, "respaldo_backups_total", app=name, outcome="succeeded"), 1)
        server.restart()
        after = metrics.samples()
        for family in ("respaldo_backups_total", "respaldo_backup_bytes_total",
                       "respaldo_backup_last_size_bytes", "respaldo_backup_duration_seconds_count",
                       "respaldo_backup_last_success_timestamp_seconds", "respaldo_backups_stored"):
            kept = {k: v for k, v in before.items() if k[0] == family and ("app", name) in k[1]}
            self.assertTrue(kept, family)
            for key, v in kept.items():
                self.assertEqual(after.get(key), v, key)
        self.assertEqual(server.request("DELETE", "/api/apps/" + name).status, 204)
        text = metrics.text()
        self.assertNotIn('app="%s"' % name, text)

    def test_process_and_build_families(self):
        s = self.metrics.samples()
        build = [k for k in s if k[0] == "respaldo_build_info"]
        self.assertEqual(len(build), 1, build)
        self.assertEqual(s[build[0]], 1)
        version = dict(build[0][1])["version"]
        out = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
        self.assertIn(version, out)
        self.assertGreater(value(s, "process_resident_memory_bytes"), 1024 * 1024)
        self.assertGreater(value(s, "process_open_fds"), 2)
        self.assertGreaterEqual(value(s, "process_cpu_seconds_total"), 0)
        start = value(s, "process_start_time_seconds")
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        self.assertLessEqual(start, now)
        self.assertGreater(start, now - 3600)

    # -- promtool ---------------------------------------------------------------------------
    def test_promtool_accepts_the_exposition_after_jobs(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: run scripts/install_deps.sh (Debian prometheus)")
        name, app = start_app(self, self.server, prefix="linted")
        self.assertEqual(self.server.run_backup(name)["state"], "succeeded")
        app.set(mode="wrong_checksum")
        self.assertEqual(self.server.run_backup(name)["state"], "failed")
        text = self.metrics.text()
        self.assertIn("respaldo_backup_duration_seconds_bucket", text)
        done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(done.stdout.strip() + done.stderr.strip(), "", "promtool lint findings")
        # The check itself can fail: a counter without _total is reported.
        bad = subprocess.run([promtool, "check", "metrics"],
                             input="# HELP x_bytes X.\n# TYPE x_bytes counter\nx_bytes 1\n",
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)


class StalenessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Respaldo().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def app_json(self, name):
        r = self.server.get("/api/apps/" + name)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def patch(self, name, body):
        return self.server.request("PATCH", "/api/apps/" + name, body)

    def test_stale_after_is_validated(self):
        name, _ = start_app(self, self.server, prefix="valid")
        for bad in ("soon", "500ms", "1500ms", 3600, "", "0s", "-5s"):
            r = self.patch(name, {"stale_after": bad})
            self.assertEqual(r.status, 422, (bad, r))
            self.assertEqual(r.json()["code"], "validation_failed")
            self.assertEqual(r.json()["field"], "stale_after")
        r = self.server.post("/api/apps", {"name": "bad-stale", "url": "http://x:1", "token": "t",
                                           "drive_folder_id": "f", "schedule": "0 3 * * *",
                                           "retention": {"daily": 1, "weekly": 1},
                                           "stale_after": "2x"})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["field"], "stale_after")
        # A default until set; set, it shows as given; null goes back to the default. The default
        # adds the capabilities' est_seconds once the app is probed, so compare after the probe.
        a = wait_until(lambda: (lambda a: a if a["up"] is not None else None)(self.app_json(name)),
                       what="the probe of " + name)
        self.assertTrue(a["stale_after_default"])
        r = self.patch(name, {"stale_after": "36h"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["stale_after"], "36h")
        self.assertFalse(r.json()["stale_after_default"])
        r = self.patch(name, {"stale_after": None})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["stale_after_default"])
        self.assertEqual(r.json()["stale_after"], a["stale_after"])

    def test_default_stale_after_follows_the_schedule(self):
        name, _ = start_app(self, self.server, prefix="daily")
        r = self.patch(name, {"schedule": "0 3 * * *"})
        self.assertEqual(r.status, 200, r)
        # The double announces est_seconds 123 once probed: 48 h + 123 s.
        wait_until(lambda: self.app_json(name)["stale_after"] == "172923s",
                   what="the default stale_after with the app's estimate")

    def test_an_app_goes_stale_and_fresh_again(self):
        name, _ = start_app(self, self.server, prefix="fresh")
        self.assertEqual(self.patch(name, {"stale_after": "5s"}).status, 200)
        self.assertFalse(self.app_json(name)["stale"])
        a = wait_until(lambda: (lambda a: a if a["stale"] else None)(self.app_json(name)),
                       timeout=30, what=name + " stale")
        self.assertIsNone(a["newest_good_backup_at"])
        self.assertEqual(epoch(a["stale_since"]), epoch(a["created_at"]) + 5)
        wait_until(lambda: "app is stale" in self.server.log_text() and name in self.server.log_text(),
                   what="the stale log line")
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded")
        a = self.app_json(name)
        self.assertFalse(a["stale"], a)
        self.assertEqual(a["newest_good_backup_at"], job["backup"]["created_at"])
        wait_until(lambda: "app is fresh again" in self.server.log_text(), what="the fresh log line")
        # Stale again once the backup is older than 5 s; /metrics says so too.
        wait_until(lambda: self.app_json(name)["stale"], timeout=30, what=name + " stale again")
        text = self.server.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_app_stale{app="%s"} 1' % name, text)
        # One stale line per episode: two episodes so far.
        wait_until(lambda: len([l for l in self.server.log_lines
                                if "app is stale" in l and name in l]) == 2,
                   what="the second episode's log line")
        lines = [l for l in self.server.log_lines if "app is stale" in l and name in l]
        self.assertEqual(len(lines), 2, lines)


class StatusCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Respaldo().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def status(self, *args):
        env = {"RESPALDO_SERVER": "http://127.0.0.1:%d" % self.server.port,
               "RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN}
        return run_cli(["status"] + list(args), env=env)

    def test_exit_status_and_order(self):
        ok, _ = start_app(self, self.server, prefix="st-ok")
        self.assertEqual(self.server.run_backup(ok)["state"], "succeeded")
        done = self.status()
        self.assertEqual(done.returncode, 0, done)
        self.assertIn(ok, done.stdout.decode())

        failing, failing_app = start_app(self, self.server, prefix="st-failing")
        failing_app.set(mode="wrong_checksum")
        self.assertEqual(self.server.run_backup(failing)["state"], "failed")
        stale, _ = start_app(self, self.server, prefix="st-stale")
        r = self.server.request("PATCH", "/api/apps/" + stale, {"stale_after": "1s"})
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: self.server.get("/api/apps/" + stale).json()["stale"], what=stale + " stale")

        done = self.status()
        self.assertEqual(done.returncode, 1, done)
        lines = done.stdout.decode().splitlines()
        self.assertTrue(lines[0].startswith("APP"), lines)
        order = [line.split()[0] for line in lines[1:]]
        self.assertEqual(order, [stale, failing, ok], lines)
        self.assertIn("stale", lines[1])
        self.assertIn("failing", lines[2])
        self.assertRegex(lines[3], r"\bok\b")
        self.assertIn("3.0 MiB", lines[3])  # the last size of the healthy app

        done = self.status("--json")
        self.assertEqual(done.returncode, 1, done)
        doc = json.loads(done.stdout)
        self.assertFalse(doc["ok"])
        self.assertEqual([a["name"] for a in doc["apps"]], [stale, failing, ok])
        self.assertEqual([a["status"] for a in doc["apps"]], ["stale", "failing", "ok"])
        self.assertEqual(doc["apps"][2]["last_size"], SMALL)
        self.assertIsNotNone(doc["apps"][2]["last_success_at"])

        # Once the troubled apps are gone, all is well again.
        for name in (stale, failing):
            self.assertEqual(self.server.request("DELETE", "/api/apps/" + name).status, 204)
        done = self.status("--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["ok"])

    def test_unreachable_server_exits_1(self):
        done = run_cli(["status", "--server", "http://127.0.0.1:1"],
                       env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN})
        self.assertEqual(done.returncode, 1, done)
        self.assertIn("error", done.stderr.decode())


if __name__ == "__main__":
    unittest.main()
