"""`respaldo agent --source postgres` against a real PostgreSQL 15 cluster started by the test
(initdb into a temp dir, as `nobody` when the tests run as root, on a free port): pgbench data plus
a table with non-ASCII text, timestamps and a large object go agent -> `respaldo serve` -> local
storage -> `respaldo restore` -> `pg_restore --no-owner` into a fresh database, whose row counts
and content digests must equal the source's."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from agent_test import AGENT_TOKEN, Agent
from harness import ADMIN_TOKEN, FOLDER, KEEP_ALL, SCHEDULE, Respaldo, free_port, run_cli

PG_BIN = os.environ.get("RESPALDO_PG_BIN", "/usr/lib/postgresql/15/bin")


def pg_user():
    """PostgreSQL refuses to run as root: the server then runs as `nobody`."""
    return "nobody" if os.geteuid() == 0 else None


class PostgresCluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="respaldo-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sockets = os.path.join(self.dir, "sockets")
        os.makedirs(self.sockets)
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")
        user = pg_user()
        if user:
            shutil.chown(self.sockets, user)
            shutil.chown(self.dir, user)

    def run_as_owner(self, args, **kw):
        return subprocess.run(args, user=pg_user(), capture_output=True, timeout=120, **kw)

    def start(self):
        r = self.run_as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                               "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        if r.returncode != 0:
            raise AssertionError("initdb failed: %r" % r)
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.sockets,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            user=pg_user(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True).returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("postgres did not start:\n" + open(self.log.name).read())

    def url(self, db):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, db, sql):
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
                            "-d", self.url(db), "-c", sql], capture_output=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("psql failed: %s\n%s" % (sql, r.stderr.decode()))
        return r.stdout.decode()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # smart shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def fingerprint(cluster, db):
    """Every table's row count and a digest of its rows, plus the large objects' digest."""
    tables = cluster.psql(db, "select tablename from pg_tables where schemaname = 'public' order by 1").split()
    out = {}
    for t in tables:
        out[t] = cluster.psql(db, "select count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' order by x::text)), '-') "
                                  "from %s x" % t).strip()
    out["<large objects>"] = cluster.psql(
        db, "select count(*) || ' ' || coalesce(md5(string_agg(oid::text || ':' || encode(lo_get(oid), 'hex'), ',' "
            "order by oid)), '-') from pg_largeobject_metadata").strip()
    return out


class AgentPostgresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresCluster().start()
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-agent-pg-")

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def load_source(self):
        self.pg.psql("postgres", "create database src")
        r = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-i", "-s", "5", "-q", "-h", "127.0.0.1",
                            "-p", str(self.pg.port), "-U", "postgres", "src"], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r)
        self.pg.psql("src", """
            create table notas (id serial primary key, texto text not null, creado timestamptz not null,
                                dia date, adjunto oid);
            insert into notas (texto, creado, dia) values
              ('año, ñandú, façade, Straße', '2025-06-18 03:00:00.123456+02', '2025-06-18'),
              ('日本語のテキスト 🐘', '1999-12-31 23:59:59+00', '1999-12-31'),
              (E'tab\\tand newline\\nin text', now(), null);
            update notas set adjunto = lo_from_bytea(0, convert_to(repeat('grande ', 20000), 'UTF8')) where id = 1;
        """)

    def test_postgres_round_trip_through_serve(self):
        t0 = time.monotonic()
        self.load_source()
        source = fingerprint(self.pg, "src")
        self.assertEqual(source["pgbench_accounts"].split()[0], "500000")
        self.assertEqual(source["notas"].split()[0], "3")
        self.assertTrue(source["<large objects>"].startswith("1 "))
        loaded = time.monotonic()

        env_path = PG_BIN + ":" + os.environ.get("PATH", "")
        agent = Agent(["--source", "postgres", "--pg-url", self.pg.url("src")], env={"PATH": env_path}).start()
        self.addCleanup(agent.cleanup)
        with Respaldo(args=["--probe-interval", "0", "--max-attempts", "1", "--deferred-poll-max", "1s"]) as server:
            server.register(name="pg-app", url=agent.url(), token=AGENT_TOKEN, retention=KEEP_ALL,
                            drive_folder_id=FOLDER, schedule=SCHEDULE)
            caps = json.loads(agent.request("GET", "/backup/capabilities")[2])
            self.assertEqual(caps["types"], ["db"])
            job = server.run_backup("pg-app", timeout=180)
            self.assertEqual(job["state"], "succeeded", job)
            entry = server.catalog("pg-app")[0]
            self.assertEqual(entry["format"], "pgdump")
            self.assertNotIn("postgresql://", agent.log_text())  # the URL may hold a password
            dump = os.path.join(self.tmp, "src.pgdump")
            cli_env = {"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN, "PATH": env_path}
            server_url = "http://127.0.0.1:%d" % server.port
            r = run_cli(["restore", entry["id"], "--output", dump, "--server", server_url], env=cli_env)
            self.assertEqual(r.returncode, 0, r)
            with open(dump, "rb") as f:
                self.assertEqual(f.read(5), b"PGDMP")  # pg_dump's custom format
            backed_up = time.monotonic()

            # The drill: newest good backup -> a fresh database -> every table counted.
            self.pg.psql("postgres", "create database dst")
            r = run_cli(["drill", "pg-app", "--postgres", self.pg.url("dst"), "--server", server_url, "--json"],
                        env=cli_env, timeout=300)
            self.assertEqual(r.returncode, 0, r)
            report = json.loads(r.stdout)
            self.assertTrue(report["passed"], report)
            self.assertEqual(report["backup_id"], entry["id"])
            counts = {t["name"]: t["rows"] for t in report["tables"]}
            self.assertEqual(counts["public.pgbench_accounts"], 500000)
            self.assertEqual(counts["public.notas"], 3)
            self.assertEqual(fingerprint(self.pg, "dst"), source)
            self.assertNotIn(b"postgresql://", r.stdout + r.stderr)  # the URL may hold a password

            # A drill refuses a target that is not empty, and then fails.
            r = run_cli(["drill", "pg-app", "--postgres", self.pg.url("src"), "--server", server_url],
                        env=cli_env, timeout=300)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(b"drill FAILED", r.stdout)
            self.assertIn(b"not empty", r.stdout)

            # Both drills were reported: kept with the backup, shown in the app and in /metrics.
            drills = server.get("/api/backups/" + entry["id"]).json()["drills"]
            self.assertEqual([d["passed"] for d in drills], [False, True])
            self.assertEqual(drills[1]["target"], "postgres")
            self.assertEqual(drills[1]["rows"], sum(counts.values()))
            self.assertIn("not empty", drills[0]["error"])
            app = server.get("/api/apps/pg-app").json()
            self.assertFalse(app["last_drill"]["passed"])
            self.assertEqual(app["last_drill_success_at"], drills[1]["reported_at"])
            metrics = server.get("/metrics", auth=False).body.decode()
            self.assertRegex(metrics, r'respaldo_restore_drill_last_success_timestamp_seconds\{app="pg-app"\} \d')
        print("postgres round trip: load %.1fs, backup %.1fs (%d bytes), drill+compare %.1fs"
              % (loaded - t0, backed_up - loaded, entry["size"], time.monotonic() - backed_up))


if __name__ == "__main__":
    unittest.main()
