"""Black-box tests of `respaldo agent`: the real agent binary serves the app contract on a loopback
port, and a real `respaldo serve` (local storage) registers it and backs it up through its own
contract client. Covers the contract itself (token, 409 and respaldo retrying it, deferred
status, Range), the tar tree round trip and the failure paths (failing command, full spool, killed agent, timeout, TTL)."""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (ADMIN_TOKEN, BIN, FOLDER, KEEP_ALL, SCHEDULE, Respaldo, free_port,
                     poll_until, run_cli, wait_until)

AGENT_TOKEN = "agent-token-0123456789abcdef"
WRONG_TOKEN = "agent-token-0123456789abcdeX"  # same length: only the content differs


class Agent:
    """One `respaldo agent` process on a loopback port with its own spool dir."""

    def __init__(self, args, spool_dir=None, port=0, token=AGENT_TOKEN, env=None):
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.owns_spool = spool_dir is None
        self.spool_dir = spool_dir or tempfile.mkdtemp(prefix="respaldo-agent-spool-")
        self.listen_port = port
        self.token = token
        self.proc = None
        self.port = None
        self.lines = []
        self._lock = threading.Lock()
        self._listening = threading.Event()

    def start(self, timeout=15):
        env = dict(os.environ)
        env["RESPALDO_AGENT_TOKEN"] = self.token
        env.update(self.extra_env)
        cmd = [BIN, "agent", "--listen", "127.0.0.1:%d" % self.listen_port,
               "--spool-dir", self.spool_dir] + self.args
        self._listening.clear()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(timeout):
            self.kill()
            raise AssertionError("agent did not start:\n" + self.log_text())
        return self

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            m = re.search(r"listening address=\S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._listening.set()

    def log_text(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_log(self, text, timeout=30):
        return poll_until(lambda: text in self.log_text(), timeout=timeout)

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, token=True, headers=None, timeout=30):
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + (self.token if token is True else token)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=hdrs)
            r = conn.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            conn.close()

    def spool_files(self):
        return sorted(n for n in os.listdir(self.spool_dir) if n.startswith("export-"))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            self._reader.join(timeout=5)
            self.proc.stderr.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.kill()
        return self.proc.returncode

    def cleanup(self):
        self.kill()
        if self.owns_spool:
            shutil.rmtree(self.spool_dir, ignore_errors=True)


def gated_command(gate, size):
    """A dump that waits until `gate` exists, then writes `size` pseudo-random bytes."""
    return ("while [ ! -e '%s' ]; do sleep 0.02; done; head -c %d /dev/urandom" % (gate, size))


class AgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="respaldo-agent-test-")
        cls.server = Respaldo(args=["--probe-interval", "0", "--max-attempts", "1",
                                    "--deferred-poll-max", "1s"]).start()
        cls.names = iter(range(1, 1000))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def agent(self, args, **kw):
        a = Agent(args, **kw).start()
        self.addCleanup(a.cleanup)
        return a

    def register(self, agent):
        name = "agent-app-%d" % next(self.names)
        self.server.register(name=name, url=agent.url(), token=agent.token, retention=KEEP_ALL,
                             drive_folder_id=FOLDER, schedule=SCHEDULE)
        return name

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def assert_token_never_logged(self, agent):
        self.assertNotIn(agent.token, agent.log_text())
        self.assertNotIn(AGENT_TOKEN, self.server.log_text())

    # -- start-up --------------------------------------------------------------------------
    def test_refuses_to_start_without_a_token(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESPALDO_AGENT")}
        r = subprocess.run([BIN, "agent", "--listen", "127.0.0.1:0", "--spool-dir", self.path("nt", "s"),
                            "--format", "bin", "--command", "true"], env=env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn(b"--token-file", r.stderr)
        self.assertIn(b"RESPALDO_AGENT_TOKEN", r.stderr)
        r = run_cli(["agent", "--source", "command", "--spool-dir", self.path("nt2", "s")],
                    env={"RESPALDO_AGENT_TOKEN": AGENT_TOKEN})
        self.assertEqual(r.returncode, 2, r)
        self.assertIn(b"--command", r.stderr)

    # -- the contract, spoken directly -----------------------------------------------------
    def test_contract_token_conflict_progress_range_and_spool_removal(self):
        gate = self.path("c1", "gate")
        size = 16 * 2**20 + 17  # more than loopback socket buffers hold
        a = self.agent(["--source", "command", "--format", "bin", "--command", gated_command(gate, size)])
        status, headers, body = a.request("GET", "/backup/capabilities")
        self.assertEqual(status, 200, body)
        caps = json.loads(body)
        self.assertEqual(caps["version"], "v1")
        self.assertEqual(caps["types"], ["custom"])
        self.assertNotIn("est_size", caps)  # no run yet

        status, headers, body = a.request("POST", "/backup/export", token=False)
        self.assertEqual(status, 401, body)
        self.assertIn("Bearer", headers["www-authenticate"])
        status, headers, body = a.request("POST", "/backup/export", token=WRONG_TOKEN)
        self.assertEqual(status, 401, body)
        self.assertEqual(json.loads(body)["code"], "unauthorized")
        self.assertEqual(a.spool_files(), [])  # a refused request started nothing

        status, headers, body = a.request("POST", "/backup/export")
        self.assertEqual(status, 202, body)
        started = json.loads(body)
        status_url = started["status_url"]
        self.assertEqual(headers["location"], status_url)
        status, _, body = a.request("POST", "/backup/export")
        self.assertEqual(status, 409, body)
        conflict = json.loads(body)
        self.assertEqual(conflict["code"], "export_in_progress")
        self.assertEqual(conflict["job_id"], started["job_id"])

        status, headers, body = a.request("GET", status_url)
        self.assertEqual(status, 202, body)
        self.assertEqual(json.loads(body)["status"], "running")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)

        open(gate, "w").close()
        wait_until(lambda: a.request("GET", status_url, headers={"Range": "bytes=0-0"})[0] == 206,
                   what="the export to finish")
        # An interrupted download: the client reads a part and drops the connection.
        sock = socket.create_connection(("127.0.0.1", a.port), timeout=30)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                      % (status_url, AGENT_TOKEN)).encode())
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 100000:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "connection closed early")
            got += chunk
        sock.close()
        head, first = got.split(b"\r\n\r\n", 1)
        self.assertIn(b"200 OK", head.split(b"\r\n")[0])
        expected_sha = re.search(rb"(?i)x-checksum-sha256: *([0-9a-f]{64})", head).group(1).decode()
        self.assertIn(b"X-Size: %d" % size, head)
        self.assertIn(b"X-Format: bin", head)
        self.assertTrue(a.spool_files(), "the spool must stay until a download completes")
        # ... resumes where it stopped.
        status, headers, rest = a.request("GET", status_url, headers={"Range": "bytes=%d-" % len(first)})
        self.assertEqual(status, 206, rest[:200])
        self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (len(first), size - 1, size))
        self.assertEqual(headers["x-checksum-sha256"], expected_sha)
        whole = first + rest
        self.assertEqual(len(whole), size)
        self.assertEqual(hashlib.sha256(whole).hexdigest(), expected_sha)
        # A complete download removes the spool; the export is then gone.
        wait_until(lambda: a.spool_files() == [], what="the spool to be removed")
        status, _, body = a.request("GET", status_url)
        self.assertEqual(status, 404, body)
        caps = json.loads(a.request("GET", "/backup/capabilities")[2])
        self.assertEqual(caps["est_size"], size)
        self.assertGreaterEqual(caps["est_seconds"], 1)
        self.assert_token_never_logged(a)

    def test_unsatisfiable_range_and_ttl_removal(self):
        a = self.agent(["--source", "command", "--format", "bin", "--command", "printf 0123456789",
                        "--spool-ttl", "4s"])
        status, _, body = a.request("POST", "/backup/export")
        url = json.loads(body)["status_url"]
        wait_until(lambda: a.request("GET", url, headers={"Range": "bytes=20-"})[0] == 416,
                   what="a 416 once the export is ready")
        # A part that stops short of the end keeps the spool (a download reaching it would not).
        status, headers, body = a.request("GET", url, headers={"Range": "bytes=2-5"})
        self.assertEqual((status, body), (206, b"2345"))
        self.assertEqual(headers["content-range"], "bytes 2-5/10")
        self.assertTrue(a.spool_files())
        wait_until(lambda: a.spool_files() == [], what="the TTL to remove the spool")
        self.assertTrue(a.wait_log("reason=spool-ttl"), a.log_text())
        self.assertEqual(a.request("GET", url)[0], 404)

    # -- through respaldo serve --------------------------------------------------------------
    def test_tar_tree_round_trip(self):
        root = self.path("tree", "data")
        os.makedirs(os.path.join(root, "a", "b", "c"))
        with open(os.path.join(root, "a", "b", "c", "deep.txt"), "w") as f:
            f.write("deep\n")
        secret = os.path.join(root, "a", "secret")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        os.chmod(secret, 0o600)
        tool = os.path.join(root, "a", "tool.sh")
        with open(tool, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(tool, 0o755)
        os.chmod(os.path.join(root, "a", "b"), 0o755)
        os.symlink("b/c/deep.txt", os.path.join(root, "a", "link"))
        sparse = os.path.join(root, "sparse.img")
        gib = 2**30
        with open(sparse, "wb") as f:
            f.truncate(gib)
            for off, data in ((0, b"begin"), (gib // 2, b"middle"), (gib - 3, b"end")):
                f.seek(off)
                f.write(data)
        odd = os.path.join(os.fsencode(root), b"caf\xe9-\xff.bin")  # not UTF-8
        with open(odd, "wb") as f:
            f.write(b"latin-1 name\n")
        os.makedirs(os.path.join(root, "skip"))
        with open(os.path.join(root, "skip", "cache.tmp"), "w") as f:
            f.write("excluded\n")

        a = self.agent(["--source", "tar", "--path", root, "--exclude", "*.tmp"])
        caps = json.loads(a.request("GET", "/backup/capabilities")[2])
        self.assertEqual(caps["types"], ["files"])
        name = self.register(a)
        t0 = time.monotonic()
        job = self.server.run_backup(name, timeout=120)
        self.assertEqual(job["state"], "succeeded", job)
        entry = self.server.catalog(name)[0]
        self.assertEqual(entry["format"], "tar")
        self.assertLess(entry["size"], 16 * 2**20, "the sparse file must travel as a sparse member")

        dest = self.path("tree", "out", "x")
        r = run_cli(["drill", name, "--into", dest, "--server", "http://127.0.0.1:%d" % self.server.port],
                    env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN}, timeout=120)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"drill passed", r.stdout)
        copy = os.path.join(dest, root.lstrip("/"))
        # A second drill into the same (now full) directory is refused.
        r = run_cli(["drill", name, "--into", dest, "--server", "http://127.0.0.1:%d" % self.server.port],
                    env={"RESPALDO_ADMIN_TOKEN": ADMIN_TOKEN}, timeout=120)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"must be an empty", r.stdout)
        drills = self.server.get("/api/backups/" + entry["id"]).json()["drills"]
        self.assertEqual([(d["target"], d["passed"]) for d in drills], [("directory", False), ("directory", True)])
        self.assertGreater(drills[1]["entries"], 8)
        print("tar round trip: %.1fs, archive %d bytes" % (time.monotonic() - t0, entry["size"]))

        def tree(base):
            base = os.fsencode(base)
            out = {}
            for dirpath, dirs, files in os.walk(base):
                for n in dirs + files:
                    p = os.path.join(dirpath, n)
                    rel = os.path.relpath(p, base)
                    st = os.lstat(p)
                    item = {"mode": stat.S_IMODE(st.st_mode), "type": stat.S_IFMT(st.st_mode)}
                    if stat.S_ISLNK(st.st_mode):
                        item["link"] = os.readlink(p)
                    elif stat.S_ISREG(st.st_mode) and st.st_size < 2**20:
                        with open(p, "rb") as f:
                            item["data"] = f.read()
                    out[rel] = item
            return out

        want = tree(root)
        del want[b"skip/cache.tmp"]
        self.assertEqual(tree(copy), want)
        self.assertEqual(want[b"a/secret"]["mode"], 0o600)
        self.assertEqual(want[b"a/link"]["link"], b"b/c/deep.txt")
        restored = os.path.join(copy, "sparse.img")
        st = os.stat(restored)
        self.assertEqual(st.st_size, gib)
        self.assertLess(st.st_blocks * 512, 16 * 2**20, "the restored file must stay sparse")
        with open(restored, "rb") as f:
            for off, data in ((0, b"begin"), (gib // 2, b"middle"), (gib - 3, b"end")):
                f.seek(off)
                self.assertEqual(f.read(len(data)), data)
            self.assertGreaterEqual(os.lseek(f.fileno(), 4096, os.SEEK_DATA), gib // 2 - 4096)

    def test_failing_command_reaches_the_job_error(self):
        a = self.agent(["--source", "command", "--format", "sql", "--command",
                        "echo 'partial'; echo 'pg_dump: error: connection to server failed: FATAL' >&2; exit 3"])
        name = self.register(a)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "app_export_failed")
        self.assertIn("exit status 3", job["error"]["message"])
        self.assertIn("pg_dump: error: connection to server failed: FATAL", job["error"]["message"])
        self.assertEqual(a.spool_files(), [])
        self.assertEqual(self.server.catalog(name), [])

    def test_full_spool_fails_before_the_dump_runs(self):
        spool = self.path("full", "spool")
        os.makedirs(spool)
        marker = self.path("full", "ran")
        # The last run was 4 EiB: 1.5 times that is more than any disk here has free.
        with open(os.path.join(spool, "last-run.json"), "w") as f:
            json.dump({"seconds": 5, "size": 4 * 2**60}, f)
        a = self.agent(["--source", "command", "--format", "bin", "--command", "touch '%s'; echo x" % marker],
                       spool_dir=spool)
        name = self.register(a)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "failed", job)
        self.assertIn("spool dir", job["error"]["message"])
        self.assertIn("bytes free", job["error"]["message"])
        self.assertTrue(a.wait_log("code=spool_full"), a.log_text())
        self.assertFalse(os.path.exists(marker), "the command must not run without room for its dump")

    def test_agent_killed_mid_dump_then_next_backup_succeeds(self):
        gate = self.path("kill", "gate")
        spool = self.path("kill", "spool")
        port = free_port()
        args = ["--source", "command", "--format", "bin", "--command", gated_command(gate, 2 * 2**20)]
        a = Agent(args, spool_dir=spool, port=port).start()
        self.addCleanup(a.cleanup)
        name = self.register(a)
        job_id = self.server.start_backup(name)
        self.assertTrue(a.wait_log("export started"), a.log_text())
        wait_until(lambda: a.spool_files(), what="the spool file")
        a.kill()
        # Nothing of the agent outlives it (its dump inherits no socket): the poll fails at once
        # instead of waiting for respaldo's read timeout, and the port is free again.
        job = self.server.wait_job(job_id, timeout=30)
        self.assertEqual(job["state"], "failed", job)
        self.assertIn(job["error"]["code"], ("app_unreachable", "app_export_failed", "app_timeout"))
        self.assertEqual(self.server.catalog(name), [])

        b = Agent(args, spool_dir=spool, port=port).start()
        self.addCleanup(b.cleanup)
        self.assertIn("removed the spool of an unfinished run", b.log_text())
        open(gate, "w").close()
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(self.server.catalog(name)[0]["size"], 2 * 2**20)
        wait_until(lambda: b.spool_files() == [], what="the spool to be removed after the download")

    def test_a_busy_agent_is_retried_until_its_export_ends(self):
        server = Respaldo(args=["--probe-interval", "0", "--max-attempts", "5",
                                "--retry-base-delay", "1s", "--deferred-poll-max", "1s"]).start()
        self.addCleanup(server.cleanup)
        gate = self.path("busy", "gate")
        a = self.agent(["--source", "command", "--format", "bin", "--command",
                        gated_command(gate, 3 * 2**20)])
        name = "agent-app-busy"
        server.register(name=name, url=a.url(), token=a.token, retention=KEEP_ALL,
                        drive_folder_id=FOLDER, schedule=SCHEDULE)
        # An export started by someone else holds the agent: respaldo's first try meets 409.
        status, _, body = a.request("POST", "/backup/export")
        self.assertEqual(status, 202, body)
        job_id = server.start_backup(name)
        self.assertTrue(server.wait_log("answered 409: the app is still running another export"),
                        server.log_text())
        job = server.get("/api/jobs/" + job_id).json()
        self.assertNotIn(job["state"], ("failed", "succeeded"), job)
        self.assertEqual(job["error"]["code"], "app_export_failed", job)
        open(gate, "w").close()
        job = server.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertGreaterEqual(job["attempt"], 2, job)
        self.assertEqual(server.catalog(name)[0]["size"], 3 * 2**20)

    def test_stream_mode_backup(self):
        a = self.agent(["--source", "command", "--format", "txt", "--mode", "stream", "--command",
                        "seq 1 200000"])
        name = self.register(a)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "succeeded", job)
        expected = "".join("%d\n" % i for i in range(1, 200001)).encode()
        entry = self.server.catalog(name)[0]
        self.assertEqual(entry["size"], len(expected))
        self.assertEqual(entry["sha256"], hashlib.sha256(expected).hexdigest())
        wait_until(lambda: a.spool_files() == [], what="the spool to be removed")

    def test_stream_mode_failure_is_a_problem(self):
        a = self.agent(["--source", "command", "--format", "txt", "--mode", "stream", "--command",
                        "echo 'dump: disk quota exceeded' >&2; exit 7"])
        status, headers, body = a.request("POST", "/backup/export")
        self.assertEqual(status, 500, body)
        doc = json.loads(body)
        self.assertEqual(doc["code"], "export_command_failed")
        self.assertIn("exit status 7: dump: disk quota exceeded", doc["detail"])
        self.assertEqual(a.spool_files(), [])
        name = self.register(a)
        job = self.server.run_backup(name)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "app_export_failed")

    def test_timeout_kills_the_command(self):
        pidfile = self.path("timeout", "pid")
        a = self.agent(["--source", "command", "--format", "bin", "--timeout", "1s", "--command",
                        "sh -c 'echo $$ > %s; exec sleep 60'" % pidfile])
        status, _, body = a.request("POST", "/backup/export")
        url = json.loads(body)["status_url"]

        def failed():
            s, _, b = a.request("GET", url)
            return s == 200 and json.loads(b)
        doc = wait_until(failed, what="the export to fail")
        self.assertEqual(doc["status"], "failed")
        self.assertIn("--timeout", doc["error"])
        pid = int(open(pidfile).read())
        wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                   open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                   what="the dump's process group to be killed")


if __name__ == "__main__":
    unittest.main()
