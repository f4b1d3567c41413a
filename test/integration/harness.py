"""Runs the real respaldo binary for black-box tests: a temporary data dir, a free loopback port,
HTTP helpers and log capture. Standard library only."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("RESPALDO_BIN", "respaldo")
SOURCE_DIR = os.environ.get("RESPALDO_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

GUIDE_APP = {
    "name": "mi-app",
    "url": "http://mi-app:8000",
    "token": "secreto-compartido",
    "drive_folder_id": "1AbC2dEfG3",
    "schedule": "0 3 * * *",
    "retention": {"daily": 7, "weekly": 4},
}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class Respaldo:
    """One `respaldo serve` process. Use as a context manager or call start()/stop()."""

    def __init__(self, data_dir=None, args=(), env=None, admin_token="test-admin-token-0123456789",
                 preexec_fn=None):
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="respaldo-test-")
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.pop("RESPALDO_ADMIN_TOKEN", None)
        if admin_token is not None:
            self.env["RESPALDO_ADMIN_TOKEN"] = admin_token
        self.env.update(env or {})
        self.admin_token = admin_token
        # Runs in the child before exec (resource limits, signal dispositions).
        self.preexec_fn = preexec_fn
        self.proc = None
        self.port = None
        self.log_lines = []
        self._log_lock = threading.Lock()
        self._listening = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout=15):
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir] + self.args
        self._listening.clear()
        self.port = None
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=self.preexec_fn)
        self._readers = [threading.Thread(target=self._read_log, args=(pipe,), daemon=True)
                         for pipe in (self.proc.stderr, self.proc.stdout)]
        for t in self._readers:
            t.start()
        if not self._listening.wait(timeout):
            self.kill()
            raise AssertionError("respaldo did not start listening:\n" + self.log_text())
        if self.admin_token is None:
            with open(os.path.join(self.data_dir, "admin-token")) as f:
                self.admin_token = f.read().strip()
        return self

    def _read_log(self, pipe):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_lock:
                self.log_lines.append(line)
            m = re.search(r"listening address=\S+:(\d+)", line) or re.search(r'"msg":"listening".*"address":"[^"]*:(\d+)"', line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._listening.set()

    def _close_pipes(self):
        """After the process exited: lets the log readers reach the end, then closes the pipes."""
        for t in getattr(self, "_readers", []):
            t.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe and not pipe.closed:
                pipe.close()

    def log_text(self):
        with self._log_lock:
            return "\n".join(self.log_lines)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_pipes()
            raise AssertionError("respaldo did not exit within %ss of %s" % (timeout, sig))
        self._close_pipes()
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self._close_pipes()

    def restart(self, **kw):
        self.stop()
        return self.start(**kw)

    def cleanup(self):
        self.kill()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- HTTP ----------------------------------------------------------------------------
    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, auth=True, content_type="application/json", timeout=30):
        hdrs = {}
        if auth:
            hdrs["Authorization"] = "Bearer " + (self.admin_token if auth is True else auth)
        payload = None
        if body is not None:
            payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(payload, str):
                payload = payload.encode("utf-8")
            if content_type:
                hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=payload, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def register(self, **overrides):
        app = dict(GUIDE_APP)
        app.update(overrides)
        r = self.post("/api/apps", app)
        if r.status != 201:
            raise AssertionError("registration failed: %r" % r)
        return app

    def wait_job(self, job_id, states=("succeeded", "failed", "cancelled"), timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            r = self.get("/api/jobs/" + job_id)
            if r.status == 200:
                last = r.json()
                if last["state"] in states:
                    return last
            time.sleep(0.05)
        raise AssertionError("job %s did not reach %s in %ss; last: %s\nlog:\n%s" % (job_id, states, timeout, last, self.log_text()[-4000:]))


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    """Current resident set size of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
