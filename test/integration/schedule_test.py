"""Scheduling, retention, health probes and restore verification, black-box: the real binary,
AppDouble apps, and the SQLite file edited while the server is stopped (to move a schedule's
next_run_at into the past instead of waiting for a cron minute)."""

import datetime
import os
import sqlite3
import time
import unittest

from app_double import AppDouble
from harness import APP_TOKEN, Respaldo, run_cli, wait_until


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def jobs_of(r, app):
    res = r.get("/api/jobs?limit=100&app=" + app)
    assert res.status == 200, res
    return res.json()["items"]


def app_state(r, app):
    res = r.get("/api/apps/" + app)
    assert res.status == 200, res
    return res.json()


def set_app_times(data_dir, app, **columns):
    """Sets INTEGER epoch-second columns of an app row; the server must be stopped."""
    con = sqlite3.connect(os.path.join(data_dir, "respaldo.db"))
    try:
        for column, value in columns.items():
            assert column in ("next_run_at", "next_verify_at", "last_run_at")
            cur = con.execute("UPDATE apps SET %s = ? WHERE name = ?" % column, (value, app))
            assert cur.rowcount == 1
        con.commit()
    finally:
        con.close()


def backup_now(r, app):
    job = r.run_backup(app)
    assert job["state"] == "succeeded", job
    return job


def verify_now(r, app):
    return r.wait_job(r.start_verify(app))


def next_new_year(now):
    return datetime.datetime(now.year + 1, 1, 1, tzinfo=datetime.timezone.utc)


