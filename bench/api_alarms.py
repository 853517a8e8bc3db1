"""GET /api/v1/alarms with wrk, next to nginx serving the same bytes.

Starts the real stack (PostgreSQL, mosquitto, keryud with
storage,qr,http,alarms,log), a custodian who logs in through the API
(POST /api/v1/auth/token) and 100 alarms of one subject, each with a
delivered alert notification (made in SQL: what is measured is reading
them). Saves one GET of /api/v1/alarms, serves that file from a private
nginx at the same path with the same Content-Type, then runs wrk (2
threads, 50 connections, 20 s, with the Authorization header on both) against
nginx and against keryud in the same run. Prints requests per second of
both and their ratio, wrk's latency percentiles, the answer's bytes,
keryud's RSS, and /metrics' lines for the route after the load.

Every keryud request is real work: the JWT's signature and claims are
checked, the custodian is read, the page of alarms is one query plus a
count, and the answer is encoded as JSON. nginx sends a file. Figures are
printed, never asserted.

Environment: BENCH_WRK_DURATION (20s), BENCH_WRK_CONNECTIONS (50),
BENCH_WRK_THREADS (2), BENCH_WRK_TIMEOUT (10s), BENCH_API_ALARMS (100),
BENCH_API_QUERY ("": the default page of 20; e.g. "limit=100" for all of
them in one answer), BENCH_API_STAFF=1 (a staff token: the staff-wide list),
BENCH_VERBOSE=1 (wrk's own output and the whole /metrics text).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Browser, KeryuTest, http_get  # noqa: E402
from scan_page_wrk import Nginx, ms, status_kib  # noqa: E402

DURATION = os.environ.get("BENCH_WRK_DURATION", "20s")
CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "50"))
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
TIMEOUT = os.environ.get("BENCH_WRK_TIMEOUT", "10s")
ALARMS = int(os.environ.get("BENCH_API_ALARMS", "100"))
QUERY = os.environ.get("BENCH_API_QUERY", "")
STAFF = os.environ.get("BENCH_API_STAFF") == "1"
PASSWORD = "a long enough secret"
MODULES = "storage,qr,http,alarms,log"


def wrk(url, token):
    """wrk --latency against url with the Bearer token; its figures."""
    r = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}",
                        f"--timeout={TIMEOUT}", "--latency",
                        "-H", f"Authorization: Bearer {token}", url],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"wrk {url} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    out = r.stdout

    def find(rx, conv, default):
        m = re.search(rx, out, re.M)
        return conv(m.group(1)) if m else default

    res = {"raw": out,
           "rps": find(r"Requests/sec:\s+([\d.]+)", float, float("nan")),
           "requests": find(r"(\d+) requests in ", int, 0),
           "non2xx": find(r"Non-2xx or 3xx responses: (\d+)", int, 0),
           "socket_errors": find(r"Socket errors: (.*)", str.strip, "none")}
    for p in ("50", "90", "99"):
        res[f"p{p}"] = find(rf"^\s+{p}%\s+(\S+)", ms, float("nan"))
    return res


class Bench(KeryuTest):
    def token(self, email, password):
        status, _, body = http_get(
            f"http://127.0.0.1:{self.http_port}/api/v1/auth/token", method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"email": email, "password": password}).encode())
        assert status == 200, (status, body)
        return json.loads(body)["access_token"]

    def nginx_copy(self, path, body, ctype):
        """A private nginx serving body at path (the query is ignored) with
        Content-Type ctype: (Nginx, the URL)."""
        root = os.path.join(self.work, "www")
        name = os.path.join(root, path.split("?")[0].lstrip("/"))
        os.makedirs(os.path.dirname(name), mode=0o755, exist_ok=True)
        with open(name, "wb") as f:
            f.write(body)
        os.chmod(name, 0o644)
        ngx = Nginx(self.work, root, ctype)
        self.addCleanup(ngx.stop)
        url = f"http://127.0.0.1:{ngx.port}{path}"
        with urllib.request.urlopen(url) as r:
            if r.read() != body or r.headers.get("Content-Type") != ctype:
                raise AssertionError("nginx does not serve the saved answer as it was")
        return ngx, url

    def runTest(self):
        for tool in ("wrk", "nginx"):
            if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
                self.fail(f"{tool} is not installed (bench/run installs it)")
        self.migrate()
        env = self.env(
            # wrk opens all its connections from 127.0.0.1, and the API's
            # limits would be measured instead of the API
            KERYU_HTTP_MAX_CONN_PER_IP="0",
            KERYU_HTTP_API_RATE_PER_IP="0",
            KERYU_HTTP_API_RATE_PER_TOKEN="0",
            KERYU_KERNEL_SECRET_KEY="bench-secret-key")
        k = self.keryud("--modules", MODULES, env=env)
        cfg = subprocess.run([os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryud"),
                              "--modules", MODULES, "--check-config"], env=env, cwd=self.work,
                             capture_output=True, text=True).stdout
        threads = re.search(r"^\[http\] threads = (\S+)", cfg, re.M)

        b = Browser(self.http_port)
        status, _, _ = b.submit("/account/signup", "/account/signup", {
            "name": "Bench Custodian", "email": "bench@example.org", "phone": "+16505550000",
            "password": PASSWORD, "password2": PASSWORD})
        assert status == 303, status
        self.pg.query("UPDATE custodians SET phone_verified_at = now(), is_staff = :'a1'"
                      " WHERE email = 'bench@example.org'", "true" if STAFF else "false")
        cust = self.pg.scalar("SELECT id FROM custodians WHERE email = 'bench@example.org'")
        subject = self.pg.scalar(
            "INSERT INTO subjects (custodian_id, name, date_of_birth, gender)"
            " VALUES (:'a1', 'Ana María Pérez', '2015-01-02', 'F') RETURNING id", cust)
        # one alarm an hour back from now, each with a delivered alert,
        # the escalation done so the alarms module leaves them alone
        self.pg.query(
            "WITH a AS (INSERT INTO alarms (event_id, subject_id, scanned_at, escalation_done)"
            " SELECT gen_random_uuid(), :'a1', now() - i * interval '1 hour', true"
            " FROM generate_series(1, :'a2'::int) AS i RETURNING id, scanned_at)"
            " INSERT INTO notifications (alarm_id, custodian_id, channel, recipient, status,"
            " delivered_at) SELECT a.id, :'a3', 'log', '+16505550000', 'DELIVERED',"
            " a.scanned_at + interval '2 seconds' FROM a", subject, ALARMS, cust)
        token = self.token("bench@example.org", PASSWORD)

        path = "/api/v1/alarms" + (f"?{QUERY}" if QUERY else "")
        url = f"http://127.0.0.1:{self.http_port}{path}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 200, r.status
            ctype = r.headers.get("Content-Type")
            body = r.read()
        answer = json.loads(body)
        assert answer["total"] == ALARMS, answer["total"]

        ngx, ngx_url = self.nginx_copy(path, body, ctype)

        time.sleep(1.0)
        rss_before = status_kib(k.proc.pid, "VmRSS")
        n = wrk(ngx_url, token)
        if k.proc.poll() is not None:
            raise AssertionError(f"keryud exited ({k.proc.returncode}):\n" + k.text()[-3000:])
        kr = wrk(url, token)
        rss_after = status_kib(k.proc.pid, "VmRSS")
        hwm = status_kib(k.proc.pid, "VmHWM")
        with urllib.request.urlopen(req) as r:
            same = r.read() == body

        print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --timeout={TIMEOUT} --latency,"
              f" GET {path} with Authorization: Bearer <JWT>,"
              f" {os.cpu_count()} cores shared by wrk, the server and the rest of the stack")
        print(f"answer: {len(body)} bytes, Content-Type: {ctype}, {len(answer['items'])} of"
              f" {answer['total']} alarms, {'staff' if STAFF else 'custodian'} token;"
              f" the same bytes after the run: {'yes' if same else 'no'}")
        print(f"keryud: modules {MODULES}, http threads {threads.group(1) if threads else '?'},"
              f" api_rate_per_ip 0, api_rate_per_token 0, max_conn_per_ip 0 (unlimited)")
        print(f"nginx: {ngx.workers()} workers, access_log off, the saved answer")
        for name, r in (("nginx ", n), ("keryud", kr)):
            print(f"{name}: {r['rps']:10.1f} req/s  ({r['requests']} requests)"
                  f"  latency p50 {r['p50']:.2f} ms  p90 {r['p90']:.2f} ms"
                  f"  p99 {r['p99']:.2f} ms  non-2xx {r['non2xx']}"
                  f"  socket errors {r['socket_errors']}")
        print(f"ratio keryud/nginx: {kr['rps'] / n['rps']:.3f}" if n["rps"] else "ratio: n/a")
        print(f"keryud RSS: before {rss_before / 1024:.1f} MiB, after {rss_after / 1024:.1f} MiB,"
              f" peak since start (VmHWM) {hwm / 1024:.1f} MiB")
        status, _, metrics = http_get(f"http://127.0.0.1:{self.http_port}/metrics")
        text = metrics.decode(errors="replace")
        print(f"/metrics after the load ({status}), the API alarms route and the pool:")
        for line in text.splitlines():
            if "/api/v1/alarms" in line and "_bucket" not in line or \
                    line.startswith("keryu_db_pool"):
                print("  " + line)
        if os.environ.get("BENCH_VERBOSE"):
            print(n["raw"], kr["raw"], text, sep="\n")


if __name__ == "__main__":
    import unittest
    r = unittest.TextTestRunner(verbosity=0).run(Bench())
    sys.exit(0 if r.wasSuccessful() else 1)
