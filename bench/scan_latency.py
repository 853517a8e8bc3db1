"""Scan-to-provider latency and keryud's memory.

Starts the same real stack as the integration tests (PostgreSQL, mosquitto,
keryud with storage,qr,http,alarms,whatsapp, the fake WhatsApp API), scans
a tag N times one after another and reports, for each scan, the time from
sending the HTTP request to the fake receiving the provider request. Also
the scan page's own response time, and keryud's resident memory idle after
start and after the run. Figures are printed, never asserted.
"""
import os
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import FakeWhatsApp, KeryuTest, wait_for  # noqa: E402

N = int(os.environ.get("BENCH_SCANS", "100"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Bench(KeryuTest):
    def runTest(self):
        fake = FakeWhatsApp(self.work)
        self.addCleanup(fake.stop)
        self.migrate()
        tag = self.seed()
        k = self.keryud("--modules", "storage,qr,http,alarms,whatsapp", env=self.env(
            KERYU_ALARMS_CHANNEL="whatsapp", KERYU_WHATSAPP_API_BASE=fake.base,
            KERYU_WHATSAPP_PHONE_NUMBER_ID="1065", KERYU_WHATSAPP_TOKEN="t",
            # every scan here must alert: none joins the one before
            KERYU_ALARMS_COOLDOWN_S="0",
            # back-to-back scans run faster than the 80/s cap: the cap
            # would be measured, not the path
            KERYU_WHATSAPP_RATE_PER_S="0",
            # one client scanning one tag 100 times: lift the scan limits
            KERYU_HTTP_SCAN_LIMIT_PER_IP="0", KERYU_HTTP_SCAN_LIMIT_PER_TAG="0",
            ))
        time.sleep(1.0)
        idle = rss_kib(k.proc.pid)
        url = self.scan_url(tag)
        urllib.request.urlopen(url).read()  # warm up: connections, caches
        wait_for(lambda: len(fake.requests()) == 1, 5)
        e2e, page = [], []
        for i in range(N):
            t0 = time.time()
            urllib.request.urlopen(url).read()
            t1 = time.time()
            reqs = wait_for(lambda: len(fake.requests()) == i + 2 and fake.requests(), 5,
                            interval=0.0005)
            e2e.append(reqs[-1]["at"] - t0 * 1000.0)
            page.append((t1 - t0) * 1000.0)
        after = rss_kib(k.proc.pid)
        print(f"scans: {N}")
        print(f"scan request -> fake provider received (ms): median {statistics.median(e2e):.2f}"
              f"  p90 {pct(e2e, 90):.2f}  p99 {pct(e2e, 99):.2f}  max {max(e2e):.2f}")
        print(f"scan page response (ms): median {statistics.median(page):.2f}"
              f"  p99 {pct(page, 99):.2f}")
        print(f"keryud RSS: idle after start {idle / 1024:.1f} MiB,"
              f" after the run {after / 1024:.1f} MiB")


if __name__ == "__main__":
    import unittest
    r = unittest.TextTestRunner(verbosity=0).run(Bench())
    sys.exit(0 if r.wasSuccessful() else 1)
