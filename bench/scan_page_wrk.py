"""Scan page throughput with wrk, next to nginx serving a saved copy.

Starts the real stack (PostgreSQL, mosquitto, keryud with
storage,qr,http,alarms,log) with one subject and an active tag, saves one
GET of the tag's scan page, serves that file from a private nginx (one
worker per core, access_log off) with the same Content-Type at the same
path, then runs wrk (GET only, 2 threads, 100 connections, 30 s) against
nginx and against keryud, in this order, in the same run. Prints requests
per second of both and their ratio, wrk's latency percentiles, the page's
bytes, keryud's RSS before and after, and the alarm rows the run made.

Every keryud scan is real work: it publishes a scan event and the alarms
module stores an alarm row (one that joins the open alarm within the
cooldown, which stays at its default here, so only the first scan alerts).
nginx sends bytes from a file. Figures are printed, never asserted.

Environment: BENCH_WRK_DURATION (30s), BENCH_WRK_CONNECTIONS (100),
BENCH_WRK_THREADS (2), BENCH_WRK_TIMEOUT (10s: a slower answer counts as
a timeout and is left out of wrk's latency).
"""
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import KeryuTest, free_port, wait_for  # noqa: E402

DURATION = os.environ.get("BENCH_WRK_DURATION", "30s")
CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "100"))
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
TIMEOUT = os.environ.get("BENCH_WRK_TIMEOUT", "10s")
# high enough that no scan of the run is refused: the limits would be
# measured, not the page
NO_LIMIT = "1000000"  # the options' maximum
MAX_QUEUED = 100000  # as scripts/lib.sh's broker
# after wrk, how long to wait at most for the alarm rows to stop growing
SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "60"))


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def ms(text):
    """wrk's "1.23ms" / "850.00us" / "1.01s" as milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def wrk(url):
    """Runs wrk --latency against url; returns a dict of its figures."""
    r = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}",
                        f"--timeout={TIMEOUT}", "--latency", url],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"wrk {url} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    out = r.stdout
    res = {"raw": out, "non2xx": 0, "socket_errors": "none"}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    res["requests"] = int(m.group(1)) if m else 0
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        res[f"p{p}"] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: (.*)", out)
    if m:
        res["socket_errors"] = m.group(1).strip()
    return res


class Nginx:
    """A private nginx serving root on a free loopback port, every file
    with one Content-Type."""

    def __init__(self, workdir, root, content_type):
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        tmp = os.path.join(self.dir, "tmp")
        # root can read root's files wherever the scratch folder is;
        # otherwise nginx keeps the user it was started as
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""{user}worker_processes auto;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    # wrk keeps its connections: nginx's default of 1000 requests per
    # connection would add reconnects keryud does not pay
    keepalive_requests 100000000;
    types {{ }}
    default_type "{content_type}";
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        index index.html;
    }}
}}
""")
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([exe, "-p", self.dir, "-e", f"{self.dir}/error.log",
                                      "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._listening, 10, what="nginx to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                raise AssertionError(f"nginx exited ({self.proc.returncode}):\n{f.read()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=0.5)
        except urllib.error.HTTPError:
            return True  # answering, even if 403/404
        except OSError:
            return False
        return True

    def workers(self):
        r = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return len(r.stdout.split())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown; the workers follow the master
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def has_option(check_config, section, key):
    return re.search(rf"^\[{section}\] {key} =", check_config, re.M) is not None


class Bench(KeryuTest):
    def alarm_counts(self):
        """(alarm rows, of which joined an open alarm, notification rows)."""
        row = self.pg.query("SELECT (SELECT count(*) FROM alarms),"
                            " (SELECT count(*) FROM alarms WHERE joined_alarm_id IS NOT NULL),"
                            " (SELECT count(*) FROM notifications)")[0]
        return tuple(int(x) for x in row)

    def runTest(self):
        for tool in ("wrk", "nginx"):
            if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
                self.fail(f"{tool} is not installed (bench/run installs it)")
        # the broker as scripts/lib.sh configures it: the harness's keeps
        # mosquitto's default of 1000 queued messages per client, and the
        # scan events of this run would be dropped at the alarms module
        with open(self.broker.conf, "a") as f:
            f.write(f"max_queued_messages {MAX_QUEUED}\n")
        self.broker.stop()
        self.broker.start()
        self.migrate()
        tag = self.seed()
        modules = "storage,qr,http,alarms,log"
        extra = {
            # wrk opens all its connections from 127.0.0.1: the default
            # cap of 32 per IP would refuse most of them
            "KERYU_HTTP_MAX_CONN_PER_IP": "0",
            "KERYU_HTTP_SCAN_LIMIT_PER_IP": NO_LIMIT,
            "KERYU_HTTP_SCAN_LIMIT_PER_TAG": NO_LIMIT,
        }
        env = self.env(**extra)
        # unknown KERYU_* variables are ignored, not refused: ask keryud
        # which of the limits this build has
        cfg = subprocess.run([os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryud"),
                              "--modules", modules, "--check-config"], env=env, cwd=self.work,
                             capture_output=True, text=True).stdout
        lifted = [k for k in ("scan_limit_per_ip", "scan_limit_per_tag")
                  if has_option(cfg, "http", k)]
        absent = [k for k in ("scan_limit_per_ip", "scan_limit_per_tag") if k not in lifted]
        cooldown = re.search(r"^\[alarms\] cooldown_s = (\S+)", cfg, re.M)
        threads = re.search(r"^\[http\] threads = (\S+)", cfg, re.M)
        k = self.keryud("--modules", modules, env=env)
        url = self.scan_url(tag)
        path = url.split("127.0.0.1:%d" % self.http_port, 1)[1]

        # the saved copy: one real GET, also the warm-up (it makes the
        # tag's open alarm, which the run's scans then join)
        with urllib.request.urlopen(url) as r:
            assert r.status == 200, r.status
            ctype = r.headers.get("Content-Type", "text/html")
            page = r.read()
        root = os.path.join(self.work, "www")
        os.makedirs(os.path.join(root, path.strip("/")), exist_ok=True)
        with open(os.path.join(root, path.strip("/"), "index.html"), "wb") as f:
            f.write(page)
        for d, _, files in os.walk(root):
            os.chmod(d, 0o755)
            for n in files:
                os.chmod(os.path.join(d, n), 0o644)
        ngx = Nginx(self.work, root, ctype)
        self.addCleanup(ngx.stop)
        ngx_url = f"http://127.0.0.1:{ngx.port}{path}"
        with urllib.request.urlopen(ngx_url) as r:
            assert r.read() == page and r.headers.get("Content-Type") == ctype, \
                "nginx does not serve the saved page as it was"

        wait_for(lambda: self.alarm_counts()[0] >= 1, 10, what="the warm-up's alarm")
        time.sleep(1.0)
        rss_before = status_kib(k.proc.pid, "VmRSS")
        counts_before = self.alarm_counts()

        n = wrk(ngx_url)
        if k.proc.poll() is not None:
            raise AssertionError(f"keryud exited ({k.proc.returncode}):\n" + k.text()[-3000:])
        kr = wrk(url)
        t0 = time.monotonic()
        rss_after = status_kib(k.proc.pid, "VmRSS")
        hwm = status_kib(k.proc.pid, "VmHWM")
        counts_end = self.alarm_counts()
        # the alarms module works through the bus after the pages are
        # answered: wait until the rows stop growing (or SETTLE_S)
        last, still = counts_end, time.monotonic()
        while time.monotonic() - still < 3.0 and time.monotonic() - t0 < SETTLE_S:
            time.sleep(0.5)
            now = self.alarm_counts()
            if now != last:
                last, still = now, time.monotonic()
        counts_settled = last
        settled_after = time.monotonic() - t0
        growing = time.monotonic() - still < 3.0
        with open(os.path.join(self.broker.dir, "mosquitto.log"), errors="replace") as f:
            drops = sum("messages are being dropped" in line for line in f)

        def delta(c):
            return tuple(a - b for a, b in zip(c, counts_before))

        print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --timeout={TIMEOUT} --latency, GET,"
              f" {os.cpu_count()} cores shared by wrk, the server and the rest of the stack")
        print(f"page: {len(page)} bytes, Content-Type: {ctype}")
        print(f"keryud: modules {modules}, http threads {threads.group(1) if threads else '?'},"
              f" cooldown_s {cooldown.group(1) if cooldown else '?'} (default),"
              f" max_conn_per_ip 0 (unlimited)")
        if lifted:
            print(f"scan limits lifted to {NO_LIMIT}: {', '.join(lifted)}")
        if absent:
            print(f"scan limits not options of this build (nothing to lift): {', '.join(absent)}")
        print(f"nginx: {ngx.workers()} workers, access_log off, the saved copy")
        for name, r in (("nginx ", n), ("keryud", kr)):
            print(f"{name}: {r['rps']:10.1f} req/s  ({r['requests']} requests)"
                  f"  latency p50 {r['p50']:.2f} ms  p90 {r['p90']:.2f} ms"
                  f"  p99 {r['p99']:.2f} ms  non-2xx {r['non2xx']}"
                  f"  socket errors {r['socket_errors']}")
        print(f"ratio keryud/nginx: {kr['rps'] / n['rps']:.3f}" if n["rps"] else "ratio: n/a")
        print(f"keryud RSS: before {rss_before / 1024:.1f} MiB, after {rss_after / 1024:.1f} MiB,"
              f" peak since start (VmHWM) {hwm / 1024:.1f} MiB")
        a, j, notif = delta(counts_end)
        print(f"alarm rows made by the keryud run: {a} when wrk ended ({j} joined the open"
              f" alarm, {notif} notifications)")
        a, j, notif = delta(counts_settled)
        print(f"  {a} after {settled_after:.0f} s{' (still growing)' if growing else ''}"
              f" ({j} joined, {notif} notifications), for {kr['requests']} scans answered;"
              f" broker dropped messages: {'yes' if drops else 'no'}"
              f" (max_queued_messages {MAX_QUEUED})")
        rate = (counts_settled[0] - counts_end[0]) / settled_after if settled_after else 0
        left = kr["requests"] - a
        if growing and rate > 0:
            print(f"  alarms stored {rate:.0f}/s after wrk: about {left / rate:.0f} s more for"
                  f" the {left} scans still queued")
        if os.environ.get("BENCH_VERBOSE"):
            print(n["raw"], kr["raw"], sep="\n")


if __name__ == "__main__":
    import unittest
    r = unittest.TextTestRunner(verbosity=0).run(Bench())
    sys.exit(0 if r.wasSuccessful() else 1)
