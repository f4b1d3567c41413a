#!/usr/bin/env python3
"""Throughput and memory benchmark of respaldo's backup path, against shell pipelines doing the
same work through the same test doubles, on the same machine and in the same run.

Sections (each prints one summary line; a table follows at the end):
  tools  machine ceilings: `openssl speed -evp sha256`, sha256sum, fsync'd and O_DIRECT disk
         writes (dd), and the app double's export read by curl into /dev/null
  local  app double -> respaldo serve -> local storage, against
         curl export | tee FILE | sha256sum (and | openssl dgst) ; sync FILE
  flat   peak RSS of respaldo for a small backup against the large one (memory stays flat)
  drive  app double -> respaldo --storage drive -> Drive double (files on tmpfs), against
         curl export | tee >(sha256sum) | curl -T - (one resumable PUT to the same double)

Before each timed transfer a file of its size is written and deleted (BENCH_PRIME=0 turns this
off): see prime_memory(). Standard library only. Run through scripts/bench.sh, which finds the
binary; docs/benchmarks.md has the figures and how to read them.
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DOUBLES = os.path.join(ROOT, "test", "doubles")
sys.path.insert(0, DOUBLES)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))

import drive_double  # noqa: E402
import harness  # noqa: E402

APP_TOKEN = "bench-app-token-0123456789"
FOLDER_ID = "1BenchFolder0123456789"
MB = 1e6
MiB = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")

PRESETS = {
    # size, small size (RSS flatness), repeats, openssl speed seconds, dd size
    "full": {"size": "2GiB", "small": "256MiB", "repeat": 3, "hash_seconds": 3, "dd": None},
    "quick": {"size": "256MiB", "small": "32MiB", "repeat": 3, "hash_seconds": 1, "dd": None},
    "smoke": {"size": "32MiB", "small": "16MiB", "repeat": 1, "hash_seconds": 1, "dd": "32MiB"},
}


class BenchError(Exception):
    """A measurement that could not be taken (the run fails)."""


class Skip(Exception):
    """A section that cannot run here (reported, the run goes on)."""


# ---- small utilities ------------------------------------------------------------------------


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(i?B)?\s*", str(text))
    if not m:
        raise ValueError("bad size %r (use bytes or 256MiB, 2GiB, 64k)" % text)
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def human_size(n):
    for unit, f in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f and n % f == 0:
            return "%d %s" % (n // f, unit)
    return "%d B" % n


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), in bytes; None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_cpu_seconds(pid):
    """User + system CPU time of a process (all its threads) so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class RssSampler:
    """Samples VmRSS of a process on a thread; VmHWM is read by the caller at the end."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.max_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss = proc_status(self.pid, "VmRSS")
            if rss is None:
                return
            self.max_rss = max(self.max_rss, rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_shell(script, env, timeout):
    """Runs a bash script; returns (wall seconds, CPU seconds of all its processes)."""
    cpu0 = children_cpu_seconds()
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", script], env=dict(os.environ, **env), capture_output=True,
                       text=True, timeout=timeout, check=False)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise BenchError("shell pipeline failed (exit %d): %s\n%s" %
                         (r.returncode, script.strip(), r.stderr.strip()[-2000:]))
    return wall, children_cpu_seconds() - cpu0, r.stdout


def http_json(method, url, body=None, headers=None, timeout=60, form=None):
    data = None
    hdrs = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json; charset=UTF-8"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        raise BenchError("%s %s answered %d: %s" % (method, url, e.code, raw[:500])) from None


def read_sha_file(path):
    with open(path) as f:
        text = f.read().split()
    if not text or not re.fullmatch(r"[0-9a-f]{64}", text[0]):
        raise BenchError("no SHA-256 in %s" % path)
    return text[0]


def read_header(path, name):
    with open(path, errors="replace") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
    return None


# ---- results --------------------------------------------------------------------------------


class Run:
    """One timed transfer. ``stream`` is the time until every byte was received and hashed (the
    rest of ``wall`` is fsync, rename and bookkeeping); None where a path has no such split."""

    def __init__(self, wall, cpu, stream=None, peak_rss=None, idle_rss=None, sha256=None):
        self.wall, self.cpu, self.stream = wall, cpu, stream
        self.peak_rss, self.idle_rss, self.sha256 = peak_rss, idle_rss, sha256


class Measurement:
    """Repeated runs of one path: medians of time and CPU, the largest peak RSS."""

    def __init__(self, section, label, size, runs):
        self.section, self.label, self.size, self.runs = section, label, size, runs
        self.wall = statistics.median(r.wall for r in runs)
        self.cpu = statistics.median(r.cpu for r in runs)
        streams = [r.stream for r in runs if r.stream is not None]
        self.stream = statistics.median(streams) if streams else None
        self.peak_rss = max((r.peak_rss or 0 for r in runs), default=0) or None
        self.idle_rss = max((r.idle_rss or 0 for r in runs), default=0) or None

    @property
    def mbps(self):
        return self.size / self.wall / MB

    def spread(self):
        if len(self.runs) < 2:
            return ""
        rates = sorted(self.size / r.wall / MB for r in self.runs)
        return "%.0f-%.0f" % (rates[0], rates[-1])

    def as_dict(self):
        return {"section": self.section, "label": self.label, "size": self.size,
                "walls": [r.wall for r in self.runs],
                "streams": [r.stream for r in self.runs],
                "cpus": [r.cpu for r in self.runs], "wall": self.wall, "mb_per_s": self.mbps,
                "stream": self.stream, "cpu": self.cpu, "peak_rss": self.peak_rss,
                "idle_rss": self.idle_rss}


class Results:
    def __init__(self):
        self.rows = []  # Measurement
        self.ceilings = {}  # name -> (MB/s, description)
        self.ratios = []  # (description, value)
        self.skipped = []  # (section, reason)
        self.failed = []  # (section, reason)

    def as_dict(self):
        return {"rows": [m.as_dict() for m in self.rows], "ceilings": self.ceilings,
                "ratios": self.ratios, "skipped": self.skipped, "failed": self.failed}


def fmt_rss(n):
    return "%.1f" % (n / MiB) if n else "-"


def print_table(res):
    print()
    print("== respaldo benchmark: summary ==")
    if res.ceilings:
        print("machine ceilings:")
        for name, (rate, desc) in res.ceilings.items():
            print("  %-22s %8.0f MB/s  %s" % (name, rate, desc))
    if res.rows:
        head = "%-6s %-8s %-42s %7s %6s %9s %9s %6s %9s" % (
            "sect", "size", "path", "wall s", "MB/s", "range", "stream s", "CPU s", "peak RSS")
        print(head)
        print("-" * len(head))
        for m in res.rows:
            rss = fmt_rss(m.peak_rss) + " MiB" if m.peak_rss else "-"
            stream = "%.2f" % m.stream if m.stream is not None else "-"
            print("%-6s %-8s %-42s %7.2f %6.0f %9s %9s %6.2f %9s" % (
                m.section, human_size(m.size), m.label, m.wall, m.mbps, m.spread(), stream,
                m.cpu, rss))
    if res.ratios:
        print("ratios:")
        for desc, value in res.ratios:
            print("  %-58s %6.2f" % (desc, value))
    for section, reason in res.skipped:
        print("SKIPPED %s: %s" % (section, reason))
    for section, reason in res.failed:
        print("FAILED %s: %s" % (section, reason))


# ---- processes --------------------------------------------------------------------------------


class AppDoubleProcess:
    """test/doubles/app_double.py as its own process (it computes the checksum before listening)."""

    def __init__(self, size, seed=1, timeout=300):
        cmd = [sys.executable, os.path.join(DOUBLES, "app_double.py"), "--port", "0",
               "--host", "127.0.0.1", "--token", APP_TOKEN, "--size", str(size),
               "--seed", str(seed)]
        self.size = size
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("listening ") or (not line and self.proc.poll() is not None):
                break
        if not line.startswith("listening "):
            self.stop()
            raise BenchError("the app double did not start")
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class RespaldoRun:
    """One fresh `respaldo serve` (temporary data dir), one app registered, one backup timed."""

    def __init__(self, bin_path, work_dir, args=(), timeout=1800):
        harness.BIN = bin_path
        self.data_dir = tempfile.mkdtemp(prefix="respaldo-bench-", dir=work_dir)
        # One attempt: a failure shows at once instead of after retry back-off.
        self.server = harness.Respaldo(data_dir=self.data_dir,
                                       args=["--max-attempts", "1", *args])
        self.timeout = timeout

    def __enter__(self):
        try:
            self.server.start(timeout=60)
        except BaseException:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.server.stop()
        finally:
            self.server.kill()
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def storage_kind(self):
        m = re.search(r'listening\b.*?\bstorage"?[=:]"?(\w+)', self.server.log_text())
        return m.group(1) if m else None

    def backup(self, app_url, folder_id="1BenchLocalFolder", before=None):
        """Registers the app and runs one backup, from POST /backups to a final job state;
        calls `before` just before. Returns (Run, job)."""
        s = self.server
        app = s.register(name="bench", url=app_url, token=APP_TOKEN, drive_folder_id=folder_id,
                         schedule="0 3 1 1 *", retention={"daily": 1, "weekly": 0})
        if before:
            before()
        pid = s.proc.pid
        idle = proc_status(pid, "VmHWM")
        cpu0 = proc_cpu_seconds(pid)
        stream = None
        with RssSampler(pid) as sampler:
            t0 = time.monotonic()
            r = s.post("/api/apps/%s/backups" % app["name"])
            if r.status != 202:
                raise BenchError("POST /api/apps/bench/backups answered %r" % r)
            job_id = r.json()["job_id"]
            deadline = t0 + self.timeout
            while True:
                job = s.get("/api/jobs/" + job_id).json()
                now = time.monotonic()
                if stream is None and (job.get("phase") == "finalizing" or
                                       job["state"] != "running" and job["state"] != "queued"):
                    stream = now - t0
                if job["state"] in ("succeeded", "failed", "cancelled"):
                    break
                if now > deadline:
                    raise BenchError("job %s still %s after %ss" % (job_id, job["state"],
                                                                     self.timeout))
                time.sleep(0.02)
            wall = time.monotonic() - t0
            # Read before the process stops: VmHWM is the kernel's own high-water mark.
            peak = max(proc_status(pid, "VmHWM") or 0, sampler.max_rss)
        run = Run(wall, proc_cpu_seconds(pid) - cpu0, stream, peak, idle,
                  (job.get("backup") or {}).get("sha256"))
        return run, job


def prime_memory(cfg, size):
    """Writes and deletes a file as large as the next transfer, right before it.

    On virtual machines whose free memory is handed back to the host (balloon free page
    reporting, DAMON), the first touch of a page costs a host fault: writing 2 GiB into the page
    cache took 0.4 s right after a delete and 5 s after 15 s idle here. Priming makes every path
    start with memory just freed, so that the comparison measures the paths, not the host."""
    if not cfg.prime:
        return
    target = os.path.join(cfg.work_dir, "bench-prime.bin")
    count = (size + 256 * MiB) // (8 * MiB) + 1
    try:
        run_shell('dd if=/dev/zero of="$F" bs=8M count="$C" status=none', {"F": target,
                                                                             "C": str(count)},
                  900)
    finally:
        if os.path.exists(target):
            os.unlink(target)


# ---- sections ---------------------------------------------------------------------------------


def tools_section(cfg, res):
    """Ceilings of this machine: hashing, disk, and the source itself."""
    out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", "8192", "-seconds",
                          str(cfg.hash_seconds)], capture_output=True, text=True, check=False)
    m = re.search(r"^sha256\s.*?([\d.]+)k\s*$", out.stdout, re.M)
    if m:
        res.ceilings["openssl sha256"] = (float(m.group(1)) * 1000 / MB,
                                          "openssl speed -evp sha256 -bytes 8192, one core")
    else:
        log("tools: could not parse openssl speed output:\n" + out.stdout + out.stderr)

    n = min(cfg.size, 512 * MiB)
    wall, _, _ = run_shell('head -c "$N" /dev/zero | sha256sum >/dev/null', {"N": str(n)}, 600)
    res.ceilings["sha256sum"] = (n / wall / MB, "coreutils sha256sum of a pipe (%s)" %
                                 human_size(n))

    target = os.path.join(cfg.work_dir, "bench-dd.bin")
    count = max(1, cfg.dd_size // (8 * MiB))
    try:
        for name, flag, desc in (("disk write+fsync", "conv=fsync", "dd bs=8M conv=fsync"),
                                 ("disk O_DIRECT", "oflag=direct", "dd bs=8M oflag=direct")):
            script = 'dd if=/dev/zero of="$F" bs=8M count="$C" %s status=none' % flag
            try:
                if flag == "conv=fsync":
                    prime_memory(cfg, count * 8 * MiB)
                wall, _, _ = run_shell(script, {"F": target, "C": str(count)}, 900)
            except BenchError as e:
                log("tools: %s unavailable: %s" % (desc, e))
                continue
            finally:
                if os.path.exists(target):
                    os.unlink(target)
            res.ceilings[name] = (count * 8 * MiB / wall / MB, "%s, %s in %s" % (
                desc, human_size(count * 8 * MiB), cfg.work_dir))
    finally:
        if os.path.exists(target):
            os.unlink(target)

    app = cfg.big_app()
    script = ('curl -sS --fail -X POST -H "Authorization: Bearer $T" "$U/backup/export" '
              '-o /dev/null')
    wall, _, _ = run_shell(script, {"T": APP_TOKEN, "U": app.url}, 900)
    res.ceilings["app double -> curl"] = (app.size / wall / MB,
                                          "curl export -o /dev/null (source ceiling)")
    print("tools: " + ", ".join("%s %.0f MB/s" % (k, v[0]) for k, v in res.ceilings.items()),
          flush=True)


def local_baseline(cfg, app, hasher):
    """curl export | tee FILE | HASHER, then fsync FILE (respaldo fsyncs before publishing)."""
    # A directory of its own: two runs on one machine must not share the baseline files.
    tmp = tempfile.mkdtemp(prefix="respaldo-bench-baseline-", dir=cfg.work_dir)
    out = os.path.join(tmp, "baseline-export.bin")
    hdr = os.path.join(tmp, "baseline-headers.txt")
    digest = os.path.join(tmp, "baseline-sha256.txt")
    script = ('set -o pipefail; curl -sS --fail -X POST -H "Authorization: Bearer $T" -D "$H" '
              '"$U/backup/export" | tee "$O" | %s > "$S"' % hasher)
    try:
        prime_memory(cfg, app.size)
        stream, cpu, _ = run_shell(script, {"T": APP_TOKEN, "U": app.url, "O": out, "H": hdr,
                                            "S": digest}, 1800)
        flush, cpu2, _ = run_shell('sync "$O"', {"O": out}, 1800)
        got, want = read_sha_file(digest), read_header(hdr, "X-Checksum-SHA256")
        if got != want or os.path.getsize(out) != app.size:
            raise BenchError("baseline copy is wrong: sha256 %s, X-Checksum-SHA256 %s, %d bytes" %
                             (got, want, os.path.getsize(out)))
        return Run(stream + flush, cpu + cpu2, stream, sha256=got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def respaldo_local(cfg, app):
    with RespaldoRun(cfg.bin, cfg.work_dir, cfg.respaldo_args) as rr:
        run, job = rr.backup(app.url, before=lambda: prime_memory(cfg, app.size))
    if job["state"] != "succeeded":
        raise BenchError("respaldo job %s: %s" % (job["state"], json.dumps(job.get("error"))))
    return run


def summary_line(section, size, rsp, b1, b2):
    return ("%s: %s respaldo %.0f MB/s (%.2f s, %s CPU %.2f s, peak RSS %s MiB); baseline "
            "sha256sum %.0f MB/s, openssl %.0f MB/s; ratio %.2f / %.2f" % (
                section, human_size(size), rsp.mbps, rsp.wall,
                "stream %.2f s," % rsp.stream if rsp.stream is not None else "", rsp.cpu,
                fmt_rss(rsp.peak_rss), b1.mbps, b2.mbps, rsp.mbps / b1.mbps, rsp.mbps / b2.mbps))


def local_section(cfg, res):
    app = cfg.big_app()
    runs = {"sha256sum": [], "openssl": [], "respaldo": []}
    # Interleaved, so that drifts of the (shared, virtual) disk hit every path alike.
    for i in range(cfg.repeat):
        runs["sha256sum"].append(local_baseline(cfg, app, "sha256sum"))
        runs["openssl"].append(local_baseline(cfg, app, "openssl dgst -sha256 -r"))
        runs["respaldo"].append(respaldo_local(cfg, app))
        log("local run %d/%d: respaldo %.2f s (stream %.2f s), baseline sha256sum %.2f s "
            "(stream %.2f s), openssl %.2f s (stream %.2f s)" % (
                i + 1, cfg.repeat, runs["respaldo"][-1].wall, runs["respaldo"][-1].stream,
                runs["sha256sum"][-1].wall, runs["sha256sum"][-1].stream,
                runs["openssl"][-1].wall, runs["openssl"][-1].stream))
    expected = runs["sha256sum"][0].sha256
    for r in runs["respaldo"] + runs["openssl"]:
        if r.sha256 != expected:
            raise BenchError("sha256 %s differs from the export's %s" % (r.sha256, expected))
    rsp = Measurement("local", "respaldo serve -> local storage", app.size, runs["respaldo"])
    b1 = Measurement("local", "curl | tee FILE | sha256sum; sync FILE", app.size,
                     runs["sha256sum"])
    b2 = Measurement("local", "curl | tee FILE | openssl dgst; sync FILE", app.size,
                     runs["openssl"])
    res.rows += [rsp, b1, b2]
    res.ratios.append(("local: respaldo / baseline (sha256sum)", rsp.mbps / b1.mbps))
    res.ratios.append(("local: respaldo / baseline (openssl dgst)", rsp.mbps / b2.mbps))
    cfg.local_peak = rsp.peak_rss
    print(summary_line("local", app.size, rsp, b1, b2), flush=True)


def flat_section(cfg, res):
    small = AppDoubleProcess(cfg.small_size, seed=2)
    try:
        m = Measurement("flat", "respaldo serve -> local storage", cfg.small_size,
                        [respaldo_local(cfg, small) for _ in range(cfg.repeat)])
    finally:
        small.stop()
    res.rows.append(m)
    big = cfg.local_peak
    if big is None:  # the local section did not run: one large backup for the comparison
        app = cfg.big_app()
        large = Measurement("flat", "respaldo serve -> local storage", app.size,
                            [respaldo_local(cfg, app)])
        res.rows.append(large)
        big = large.peak_rss
    res.ratios.append(("flat: peak RSS %s / peak RSS %s" % (human_size(cfg.size),
                                                            human_size(cfg.small_size)),
                       big / m.peak_rss))
    print("flat: peak RSS %s MiB for %s, %s MiB for %s (%s MiB before the backup)" % (
        fmt_rss(m.peak_rss), human_size(cfg.small_size), fmt_rss(big), human_size(cfg.size),
        fmt_rss(m.idle_rss)), flush=True)


class DriveSetup:
    """The Drive double as a process, its bytes on tmpfs, one shared-drive folder and a service
    account whose token_uri points at the double."""

    def __init__(self, cfg):
        self.dir = tempfile.mkdtemp(prefix="respaldo-bench-drive-", dir=cfg.shm_dir)
        self.creds_dir = tempfile.mkdtemp(prefix="respaldo-bench-creds-", dir=cfg.work_dir)
        self.double = None
        try:
            self.double = drive_double.DoubleProcess(["--data-dir", self.dir, "--folder",
                                                      FOLDER_ID])
            self.base = self.double.base_url
            self.sa = drive_double.make_service_account(self.creds_dir,
                                                        token_uri=self.base + "/token")
            self.double.control.call("POST", "/_control/service_accounts",
                                     {"path": self.sa["json"]})
        except BaseException:
            self.close()
            raise
        self._token = None

    def token(self):
        if self._token is None:
            _, _, body = http_json("POST", self.base + "/token", form={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": drive_double.make_assertion(self.sa)})
            self._token = body["access_token"]
        return self._token

    def files(self):
        return self.double.control.files(FOLDER_ID)

    def delete_all(self):
        """Frees the tmpfs between runs."""
        for f in self.files():
            http_json("DELETE", "%s/drive/v3/files/%s?supportsAllDrives=true" % (
                self.base, f["id"]), headers={"Authorization": "Bearer " + self.token()})

    def close(self):
        if self.double is not None:
            self.double.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.creds_dir, ignore_errors=True)


def drive_baseline(cfg, drive, app, hasher):
    """curl export | tee >(HASHER) | curl -T - : one resumable session, the whole stream in one
    final PUT (the double accepts a final chunk of any size). Timed from the token request, as
    respaldo's run includes getting its token and opening the session."""
    size = app.size
    drive._token = None
    prime_memory(cfg, size)
    t0 = time.monotonic()
    cpu0 = children_cpu_seconds()
    _, headers, _ = http_json(
        "POST", drive.base + "/upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true"
        "&fields=id,size,md5Checksum,sha256Checksum",
        body={"name": "bench-baseline.bin", "parents": [FOLDER_ID]},
        headers={"Authorization": "Bearer " + drive.token(), "X-Upload-Content-Length": str(size),
                 "X-Upload-Content-Type": "application/octet-stream"})
    session = headers.get("Location")
    if not session:
        raise BenchError("the Drive double gave no session URI")
    tmp = tempfile.mkdtemp(prefix="respaldo-bench-pipe-", dir=cfg.work_dir)
    fifo, digest, reply = (os.path.join(tmp, n) for n in ("hash.fifo", "sha256.txt", "reply"))
    os.mkfifo(fifo)
    # A FIFO stands for >(...) so that the shell can wait for the hasher. The double wants a
    # Content-Length (no chunked body) and no 100-continue round trip.
    script = ('set -o pipefail; %s < "$FIFO" > "$S" & h=$!; '
              'curl -sS --fail -X POST -H "Authorization: Bearer $T" "$U/backup/export" '
              '| tee "$FIFO" | curl -sS --fail -T - -o "$R" '
              '-H "Authorization: Bearer $DT" -H "Content-Range: bytes 0-$LAST/$N" '
              '-H "Content-Length: $N" -H "Transfer-Encoding:" -H "Expect:" '
              '-H "Content-Type: application/octet-stream" "$SESSION"; rc=$?; wait $h || rc=1; '
              'exit $rc' % hasher)
    try:
        run_shell(script, {"FIFO": fifo, "S": digest, "T": APP_TOKEN, "U": app.url, "R": reply,
                           "DT": drive.token(), "LAST": str(size - 1), "N": str(size),
                           "SESSION": session}, 1800)
        wall = time.monotonic() - t0
        cpu = children_cpu_seconds() - cpu0
        with open(reply) as f:
            created = json.load(f)
        got = read_sha_file(digest)
        if created.get("sha256Checksum") != got or int(created.get("size", -1)) != size:
            raise BenchError("baseline upload is wrong: %s, local sha256 %s" % (created, got))
        return Run(wall, cpu, sha256=got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        drive.delete_all()


def respaldo_drive(cfg, drive, app):
    help_text = subprocess.run([cfg.bin, "serve", "--help"], capture_output=True, text=True,
                               check=False).stdout
    args = list(cfg.respaldo_args) + ["--storage", "drive", "--drive-credentials",
                                      drive.sa["json"], "--drive-api-url", drive.base]
    if "--drive-shared-drives" in help_text:
        args.append("--drive-shared-drives")
    rr = RespaldoRun(cfg.bin, cfg.work_dir, args)
    try:
        rr.__enter__()
    except AssertionError as e:
        raise Skip("respaldo serve --storage drive did not start: %s" %
                   str(e).strip().splitlines()[-1]) from None
    try:
        kind = rr.storage_kind()
        if kind != "drive":
            raise Skip("respaldo serve --storage drive started with storage=%s (the Drive "
                       "backend is not wired in this build)" % kind)
        run, job = rr.backup(app.url, folder_id=FOLDER_ID,
                             before=lambda: prime_memory(cfg, app.size))
        if job["state"] != "succeeded":
            raise Skip("the backup to the Drive double ended %s: %s" %
                       (job["state"], json.dumps(job.get("error"))))
        files = drive.files()
        if run.sha256 not in [f.get("sha256") for f in files]:
            raise BenchError("the Drive double holds no file with sha256 %s: %s" %
                             (run.sha256, files))
        return run
    finally:
        rr.__exit__(None, None, None)
        drive.delete_all()


def drive_section(cfg, res):
    app = cfg.big_app()
    drive = DriveSetup(cfg)
    skipped = None
    runs = {"sha256sum": [], "openssl": [], "respaldo": []}
    try:
        for i in range(cfg.repeat):
            runs["sha256sum"].append(drive_baseline(cfg, drive, app, "sha256sum"))
            runs["openssl"].append(drive_baseline(cfg, drive, app, "openssl dgst -sha256 -r"))
            if skipped is None:
                try:
                    runs["respaldo"].append(respaldo_drive(cfg, drive, app))
                except Skip as e:
                    skipped = str(e)
            log("drive run %d/%d: respaldo %s, baseline sha256sum %.2f s, openssl %.2f s" % (
                i + 1, cfg.repeat,
                "%.2f s" % runs["respaldo"][-1].wall if skipped is None else "skipped",
                runs["sha256sum"][-1].wall, runs["openssl"][-1].wall))
    finally:
        drive.close()
    b1 = Measurement("drive", "curl | tee >(sha256sum) | curl -T -", app.size,
                     runs["sha256sum"])
    b2 = Measurement("drive", "curl | tee >(openssl dgst) | curl -T -", app.size,
                     runs["openssl"])
    if skipped is not None:
        res.rows += [b1, b2]
        print("drive: %s baseline sha256sum %.0f MB/s, openssl %.0f MB/s; respaldo SKIPPED" % (
            human_size(app.size), b1.mbps, b2.mbps), flush=True)
        raise Skip(skipped)
    rsp = Measurement("drive", "respaldo serve -> Drive double", app.size, runs["respaldo"])
    res.rows += [rsp, b1, b2]
    res.ratios.append(("drive: respaldo / baseline (sha256sum)", rsp.mbps / b1.mbps))
    res.ratios.append(("drive: respaldo / baseline (openssl dgst)", rsp.mbps / b2.mbps))
    print(summary_line("drive", app.size, rsp, b1, b2), flush=True)


# ---- main -------------------------------------------------------------------------------------


class Config:
    def __init__(self, args):
        preset = PRESETS[args.mode]
        env = os.environ.get
        self.mode = args.mode
        self.bin = args.bin
        self.size = parse_size(env("BENCH_SIZE") or preset["size"])
        self.small_size = parse_size(env("BENCH_SMALL_SIZE") or preset["small"])
        self.repeat = int(env("BENCH_REPEAT") or preset["repeat"])
        self.hash_seconds = int(env("BENCH_HASH_SECONDS") or preset["hash_seconds"])
        self.dd_size = parse_size(env("BENCH_DD_SIZE") or preset["dd"] or self.size)
        self.work_dir = os.path.abspath(env("BENCH_DIR") or env("TMPDIR") or "/var/tmp")
        self.shm_dir = env("BENCH_SHM_DIR") or "/dev/shm"
        self.prime = (env("BENCH_PRIME") or "1") != "0"
        self.settle = float(env("BENCH_SETTLE") or (5 if self.mode == "full" else 0))
        chunk = env("BENCH_CHUNK_SIZE")
        self.respaldo_args = ["--chunk-size", chunk] if chunk else []
        self.sections = args.sections
        self.require_drive = args.require_drive
        self.local_peak = None
        self._big_app = None
        if self.size < 1 or self.small_size < 1 or self.repeat < 1:
            raise ValueError("sizes and BENCH_REPEAT must be positive")

    def big_app(self):
        if self._big_app is None:
            self._big_app = AppDoubleProcess(self.size, seed=1)
        return self._big_app

    def close(self):
        if self._big_app is not None:
            self._big_app.stop()


def machine_line(cfg):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def output(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    fs = output("findmnt", "-no", "FSTYPE", "-T", cfg.work_dir) or "?"
    version = output(cfg.bin, "--version")
    return ("machine: %d CPUs (%s), %s, load average %.2f; work dir %s (%s), Drive double "
            "files in %s; %s" % (os.cpu_count(), model, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                 os.getloadavg()[0], cfg.work_dir, fs, cfg.shm_dir, version))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the respaldo binary")
    ap.add_argument("--mode", choices=sorted(PRESETS), default="full")
    ap.add_argument("--sections", default="tools,local,flat,drive",
                    help="comma-separated subset of tools,local,flat,drive")
    ap.add_argument("--require-drive", action="store_true",
                    help="fail (instead of skipping) when the Drive path cannot run")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    for s in args.sections:
        if s not in ("tools", "local", "flat", "drive"):
            ap.error("unknown section %r" % s)
    try:
        cfg = Config(args)
    except ValueError as e:
        ap.error(str(e))
    os.makedirs(cfg.work_dir, exist_ok=True)
    res = Results()
    started = time.monotonic()
    print(machine_line(cfg), flush=True)
    print("sizes: %s (flatness: %s), %d run(s) each, median reported; memory %s" % (
        human_size(cfg.size), human_size(cfg.small_size), cfg.repeat,
        "primed before each run" if cfg.prime else "not primed (BENCH_PRIME=0)"), flush=True)
    sections = {"tools": tools_section, "local": local_section, "flat": flat_section,
                "drive": drive_section}
    try:
        for i, name in enumerate(args.sections):
            if i > 0 and cfg.settle > 0:
                # Let the previous section's writeback and discards finish first.
                subprocess.run(["sync"], check=False)
                time.sleep(cfg.settle)
            try:
                sections[name](cfg, res)
            except Skip as e:
                if cfg.require_drive:
                    res.failed.append((name, str(e)))
                else:
                    res.skipped.append((name, str(e)))
                print("%s: SKIPPED - %s" % (name, e), flush=True)
            except (BenchError, subprocess.TimeoutExpired, AssertionError, OSError) as e:
                res.failed.append((name, str(e)))
                print("%s: FAILED - %s" % (name, e), flush=True)
    finally:
        cfg.close()
    print_table(res)
    print("total time %.0f s" % (time.monotonic() - started))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(res.as_dict(), machine=machine_line(cfg)), f, indent=2)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