class ScheduleTest(unittest.TestCase):
    def setUp(self):
        self.app = AppDouble(token=APP_TOKEN, size=200_000, seed=3).start()
        self.addCleanup(self.app.stop)
        self.r = Respaldo(args=["--probe-interval", "0"]).start()
        self.addCleanup(self.r.cleanup)

    def register(self, name, **extra):
        fields = dict(name=name, url=self.app.url, token=APP_TOKEN, schedule="0 0 1 1 *",
                      retention={"daily": 0, "weekly": 0, "last": 10})
        fields.update(extra)
        return self.r.register(**fields)

    def test_registration_and_patch_set_next_run_at_at_once(self):
        self.register("plan", schedule="0 3 * * *", timezone="Europe/Berlin")
        a = app_state(self.r, "plan")
        self.assertIsNotNone(a["next_run_at"])
        nxt = parse_time(a["next_run_at"])
        self.assertGreater(nxt, utcnow())
        self.assertLessEqual(nxt - utcnow(), datetime.timedelta(days=1, minutes=1))
        self.assertIn(nxt.hour, (1, 2))  # 03:00 in Berlin is 01:00Z or 02:00Z
        self.assertIsNone(a["last_run_at"])
        self.assertIsNone(a["last_success_at"])

        res = self.r.request("PATCH", "/api/apps/plan", {"schedule": "0 0 1 1 *", "timezone": "UTC"})
        self.assertEqual(res.status, 200, res)
        self.assertEqual(parse_time(res.json()["next_run_at"]), next_new_year(utcnow()))
        self.assertEqual(parse_time(app_state(self.r, "plan")["next_run_at"]), next_new_year(utcnow()))

    def test_catch_up_runs_once_after_downtime(self):
        self.register("cu", verify_schedule="0 0 1 1 *")
        manual = backup_now(self.r, "cu")
        a = app_state(self.r, "cu")
        self.assertEqual(a["last_run_at"], manual["started_at"])
        self.assertEqual(a["last_success_at"], manual["finished_at"])
        self.assertIsNotNone(a["next_run_at"])

        # As if the server had been down for three days: both next times lie in the past.
        self.r.stop()
        past = int(time.time()) - 3 * 86400
        set_app_times(self.r.data_dir, "cu", next_run_at=past, next_verify_at=past + 3600)
        self.r.start()

        def scheduled_done():
            js = [j for j in jobs_of(self.r, "cu") if j["trigger"] == "schedule"]
            done = [j for j in js if j["state"] in ("succeeded", "failed", "cancelled")]
            return js if len(done) >= 2 else None

        wait_until(scheduled_done, timeout=60, what="the catch-up backup and verification")
        time.sleep(2)  # room for a wrong second run to show up
        all_jobs = jobs_of(self.r, "cu")
        scheduled = [j for j in all_jobs if j["trigger"] == "schedule"]
        self.assertEqual(sorted(j["kind"] for j in scheduled), ["backup", "verify"], scheduled)
        self.assertEqual(len(all_jobs), 3, all_jobs)  # the manual one + one of each kind
        backup = next(j for j in scheduled if j["kind"] == "backup")
        verify = next(j for j in scheduled if j["kind"] == "verify")
        self.assertEqual(backup["state"], "succeeded", backup)
        self.assertEqual(verify["state"], "succeeded", verify)
        self.assertEqual(self.app.stats()["export"], 2)

        a = app_state(self.r, "cu")
        self.assertEqual(parse_time(a["next_run_at"]), next_new_year(utcnow()))
        self.assertEqual(a["last_run_at"], backup["started_at"])
        self.assertEqual(a["last_success_at"], backup["finished_at"])
        self.assertGreaterEqual(parse_time(a["last_run_at"]), parse_time(manual["started_at"]))
        self.assertTrue(self.r.wait_log("scheduled job queued"), "scheduled job queued")

        # With next_run_at in the future, a restart starts nothing.
        self.r.restart()
        time.sleep(2)
        self.assertEqual(len(jobs_of(self.r, "cu")), 3)
        metrics = self.r.get("/metrics", auth=False).body.decode()
        self.assertNotIn('outcome="started"', metrics)

    def test_due_run_skipped_while_the_previous_job_is_active(self):
        self.register("ov")
        self.app.set(mode="stall", stall_after=65536, stall_seconds=3600)
        manual = self.r.start_backup("ov")
        self.r.wait_job(manual, states=("running",))
        wait_until(lambda: self.r.job(manual)["phase"] == "uploading", what="the upload to start")
        # Stopping interrupts the job; it is queued again for the next start.
        self.r.stop()
        set_app_times(self.r.data_dir, "ov", next_run_at=int(time.time()) - 600)
        self.r.start()

        def skip_record():
            return [j for j in jobs_of(self.r, "ov") if (j["error"] or {}).get("code") == "schedule_overlap"]

        skipped = wait_until(skip_record, what="the skipped run to be recorded")
        time.sleep(1)
        self.assertEqual(len(skip_record()), 1)
        rec = skipped[0]
        self.assertEqual(rec["kind"], "backup")
        self.assertEqual(rec["trigger"], "schedule")
        self.assertEqual(rec["state"], "cancelled")
        self.assertEqual(rec["attempt"], 0)
        self.assertIn(manual, rec["error"]["message"])
        all_jobs = jobs_of(self.r, "ov")
        self.assertEqual(len(all_jobs), 2, all_jobs)  # no second backup job was queued
        self.assertIn(self.r.get("/api/jobs/" + manual).json()["state"], ("queued", "running"))
        self.assertGreater(parse_time(app_state(self.r, "ov")["next_run_at"]), utcnow())
        metrics = self.r.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_schedule_runs_total{kind="backup",outcome="skipped_overlap"} 1', metrics)
        self.assertTrue(self.r.wait_log("scheduled run skipped"), "scheduled run skipped")

        res = self.r.post("/api/jobs/%s/cancel" % manual)
        self.assertEqual(res.status, 202, res)
        self.r.wait_job(manual)


