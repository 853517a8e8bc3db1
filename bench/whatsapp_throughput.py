"""Delivery throughput of one whatsapp module, its memory, and the rate cap.

Starts mosquitto, the fake WhatsApp API answering every message after
100 ms (--delay-ms 100) and keryud with only the whatsapp module (no
database). Publishes N delivery requests straight onto the bus
(keryu/v1/notify/whatsapp, QoS 1, one mosquitto_pub) and counts the
delivery results ("sent") arriving on keryu/v1/delivery/#:

  1. no rate cap (rate_per_s=0): messages per second, keryud's resident
     memory while it works, against two references measured or computed
     in the same run: the theoretical max_in_flight / 100 ms, and the fake's
     own capacity driven by curl --parallel at the same concurrency;
  2. rate_per_s=80 (the default): the rate it held.

Figures are printed, never asserted. BENCH_WA_N (default 5000) and
BENCH_WA_RATE_N (default 800, ten seconds at 80/s) change the counts.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import BUILD, SCRATCH, FakeWhatsApp, Process, free_port, wait_for  # noqa: E402

N = int(os.environ.get("BENCH_WA_N", "5000"))
RATE_N = int(os.environ.get("BENCH_WA_RATE_N", "800"))
IN_FLIGHT = 200
DELAY_MS = 100
TO = "+16505551234"


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Broker:
    """mosquitto on a free port. Unlike the test harness's, the queue a
    slow subscriber may build is unbounded: the rate-capped run holds
    thousands of requests at the broker on purpose, and mosquitto's default
    (1000 queued QoS 1 messages per client) would drop the rest."""

    def __init__(self, work):
        self.port = free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    "set_tcp_nodelay true\nmax_queued_messages 0\n"
                    f"log_dest file {work}/mosquitto.log\n")
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(self._up, 10, what="mosquitto")
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def _up(self):
        import socket
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Results:
    """mosquitto_sub on keryu/v1/delivery/#: the time mosquitto_sub received
    each result (its own %U stamp, so pipe buffering does not matter)."""

    def __init__(self, broker):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5",
             "-q", "1", "-t", "keryu/v1/delivery/#", "-F", "%U %p"],
            stdout=subprocess.PIPE)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.sent = []    # arrival times (unix s) of "sent" results
        self.by_id = {}   # notification id -> arrival time of its "sent"
        self.other = {}   # status -> count
        time.sleep(0.3)

    def poll(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            stamp, _, payload = line.partition(b" ")
            ev = json.loads(payload)
            status = ev.get("status")
            if status == "sent":
                self.sent.append(float(stamp))
                self.by_id[ev.get("notification_id")] = float(stamp)
            else:
                self.other[status] = self.other.get(status, 0) + 1
        return len(self.sent)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def notify(i):
    return json.dumps({
        "v": 1, "event_id": str(uuid.uuid4()),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "notification_id": str(uuid.uuid4()), "attempt": 1, "channel": "whatsapp",
        "to": TO, "template": "qr_template_on_m", "language": "en_US",
        "params": [f"Subject {i}", "2026-11-25 12:34 UTC"]}, separators=(",", ":"))


def publish(broker, n):
    """All n requests from one mosquitto_pub -l (one message per line)."""
    data = "\n".join(notify(i) for i in range(n)) + "\n"
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5",
                    "-q", "1", "-t", "keryu/v1/notify/whatsapp", "-l"],
                   input=data.encode(), check=True, timeout=300)


# One instance name for every keryud of the run: the kernel's MQTT session
# (and its place in the $share group) outlives a stopped keryud, so a new
# name would leave the old, dead member in the group taking its share.
INSTANCE = "bench" + uuid.uuid4().hex[:6]


def keryud(work, broker, fake, rate, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERYU_")}
    env.update({
        "MQTT_URL": broker.url,
        "KERYU_KERNEL_INSTANCE": INSTANCE,
        "KERYU_WHATSAPP_API_BASE": fake.base,
        "KERYU_WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "KERYU_WHATSAPP_TOKEN": "bench-token",
        "KERYU_WHATSAPP_MAX_IN_FLIGHT": str(IN_FLIGHT),
        "KERYU_WHATSAPP_RATE_PER_S": str(rate),
        # the whole burst waits in memory: this measures the engine
        "KERYU_WHATSAPP_QUEUE_MAX": str(N + 1000),
    })
    p = Process([os.path.join(BUILD, "bin", "keryud"), "--modules", "whatsapp"], env,
                os.path.join(work, log))
    p.wait_log(r"kernel\.started", 30)
    return p


def run(work, broker, fake, rate, n, log):
    """Publishes n requests to a fresh keryud; returns the arrival times of
    the "sent" results, the other statuses, and RSS samples (KiB)."""
    k = keryud(work, broker, fake, rate, log)
    res = Results(broker)
    time.sleep(0.5)
    idle = rss_kib(k.proc.pid)
    rss = []
    t_pub = time.time()
    publisher = threading.Thread(target=publish, args=(broker, n))
    publisher.start()
    last_change, last = time.monotonic(), 0
    while True:
        got = res.poll()
        rss.append(rss_kib(k.proc.pid))
        if got != last:
            last, last_change = got, time.monotonic()
        if got + sum(res.other.values()) >= n:
            break
        if time.monotonic() - last_change > 30:
            print(f"  (gave up waiting: {got} of {n} sent after 30 s without progress)")
            break
        time.sleep(0.05)
    publisher.join()
    res.stop()
    k.stop()
    return t_pub, res, idle, rss


def provider_side(fake, since, res):
    """From the fake's record of the requests after the first `since`:
    their arrival times (s, sorted) and, for each, the lag from the fake's
    answer to the "sent" result on the bus (ms, sorted)."""
    reqs = fake.requests()[since:]
    at = sorted(r["at"] / 1000.0 for r in reqs)
    lag = sorted((res.by_id[r["notification_id"]] - r["answered_at"] / 1000.0) * 1000.0
                 for r in reqs if r.get("notification_id") in res.by_id and r.get("answered_at"))
    return at, lag


def pct(xs, p):
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def rate_of(times, skip=0.0):
    """Messages per second between the first and the last arrival, leaving
    out the first `skip` seconds (a burst the bucket allows)."""
    if len(times) < 2:
        return 0.0
    start = times[0] + skip
    ts = [t for t in times if t >= start]
    if len(ts) < 2 or ts[-1] == ts[0]:
        return 0.0
    return (len(ts) - 1) / (ts[-1] - ts[0])


def max_window(times, width=1.0):
    """The most results in any `width`-second window."""
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] > width:
            j += 1
        best = max(best, i - j + 1)
    return best


def fake_capacity(fake, n, work):
    """The fake's own capacity: curl --parallel, IN_FLIGHT at once, same
    request body, n requests. Returns messages per second."""
    body = notify(0)
    cfg = os.path.join(work, "curl.cfg")
    url = f"{fake.base}/v23.0/106540352242922/messages"
    with open(cfg, "w") as f:
        for _ in range(n):
            f.write(f'url = "{url}"\noutput = "/dev/null"\n')
    t0 = time.monotonic()
    subprocess.run(["curl", "-s", "--parallel", "--parallel-immediate", "--parallel-max",
                    str(IN_FLIGHT), "-H", "Content-Type: application/json",
                    "-H", "Authorization: Bearer bench-token", "-d", body, "-K", cfg],
                   check=True, timeout=600, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return n / (time.monotonic() - t0)


def main():
    if not BUILD or not os.path.exists(os.path.join(BUILD, "bin", "keryud")):
        sys.exit("KERYU_BUILD_DIR must point at a build with bin/keryud")
    work = tempfile.mkdtemp(prefix="wa-throughput.", dir=SCRATCH)
    broker = Broker(work)
    fake = FakeWhatsApp(work, "--delay-ms", str(DELAY_MS))
    try:
        # 1. no cap
        t_pub, res, idle, rss = run(work, broker, fake, 0, N, "keryud-nocap.log")
        at, lag = provider_side(fake, 0, res)
        thr = rate_of(res.sent)
        ref_max = IN_FLIGHT / (DELAY_MS / 1000.0)
        cap_n = min(N, 2000)
        seen = len(fake.requests())
        raw = fake_capacity(fake, cap_n, work)
        print(f"whatsapp throughput, fake answering in {DELAY_MS} ms, "
              f"max_in_flight {IN_FLIGHT}, no rate cap:")
        print(f"  requests published: {N}; results sent: {len(res.sent)},"
              f" other: {res.other or 'none'}; fake received {seen}")
        if res.sent:
            print(f"  publish -> last result: {res.sent[-1] - t_pub:.2f} s")
        print(f"  delivered: {thr:.0f} messages/s (first to last sent result on the bus);"
              f" at the provider {rate_of(at):.0f}/s, best 1 s window {max_window(at)}")
        print(f"  reference: theoretical max_in_flight / latency = {ref_max:.0f}/s"
              f" -> {100 * thr / ref_max:.0f}% of it;"
              f" the fake driven by curl --parallel-max {IN_FLIGHT} ({cap_n} requests):"
              f" {raw:.0f}/s -> {100 * thr / raw:.0f}% of it")
        print(f"  provider answer -> result on the bus (ms): median {pct(lag, 50):.0f}"
              f"  p99 {pct(lag, 99):.0f}  max {pct(lag, 100):.0f}")
        print(f"  keryud RSS: idle {idle / 1024:.1f} MiB, peak under load"
              f" {max(rss) / 1024:.1f} MiB")

        # 2. rate_per_s = 80
        before = len(fake.requests())
        t_pub, res, idle, rss = run(work, broker, fake, 80, RATE_N, "keryud-80.log")
        at, lag = provider_side(fake, before, res)
        print(f"with rate_per_s=80, {RATE_N} requests published at once:")
        print(f"  results sent: {len(res.sent)}, other: {res.other or 'none'};"
              f" fake received {len(at)}")
        print(f"  rate held at the provider: {rate_of(at, skip=0.2):.1f} messages/s"
              f" (first to last request, after the first 0.2 s);"
              f" best 1 s window {max_window(at)}")
        print(f"  results on the bus: {rate_of(res.sent):.1f}/s; provider answer ->"
              f" result (ms): median {pct(lag, 50):.0f}  p99 {pct(lag, 99):.0f}"
              f"  max {pct(lag, 100):.0f}")
        print(f"  keryud RSS: peak {max(rss) / 1024:.1f} MiB")
    finally:
        fake.stop()
        broker.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
