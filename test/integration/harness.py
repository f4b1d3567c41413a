"""The one fixture module of the black-box tests: runs the real respaldo binary (a temporary data
dir, a free loopback port, HTTP helpers, log capture), holds the constants the tests share and the
steps they all take (register an app double, start a backup, wait for a job, run a subcommand, set
up a Drive double). Standard library and the doubles only."""

import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from app_double import AppDouble
from drive_double import DriveDouble

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

ADMIN_TOKEN = "test-admin-token-0123456789"
APP_TOKEN = "app-token-0123456789"
FOLDER = GUIDE_APP["drive_folder_id"]
SCHEDULE = "0 3 1 1 *"  # far away: no scheduled run interferes
KEEP_ALL = {"daily": 0, "weekly": 0, "last": 1000}
MiB = 2**20
SMALL = 3 * MiB + 123  # not a multiple of the chunk size
FINAL_STATES = ("succeeded", "failed", "cancelled")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Small chunks and short retry delays keep every Drive case fast.
DRIVE_ARGS = ["--chunk-size", "256KiB", "--retry-base-delay", "100ms", "--retry-max-delay", "1s",
              "--probe-interval", "0"]


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

    def __init__(self, data_dir=None, args=(), env=None, admin_token=ADMIN_TOKEN,
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

    def job(self, job_id):
        r = self.get("/api/jobs/" + job_id)
        if r.status != 200:
            raise AssertionError("job %s: %r" % (job_id, r))
        return r.json()

    def start_backup(self, name):
        """Starts a manual backup of `name`, returns the job id."""
        return self._start_job("/api/apps/%s/backups" % name)

    def start_verify(self, name):
        """Starts a restore verification of `name`, returns the job id."""
        return self._start_job("/api/apps/%s/verify" % name)

    def _start_job(self, path):
        r = self.post(path)
        if r.status != 202:
            raise AssertionError("POST %s: %r" % (path, r))
        return r.json()["job_id"]

    def run_backup(self, name, timeout=60):
        """Starts a backup of `name` and returns the job once it has finished."""
        return self.wait_job(self.start_backup(name), timeout=timeout)

    def catalog(self, name, limit=500):
        r = self.get("/api/apps/%s/backups?limit=%d" % (name, limit))
        if r.status != 200:
            raise AssertionError("catalog of %s: %r" % (name, r))
        return r.json()["items"]

    def wait_log(self, text, timeout=30):
        """Waits until `text` shows in the log; the caller asserts on what it then expects."""
        return poll_until(lambda: text in self.log_text(), timeout=timeout)

    def wait_job(self, job_id, states=FINAL_STATES, timeout=60):
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


def poll_until(predicate, timeout=30.0, interval=0.05):
    """Calls predicate() until it returns something truthy or `timeout` seconds pass; returns its
    last value either way (for loops whose caller asserts on the outcome)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Like poll_until, but fails when the predicate never held."""
    value = poll_until(predicate, timeout, interval)
    if not value:
        raise AssertionError("timed out after %.0fs waiting for %s; last value: %r" % (timeout, what, value))
    return value


def run_cli(args, env=None, timeout=30, **kw):
    """Runs the binary to completion (never a server that keeps running), without the admin token
    of the test's own environment."""
    full_env = dict(os.environ)
    full_env.pop("RESPALDO_ADMIN_TOKEN", None)
    full_env.update(env or {})
    return subprocess.run([BIN] + list(args), env=full_env, capture_output=True, timeout=timeout, **kw)


def serve_args(data_dir, *args):
    """A `serve` command line on a free loopback port, for runs that must fail at start-up."""
    return ["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir] + list(args)


_app_numbers = itertools.count(1)


def new_app_name(prefix="app"):
    """A name no other app of this test process has; its number doubles as a content seed."""
    n = next(_app_numbers)
    return "%s-%d" % (prefix, n), n


def register_app(server, name, url, token=APP_TOKEN, retention=None):
    """Registers `url` with a schedule that never fires during a test and a retention that keeps
    every backup."""
    server.register(name=name, url=url, token=token, retention=retention or KEEP_ALL,
                    drive_folder_id=FOLDER, schedule=SCHEDULE)
    return name


def start_app(test, server, prefix="app", token=APP_TOKEN, retention=None, **settings):
    """Starts an app double (stopped at the test's cleanup) and registers it under a new name;
    each app gets its own content seed unless `settings` name one."""
    name, n = new_app_name(prefix)
    settings.setdefault("size", SMALL)
    settings.setdefault("seed", n)
    app = AppDouble(token=token, **settings).start()
    test.addCleanup(app.stop)
    register_app(server, name, app.url, token, retention)
    return name, app


def drive_args(drive, credentials, extra=(), base=DRIVE_ARGS):
    """respaldo's flags for Drive storage against `drive`; a flag given in `extra` replaces the
    same flag of `base`."""
    extra = list(extra)
    common = []
    for i in range(0, len(base), 2):
        if base[i] not in extra:
            common += base[i:i + 2]
    return common + ["--storage", "drive", "--drive-credentials", credentials,
                     "--drive-api-url", drive.base_url] + extra


class DriveSetup:
    """A temporary directory holding a Drive double with a service account, and an app double:
    what every Drive test starts from. stop() takes all of it down."""

    def __init__(self, prefix, app_token, drive_kwargs=None, **app_settings):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.drive = DriveDouble(data_dir=os.path.join(self.tmp, "drive"), **(drive_kwargs or {})).start()
        self.sa = self.drive.make_service_account(os.path.join(self.tmp, "sa"))
        self.app = AppDouble(token=app_token, **app_settings).start()

    def stop(self):
        self.app.stop()
        self.drive.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def raw_exchange(port, data, timeout=15):
    """Sends raw bytes and returns everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Under ASan and UBSan (scripts/test.sh --sanitize) shadow memory and the allocator's quarantine
# add to every process's RSS: bounds on memory are checked scaled, still as bounds.
SANITIZED = os.environ.get("RESPALDO_SANITIZED", "").upper() in ("ON", "1", "TRUE")
RSS_FACTOR = 3 if SANITIZED else 1


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