class RetentionTest(unittest.TestCase):
    def test_retention_deletes_stored_files_and_catalog_entries(self):
        with AppDouble(token=APP_TOKEN, size=100_000) as app, Respaldo(args=["--probe-interval", "0"]) as r:
            r.register(name="rt", url=app.url, token=APP_TOKEN, schedule="0 0 1 1 *",
                       retention={"daily": 1, "weekly": 0, "last": 2})
            made = []
            for i in range(4):
                if i:
                    time.sleep(1.1)  # distinct created_at seconds, so the order is unambiguous
                app.set(seed=10 + i)
                job = backup_now(r, "rt")
                made.append(job["backup"])
            root = os.path.join(r.data_dir, "backups")
            for b in made:
                self.assertTrue(b["location"])

            listed = r.get("/api/apps/rt/backups").json()["items"]
            self.assertEqual([b["id"] for b in listed], [made[3]["id"], made[2]["id"]])
            for b in made[2:]:
                path = os.path.join(root, b["location"])
                self.assertTrue(os.path.isfile(path), path)
                self.assertEqual(os.path.getsize(path), 100_000)
            for b in made[:2]:
                self.assertFalse(os.path.exists(os.path.join(root, b["location"])), b)
                self.assertEqual(r.get("/api/backups/" + b["id"]).status, 404)
            on_disk = []
            for d, _, files in os.walk(root):
                on_disk += [os.path.relpath(os.path.join(d, f), root) for f in files if not f.startswith(".")]
            self.assertEqual(sorted(on_disk), sorted(b["location"] for b in made[2:]))

            plan = r.get("/api/apps/rt/retention")
            self.assertEqual(plan.status, 200, plan)
            body = plan.json()
            self.assertEqual(body["policy"], {"daily": 1, "last": 2})
            self.assertEqual(body["timezone"], "UTC")
            by_id = {d["backup_id"]: d for d in body["decisions"]}
            self.assertEqual(set(by_id), {made[2]["id"], made[3]["id"]})
            newest_day = made[3]["created_at"][:10]
            self.assertEqual(by_id[made[3]["id"]]["reasons"], ["newest", "last 1", "daily " + newest_day])
            self.assertTrue(by_id[made[3]["id"]]["keep"])
            self.assertEqual(by_id[made[2]["id"]]["reasons"], ["last 2"])
            metrics = r.get("/metrics", auth=False).body.decode()
            self.assertIn('respaldo_backups_pruned_total{storage="local"} 2', metrics)

    def test_retention_plan_cli_issue_example(self):
        day = datetime.date(2025, 1, 1)
        lines = []
        while day <= datetime.date(2025, 6, 18):
            lines.append(day.isoformat() + "T02:00:00Z")
            day += datetime.timedelta(days=1)
        out = run_cli(["retention", "plan", "--policy", '{"daily": 7, "weekly": 4}'],
                      input="\n".join(lines) + "\n", text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = out.stdout.splitlines()
        self.assertEqual(len(got), len(lines))
        self.assertEqual([g.split()[1] for g in got], lines)  # input order, timestamps as given
        keeps = {g.split()[1][:10]: g.split()[2:] for g in got if g.startswith("keep ")}
        self.assertEqual(sorted(keeps), ["2025-06-01", "2025-06-08"] + ["2025-06-%02d" % d for d in range(12, 19)])
        self.assertEqual(keeps["2025-06-18"], ["newest", "daily:2025-06-18", "weekly:2025-W25"])
        self.assertEqual(keeps["2025-06-15"], ["daily:2025-06-15", "weekly:2025-W24"])
        self.assertEqual(keeps["2025-06-08"], ["weekly:2025-W23"])
        self.assertEqual(keeps["2025-06-01"], ["weekly:2025-W22"])
        for g in got:
            if g.startswith("delete "):
                self.assertEqual(len(g.split()), 2, g)

    def test_cron_next_cli_prints_local_times_with_offsets(self):
        out = run_cli(["cron", "next", "30 2 * * *", "--tz", "America/New_York",
                       "--after", "2026-03-07T00:00:00Z", "-n", "3"], text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
                                              "2026-03-09T02:30:00-04:00"])


