"""`respaldo agent --source mariadb` against a real MariaDB server started by the test
(mariadb-install-db into a temp datadir, as `nobody` when the tests run as root, on a free port):
a database with non-ASCII text, microsecond timestamps, a blob, 20000 generated rows and a stored
procedure goes agent (mariadb-dump, gzip on the way) -> `respaldo serve` -> local storage ->
`respaldo drill --mariadb` into a fresh database, whose row counts and content digests must
equal the source's."""

import getpass
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from agent_test import AGENT_TOKEN, Agent
from harness import ADMIN_TOKEN, FOLDER, KEEP_ALL, SCHEDULE, Respaldo, free_port, run_cli

PASSWORD = "drill-pass-0123"


def server_user():
    """mariadbd is not run as root: it then runs as `nobody`."""
    return "nobody" if os.geteuid() == 0 else None


class MariaDBServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="respaldo-mariadb-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mariadb.sock")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "mariadb.log")
        if server_user():
            shutil.chown(self.dir, server_user())

    def start(self):
        # root@localhost authenticates by the client's OS user over the socket: the test's own.
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.data,
                            "--auth-root-authentication-method=socket",
                            "--auth-root-socket-user=" + getpass.getuser(), "--skip-test-db"],
                           user=server_user(), capture_output=True, timeout=180)
        if r.returncode != 0:
            raise AssertionError("mariadb-install-db failed: %r" % r)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--datadir=" + self.data, "--socket=" + self.socket,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--skip-name-resolve",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--skip-log-bin",
             "--innodb-flush-log-at-trx-commit=0", "--pid-file=" + os.path.join(self.dir, "pid")],
            user=server_user(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            r = subprocess.run(["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", "root",
                                "-e", "select 1"], capture_output=True)
            if r.returncode == 0:
                self.root_sql("create user 'drill'@'127.0.0.1' identified by '%s';"
                              "grant all on *.* to 'drill'@'127.0.0.1'" % PASSWORD)
                return self
            time.sleep(0.1)
        raise AssertionError("mariadbd did not start:\n" + open(self.log_path).read())

    def root_sql(self, sql, db=None):
        cmd = ["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", "root", "-N", "-B",
               "--default-character-set=utf8mb4", "-e", sql]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("mariadb failed: %s\n%s" % (sql, r.stderr.decode()))
        return r.stdout.decode()

    def url(self, db):
        return "mariadb://drill:%s@127.0.0.1:%d/%s" % (PASSWORD, self.port, db)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def fingerprint(server, db):
    out = {}
    for t in server.root_sql("select table_name from information_schema.tables where table_schema = '%s' "
                             "order by 1" % db).split():
        out[t] = server.root_sql("select count(*) from `%s`" % t, db).strip()
    out["notas digest"] = server.root_sql(
        "set session group_concat_max_len = 1073741824; "
        "select md5(group_concat(concat_ws('|', id, hex(texto), creado, hex(adjunto)) order by id separator ',')) "
        "from notas", db).strip()
    out["nums digest"] = server.root_sql(
        "set session group_concat_max_len = 1073741824; "
        "select md5(group_concat(concat_ws('|', n, label) order by n separator ',')) from nums", db).strip()
    out["routines"] = server.root_sql(
        "select group_concat(routine_name order by 1) from information_schema.routines "
        "where routine_schema = '%s'" % db).strip()
    return out


class AgentMariaDBTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = MariaDBServer().start()
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-agent-mariadb-")

    @classmethod
    def tearDownClass(cls):
        cls.db.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_mariadb_round_trip_through_serve_and_drill(self):
        t0 = time.monotonic()
        self.db.root_sql("""
            create database src character set utf8mb4;
            use src;
            create table notas (id int primary key auto_increment, texto text not null,
                                creado datetime(6) not null, adjunto longblob) character set utf8mb4;
            insert into notas (texto, creado, adjunto) values
              ('año, ñandú, façade, Straße', '2025-06-18 03:00:00.123456', repeat('grande ', 20000)),
              ('日本語のテキスト 🐘', '1999-12-31 23:59:59.000001', x'00ff10'),
              ('tab\\tand newline\\nin text', now(6), null);
            create table nums (n int primary key, label varchar(40) not null);
            set session max_recursive_iterations = 100000;
            insert into nums (n, label)
              with recursive c(n) as (select 1 union all select n + 1 from c where n < 20000)
              select n, concat('fila-', n, '-ü') from c;
            create procedure cuenta() select count(*) from nums;
        """)
        source = fingerprint(self.db, "src")
        self.assertEqual(source["nums"], "20000")
        self.assertEqual(source["notas"], "3")
        self.assertEqual(source["routines"], "cuenta")

        options = os.path.join(self.tmp, "client.cnf")
        with open(options, "w") as f:
            f.write("[client]\nhost=127.0.0.1\nport=%d\nuser=drill\npassword=%s\nprotocol=tcp\n"
                    % (self.db.port, PASSWORD))
        os.chmod(options, 0o600)
        agent = Agent(["--source", "mariadb", "--mariadb-defaults-file", options, "--database", "src"]).start()
        self.addCleanup(agent.cleanup)
        with Respaldo(args=["--probe-interval", "0", "--max-attempts", "1", "--deferred-poll-max", "1s"]) as server:
            server.register(name="maria-app", url=agent.url(), token=AGENT_TOKEN, retention=KEEP_ALL,
                            drive_folder_id=FOLDER, schedule=SCHEDULE)
            job = server.run_backup("maria-app", timeout=180)
            self.assertEqual(job["state"], "succeeded", job)
            entry = server.catalog("maria-app")[0]
            self.assertEqual(entry["format"], "sql.gz")
            backed_up = time.monotonic()

            self.db.root_sql("create database dst character set utf8mb4")
            env = {"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN}
            server_url = "http://127.0.0.1:%d" % server.port
            r = run_cli(["drill", "maria-app", "--mariadb", self.db.url("dst"), "--server", server_url, "--json"],
                        env=env, timeout=300)
            self.assertEqual(r.returncode, 0, r)
            report = json.loads(r.stdout)
            self.assertTrue(report["passed"], report)
            self.assertEqual({t["name"]: t["rows"] for t in report["tables"]}, {"notas": 3, "nums": 20000})
            self.assertNotIn(PASSWORD.encode(), r.stdout + r.stderr)
            self.assertEqual(fingerprint(self.db, "dst"), source)
            drills = server.get("/api/backups/" + entry["id"]).json()["drills"]
            self.assertEqual([(d["target"], d["passed"], d["rows"]) for d in drills], [("mariadb", True, 20003)])

            # The dump command failing (a database that does not exist) reaches the job error.
            bad = Agent(["--source", "mariadb", "--mariadb-defaults-file", options, "--database", "nope"]).start()
            self.addCleanup(bad.cleanup)
            server.register(name="maria-bad", url=bad.url(), token=AGENT_TOKEN, retention=KEEP_ALL,
                            drive_folder_id=FOLDER, schedule=SCHEDULE)
            job = server.run_backup("maria-bad", timeout=120)
            self.assertEqual(job["state"], "failed", job)
            self.assertIn("mariadb-dump failed with exit status", job["error"]["message"])
            self.assertIn("nope", job["error"]["message"])
        print("mariadb round trip: backup %.1fs (%d bytes), drill+compare %.1fs"
              % (backed_up - t0, entry["size"], time.monotonic() - backed_up))


if __name__ == "__main__":
    unittest.main()
