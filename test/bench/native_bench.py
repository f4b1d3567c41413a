#!/usr/bin/env python3
"""The native half of the benchmark: respaldo against the C++ peers of test/bench/native (an app
serving the contract and a Drive resumable-upload sink, both at memory speed), so that respaldo
itself is what is measured. Each figure is printed with a baseline measured in the same run:

  sha      `openssl speed -evp sha256`: the CPU floor of hashing one stream
  drive    one backup app -> respaldo --storage drive -> sink: process CPU per GB against the
           SHA-256 cost, throughput against `curl export | tee >(openssl dgst) | curl -T -`
  local    one backup to local storage against `dd bs=8M conv=fsync` in the same file system
  streams  four backups at once to the sink against one
  rss      peak RSS of a small and a large backup to the sink
  syscalls `strace -c -f` of respaldo during a backup to the sink: syscalls per GB
  api      10,000 apps and 100,000 jobs (bench_catalog_generator, through the store): start-up
           to /readyz, `wrk -c64` on three endpoints, and GET /api/jobs/{id} while four
           backups stream

Standard library only; scripts/bench.sh --native runs it.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (utilities: sizes, CPU and RSS readings, the harness)
from bench import BenchError, MB, parse_size, human_size, log  # noqa: E402

harness = bench.harness
TOKEN = "bench-native-app-token-0123456789"
FOLDER = "1BenchNativeFolder01234"
GB = 1e9


class Peer:
    """A native peer process that prints "port N" once it listens."""

    def __init__(self, cmd, timeout=600):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # the app source hashes its stream first
        if not line.startswith("port "):
            self.stop()
            raise BenchError("%s did not start" % cmd[0])
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Setup:
    def __init__(self, args):
        self.args = args
        self.tools = args.tools_dir
        self.work = tempfile.mkdtemp(prefix="respaldo-native-", dir=args.work_dir)
        self.sink = Peer([os.path.join(self.tools, "bench_drive_sink")])
        self.sources = {}
        key = os.path.join(self.work, "sa-key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
        with open(key) as f:
            sa = {"type": "service_account", "project_id": "bench", "private_key_id": "k1",
                  "private_key": f.read(), "client_email": "bench@bench.iam.gserviceaccount.com",
                  "client_id": "1", "token_uri": self.sink.url + "/token"}
        self.sa = os.path.join(self.work, "sa.json")
        with open(self.sa, "w") as f:
            json.dump(sa, f)

    def source(self, size):
        if size not in self.sources:
            self.sources[size] = Peer([os.path.join(self.tools, "bench_app_source"), "--token",
                                       TOKEN, "--size", str(size), "--cache-dir", self.work])
        return self.sources[size].url

    def drive_args(self):
        return ["--storage", "drive", "--drive-credentials", self.sa, "--drive-api-url",
                self.sink.url]

    def close(self):
        for p in [self.sink, *self.sources.values()]:
            p.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def server(setup, args=(), data_dir=None):
    harness.BIN = setup.args.bin
    s = harness.Respaldo(data_dir=data_dir, args=["--max-attempts", "1", *args])
    return s.start(timeout=120)


def backups(s, apps, timeout=1800):
    """Starts one backup per app at once; returns (wall s, process CPU s, peak RSS, jobs)."""
    pid = s.proc.pid
    cpu0 = bench.proc_cpu_seconds(pid)
    with bench.RssSampler(pid) as sampler:
        t0 = time.monotonic()
        ids = [s.post("/api/apps/%s/backups" % a).json()["job_id"] for a in apps]
        jobs = [s.wait_job(j, timeout=timeout) for j in ids]
        wall = time.monotonic() - t0
        peak = max(bench.proc_status(pid, "VmHWM") or 0, sampler.max_rss)
    for j in jobs:
        if j["state"] != "succeeded":
            raise BenchError("backup %s ended %s: %s" % (j["id"], j["state"], j.get("error")))
    return wall, bench.proc_cpu_seconds(pid) - cpu0, peak, jobs


def register(s, name, url, folder=FOLDER):
    s.register(name=name, url=url, token=TOKEN, drive_folder_id=folder,
               schedule=harness.SCHEDULE, retention={"daily": 1, "weekly": 0})


def median(xs):
    return statistics.median(xs)


class Report:
    def __init__(self):
        self.rows = []  # (figure, value, baseline, ratio, target)

    def add(self, figure, value, baseline="", ratio=None, target=""):
        self.rows.append((figure, value, baseline, "" if ratio is None else "%.2f" % ratio,
                          target))
        log("%s: %s%s%s" % (figure, value, "; baseline " + baseline if baseline else "",
                            "; ratio %.2f" % ratio if ratio is not None else ""))

    def markdown(self):
        out = ["| figure | respaldo | baseline (same run) | ratio | target |",
               "|---|---|---|---|---|"]
        out += ["| %s |" % " | ".join(c.replace("|", "\\|") for c in r) for r in self.rows]
        return "\n".join(out)


# ---- sections -----------------------------------------------------------------------------


def sha_rate(seconds):
    out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", "8192", "-seconds",
                          str(seconds)], capture_output=True, text=True, check=False)
    m = re.search(r"^sha256\s.*?([\d.]+)k\s*$", out.stdout, re.M)
    if not m:
        raise BenchError("cannot parse openssl speed: " + out.stdout + out.stderr)
    return float(m.group(1)) * 1000


def pipe_baseline(setup, size):
    """curl export | tee >(openssl dgst -sha256) | curl -T - <session> against the sink."""
    src = setup.source(size)
    tmp = tempfile.mkdtemp(prefix="pipe-", dir=setup.work)
    fifo, digest = os.path.join(tmp, "fifo"), os.path.join(tmp, "sha")
    os.mkfifo(fifo)
    out = subprocess.run(
        ["curl", "-sS", "-D", "-", "-o", "/dev/null", "-X", "POST", "-H",
         "X-Upload-Content-Length: %d" % size, "-H", "Content-Type: application/json",
         "-d", "{}", setup.sink.url + "/upload/drive/v3/files?uploadType=resumable"],
        capture_output=True, text=True, check=True).stdout
    session = re.search(r"(?im)^location:\s*(\S+)", out).group(1)
    script = ('set -o pipefail; openssl dgst -sha256 -r < "$FIFO" > "$S" & h=$!; '
              'curl -sS --fail -X POST -H "Authorization: Bearer $T" "$U/backup/export" '
              '| tee "$FIFO" | curl -sS --fail -T - -o /dev/null -H "Content-Length: $N" '
              '-H "Content-Range: bytes 0-$LAST/$N" -H "Transfer-Encoding:" -H "Expect:" '
              '"$SESSION"; rc=$?; wait $h || rc=1; exit $rc')
    cpu0 = bench.children_cpu_seconds()
    t0 = time.monotonic()
    bench.run_shell(script, {"FIFO": fifo, "S": digest, "T": TOKEN, "U": src, "N": str(size),
                             "LAST": str(size - 1), "SESSION": session}, 1800)
    wall = time.monotonic() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return wall, bench.children_cpu_seconds() - cpu0


def drive_section(setup, rep, size, repeat, sha):
    s = server(setup, setup.drive_args())
    try:
        register(s, "one", setup.source(size))
        runs = [backups(s, ["one"]) for _ in range(repeat)]
        base = [pipe_baseline(setup, size) for _ in range(repeat)]
    finally:
        s.stop()
    wall = median([r[0] for r in runs])
    cpu_gb = median([r[1] for r in runs]) / (size / GB)
    sha_gb = GB / sha
    rep.add("drive, one stream: CPU s per GB", "%.2f" % cpu_gb,
            "SHA-256 alone %.2f" % sha_gb, cpu_gb / sha_gb, "<= 1.4")
    bwall = median([b[0] for b in base])
    rep.add("drive, one stream: MB/s (%s)" % human_size(size), "%.0f" % (size / wall / MB),
            "curl | tee >(openssl dgst) | curl -T - %.0f" % (size / bwall / MB), bwall / wall,
            ">= 1.2")
    return size / wall


def streams_section(setup, rep, size, one_rate, n=4):
    s = server(setup, setup.drive_args() + ["--max-concurrent-jobs", str(n)])
    try:
        names = ["s%d" % i for i in range(n)]
        for name in names:
            register(s, name, setup.source(size))
        wall, _, _, _ = backups(s, names)
    finally:
        s.stop()
    rate = n * size / wall
    rep.add("drive, %d streams at once: aggregate MB/s" % n, "%.0f" % (rate / MB),
            "one stream %.0f" % (one_rate / MB), rate / one_rate, ">= 1.5")


def local_section(setup, rep, size, sha):
    work = setup.args.disk_dir
    target = os.path.join(work, "native-dd.bin")
    t0 = time.monotonic()
    bench.run_shell('dd if=/dev/zero of="$F" bs=8M count="$C" conv=fsync status=none',
                    {"F": target, "C": str(size // (8 << 20))}, 1800)
    dd = (size // (8 << 20)) * (8 << 20) / (time.monotonic() - t0)
    os.unlink(target)
    data = tempfile.mkdtemp(prefix="respaldo-native-local-", dir=work)
    s = server(setup, [], data_dir=data)
    try:
        register(s, "disk", setup.source(size))
        wall, cpu, _, _ = backups(s, ["disk"])
    finally:
        s.stop()
        shutil.rmtree(data, ignore_errors=True)
    rep.add("local, one stream: MB/s (%s)" % human_size(size), "%.0f" % (size / wall / MB),
            "dd bs=8M conv=fsync %.0f" % (dd / MB), size / wall / dd, ">= 0.9")
    rep.add("local, one stream: CPU s per GB", "%.2f" % (cpu / (size / GB)),
            "SHA-256 alone %.2f" % (GB / sha), None, "<= 1.0 s")


def rss_section(setup, rep, small, large):
    peaks = {}
    for size in (small, large):
        s = server(setup, setup.drive_args())
        try:
            register(s, "r", setup.source(size))
            peaks[size] = backups(s, ["r"])[2]
        finally:
            s.stop()
    rep.add("peak RSS, %s backup" % human_size(large), bench.fmt_rss(peaks[large]) + " MiB",
            "%s backup %s MiB" % (human_size(small), bench.fmt_rss(peaks[small])),
            peaks[large] / peaks[small], "<= 1.05, < 48 MiB")


def syscalls_section(setup, rep, size):
    if not shutil.which("strace"):
        rep.add("syscalls per GB", "strace not installed")
        return
    s = server(setup, setup.drive_args())
    out = os.path.join(setup.work, "strace.txt")
    try:
        register(s, "sc", setup.source(size))
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(s.proc.pid)],
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached to every thread
        backups(s, ["sc"])
        tracer.terminate()
        tracer.wait(30)
    finally:
        s.stop()
    with open(out) as f:
        text = f.read()
    m = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total\s*$", text, re.M)
    if not m:  # e.g. ptrace refused in a container
        rep.add("syscalls per GB", "strace could not trace respaldo: " + text.strip()[:80])
        return
    calls = int(m.group(1))
    top = re.findall(r"^\s*[\d.]+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", text, re.M)
    top = sorted(((int(n), name) for n, name in top if name != "total"), reverse=True)[:4]
    rep.add("syscalls per GB (drive, %s)" % human_size(size), "%.0f" % (calls / (size / GB)),
            ", ".join("%s %d" % (name, n / (size / GB)) for n, name in top))



def wrk(url, token, seconds, connections=64):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency",
                          "-H", "Authorization: Bearer " + token, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise BenchError("wrk %s: %s error responses" % (url, errors.group(1)))
    return rps, p99


def catalog(setup, apps, jobs):
    """A data dir with the catalog, generated once per size and copied for each server."""
    cached = os.path.join(setup.args.work_dir, "respaldo-bench-catalog-%d-%d" % (apps, jobs))
    if not os.path.exists(os.path.join(cached, "respaldo.db")):
        t0 = time.monotonic()
        subprocess.run([os.path.join(setup.tools, "bench_catalog_generator"), "--data-dir",
                        cached, "--apps", str(apps), "--jobs", str(jobs)], check=True,
                       capture_output=True)
        log("api: generated %d apps and %d jobs through the store in %.0f s" % (
            apps, jobs, time.monotonic() - t0))
    data = tempfile.mkdtemp(prefix="respaldo-native-api-", dir=setup.work)
    shutil.copytree(cached, data, dirs_exist_ok=True)
    return data


def api_section(setup, rep, apps, jobs, seconds, stream_size):
    data = catalog(setup, apps, jobs)
    harness.BIN = setup.args.bin
    s = harness.Respaldo(data_dir=data, args=["--max-attempts", "1", "--probe-interval", "0", "--max-connections-per-client", "512",
                                              "--max-concurrent-jobs", "4", *setup.drive_args()])
    t0 = time.monotonic()
    s.start(timeout=120)
    while s.get("/readyz").status != 200:
        time.sleep(0.005)
    ready = time.monotonic() - t0
    try:
        rep.add("start-up to /readyz, %d apps" % apps, "%.2f s" % ready, "", None, "< 1 s")
        token = s.admin_token
        job = s.get("/api/jobs?limit=1").json()["items"][0]["id"]
        base = "http://127.0.0.1:%d" % s.port
        targets = [("GET /api/jobs/{id}", "/api/jobs/" + job, ">= 15k/s"),
                   ("GET /api/jobs?limit=50", "/api/jobs?limit=50", ">= 5k/s"),
                   ("GET /api/apps?limit=50", "/api/apps?limit=50", ">= 3k/s")]
        for label, path, target in targets:
            rps, p99 = wrk(base + path, token, seconds)
            rep.add("%s, %d jobs, wrk -c64" % (label, jobs), "%.0f/s, p99 %.1f ms" % (rps, p99),
                    "", None, target + ", p99 < 20 ms")
        for i in range(4):
            register(s, "live%d" % i, setup.source(stream_size))
        starter = threading.Thread(target=backups, args=(s, ["live%d" % i for i in range(4)]))
        starter.start()
        time.sleep(0.3)
        rps, p99 = wrk(base + "/api/jobs/" + job, token, min(seconds, 3))
        starter.join()
        rep.add("GET /api/jobs/{id} while 4 backups stream", "%.0f/s, p99 %.1f ms" % (rps, p99),
                "", None, "p99 < 20 ms")
    finally:
        s.stop()


SECTIONS = ("drive", "streams", "local", "rss", "syscalls", "api")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--tools-dir", required=True, help="where bench_* native peers are built")
    ap.add_argument("--size", default="2GiB")
    ap.add_argument("--large", default="8GiB", help="the large backup of the rss section")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--apps", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=100000)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--work-dir", default=os.environ.get("BENCH_SHM_DIR", "/dev/shm"))
    ap.add_argument("--disk-dir", default=os.environ.get("TMPDIR", "/var/tmp"))
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args(argv)
    size, large = parse_size(args.size), parse_size(args.large)
    sections = args.sections.split(",")
    rep = Report()
    setup = Setup(args)
    try:
        sha = sha_rate(2)
        rep.add("SHA-256, one core (openssl speed)", "%.0f MB/s" % (sha / MB))
        one = None
        if "drive" in sections or "streams" in sections:
            one = drive_section(setup, rep, size, args.repeat, sha)
        if "streams" in sections:
            streams_section(setup, rep, size, one)
        if "local" in sections:
            local_section(setup, rep, size, sha)
        if "rss" in sections:
            rss_section(setup, rep, max(size // 8, 1 << 20), large)
        if "syscalls" in sections:
            syscalls_section(setup, rep, size)
        if "api" in sections:
            api_section(setup, rep, args.apps, args.jobs, args.wrk_seconds, size)
    finally:
        setup.close()
    table = rep.markdown()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