class ProbeTest(unittest.TestCase):
    def test_probe_states(self):
        healthy = AppDouble(token="tok-healthy-1", size=50_000).start()
        self.addCleanup(healthy.stop)
        down = AppDouble(token="tok-down-2").start()
        down.stop()  # its port is known and closed: an app that went down
        self.addCleanup(down.stop)
        wrong = AppDouble(token="tok-wrong-3").start()
        self.addCleanup(wrong.stop)
        invalid = AppDouble(token="tok-invalid-4", mode="bad_version").start()
        self.addCleanup(invalid.stop)
        r = Respaldo(args=["--probe-interval", "1s"]).start()
        self.addCleanup(r.cleanup)
        base = dict(schedule="0 0 1 1 *", retention={"daily": 7, "weekly": 4})
        r.register(name="healthy", url=healthy.url, token="tok-healthy-1", **base)
        r.register(name="down", url=down.url, token="tok-down-2", **base)
        r.register(name="wrong", url=wrong.url, token="not-the-token-5", **base)
        r.register(name="invalid", url=invalid.url, token="tok-invalid-4", **base)

        def health(name):
            return app_state(r, name)["health"]

        def status_is(name, status):
            return lambda: health(name) if health(name)["status"] == status else None

        h = wait_until(status_is("healthy", "ok"), what="healthy ok")
        self.assertEqual(h["capabilities"], {"types": ["db"], "est_seconds": 123, "est_size": 50_000})
        self.assertIsNotNone(h["checked_at"])
        self.assertIsNone(h["detail"])
        d = wait_until(status_is("down", "unreachable"), what="down unreachable")
        self.assertIn("/backup/capabilities", d["detail"])
        self.assertIsNone(d["capabilities"])
        w = wait_until(status_is("wrong", "unauthorized"), what="wrong unauthorized")
        self.assertIn("401", w["detail"])
        i = wait_until(status_is("invalid", "invalid"), what="invalid invalid")
        self.assertTrue(i["detail"])

        # Probes repeat every interval.
        first = parse_time(h["checked_at"])
        wait_until(lambda: parse_time(health("healthy")["checked_at"]) > first, timeout=20, what="a later probe")
        self.assertGreaterEqual(healthy.stats()["capabilities"], 2)

        # The app that was down comes back; the healthy one goes down and keeps its capabilities.
        down.start()
        wait_until(status_is("down", "ok"), what="down recovers")
        healthy.stop()
        gone = wait_until(status_is("healthy", "unreachable"), what="healthy goes down")
        self.assertEqual(gone["capabilities"], {"types": ["db"], "est_seconds": 123, "est_size": 50_000})

        # A corrected token is probed at once.
        res = r.request("PATCH", "/api/apps/wrong", {"token": "tok-wrong-3"})
        self.assertEqual(res.status, 200, res)
        wait_until(status_is("wrong", "ok"), what="wrong recovers")

        metrics = r.get("/metrics", auth=False).body.decode()
        self.assertIn('respaldo_app_probes_total{status="ok"}', metrics)
        self.assertIn('respaldo_app_probes_total{status="unauthorized"}', metrics)
        log = r.log_text()
        self.assertIn("app health changed", log)
        for secret in ("tok-healthy-1", "tok-down-2", "tok-wrong-3", "not-the-token-5", "tok-invalid-4"):
            self.assertNotIn(secret, log)

    def test_probe_interval_zero_disables_probes(self):
        with AppDouble(token=APP_TOKEN) as app, Respaldo(args=["--probe-interval", "0"]) as r:
            r.register(name="quiet", url=app.url, token=APP_TOKEN, schedule="0 0 1 1 *", retention={"daily": 7, "weekly": 4})
            time.sleep(1.5)
            self.assertEqual(app_state(r, "quiet")["health"]["status"], "unknown")
            self.assertEqual(app.stats()["capabilities"], 0)


class VerifyTest(unittest.TestCase):
    def test_verify_good_corrupted_and_missing(self):
        with AppDouble(token=APP_TOKEN, size=300_000, seed=5) as app, Respaldo(args=["--probe-interval", "0"]) as r:
            r.register(name="vf", url=app.url, token=APP_TOKEN, schedule="0 0 1 1 *", retention={"daily": 0, "weekly": 0, "last": 10})
            res = r.post("/api/apps/vf/verify")
            self.assertEqual(res.status, 409, res)  # nothing to verify yet
            backup = backup_now(r, "vf")["backup"]
            path = os.path.join(r.data_dir, "backups", backup["location"])
            self.assertTrue(os.path.isfile(path))

            good = verify_now(r, "vf")
            self.assertEqual(good["state"], "succeeded", good)
            self.assertEqual(good["kind"], "verify")
            self.assertEqual(good["trigger"], "manual")
            self.assertEqual(good["bytes_done"], 300_000)
            self.assertEqual(good["backup"]["id"], backup["id"])
            verified = r.get("/api/backups/" + backup["id"]).json()
            self.assertIsNotNone(verified["verified_at"])
            self.assertEqual(verified["status"], "available")

            with open(path, "r+b") as f:  # flip one byte in the middle
                f.seek(150_000)
                byte = f.read(1)
                f.seek(150_000)
                f.write(bytes([byte[0] ^ 0x01]))
            bad = verify_now(r, "vf")
            self.assertEqual(bad["state"], "failed", bad)
            self.assertEqual(bad["error"]["code"], "verify_mismatch")
            self.assertIn(backup["sha256"], bad["error"]["message"])
            self.assertEqual(bad["attempt"], 1)  # not retried

            os.remove(path)
            missing = verify_now(r, "vf")
            self.assertEqual(missing["state"], "failed", missing)
            self.assertEqual(missing["error"]["code"], "verify_missing")
            flagged = r.get("/api/backups/" + backup["id"])
            self.assertEqual(flagged.status, 200, flagged)  # still in the catalog
            self.assertEqual(flagged.json()["status"], "missing")
            listed = r.get("/api/apps/vf/backups").json()["items"]
            self.assertEqual([(b["id"], b["status"]) for b in listed], [(backup["id"], "missing")])


if __name__ == "__main__":
    unittest.main()
