"""Monitoring (issue 6): /metrics and /readyz of a running keryud.

Real processes: PostgreSQL, mosquitto and keryud (storage, qr, http,
alarms, log). A scan goes out on the log channel, which answers
"delivered"; /metrics then shows the scan route's requests, the delivery
by channel and status, the pool and the bus messages by topic class
(which a second scan moves); /readyz turns 503 once the broker is
gone."""
import json
import re

from harness import KeryuTest, http_get, main, wait_for


class Monitoring(KeryuTest):
    def start(self, **env):
        # storage migrates on start, so the world is seeded after it
        return self.keryud("--modules", "storage,qr,http,alarms,log", env=self.env(
            KERYU_KERNEL_SECRET_KEY="monitoring-secret",
            KERYU_ALARMS_CHANNEL="log",
            KERYU_ALARMS_TICK_MS="100",
            KERYU_ALARMS_COOLDOWN_S="0",
            **env))

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def metrics(self, headers=None):
        status, hdrs, body = http_get(self.url("/metrics"), headers=headers)
        return status, hdrs, body.decode() if isinstance(body, bytes) else body

    def value(self, text, series):
        m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def test_metrics_and_readiness(self):
        self.start()
        tag = self.seed()
        status, _, _ = http_get(self.url(f"/subjects/qr/{tag}/scan/"))
        self.assertEqual(status, 200)
        http_get(self.url("/no/such/" + tag))
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM notifications WHERE status = 'DELIVERED'") == "1",
            15, what="the log channel's delivery")

        status, hdrs, text = self.metrics()
        self.assertEqual(status, 200)
        ctype = {k.lower(): v for k, v in dict(hdrs).items()}["content-type"]
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        self.assertEqual(self.value(
            text, 'keryu_http_requests_total{route="/subjects/qr/*/scan/",status="200"}'), 1)
        self.assertEqual(self.value(
            text, 'keryu_http_request_duration_seconds_count{route="/subjects/qr/*/scan/"}'), 1)
        self.assertEqual(self.value(
            text, 'keryu_http_request_duration_seconds_bucket{route="/subjects/qr/*/scan/",'
                  'le="+Inf"}'), 1)
        self.assertEqual(self.value(
            text, 'keryu_http_requests_total{route="other",status="404"}'), 1)
        # no raw path or id ever becomes a label
        self.assertNotIn(tag, text)
        self.assertNotIn("/no/such", text)
        self.assertEqual(self.value(
            text, 'keryu_deliveries_total{channel="log",status="DELIVERED"}'), 1)
        self.assertEqual(self.value(text, "keryu_delivery_queue_depth"), 0)
        self.assertEqual(self.value(text, "keryu_delivery_retries_total"), 0)
        self.assertIsNotNone(self.value(text, 'keryu_db_pool_connections{state="idle"}'))
        self.assertEqual(self.value(text, "keryu_database_up"), 1)
        # the bus by topic class: http published the scan and alarms got
        # it; the log channel's notify and delivery went both ways too
        bus = lambda d, c: self.value(
            text, f'keryu_bus_messages_total{{direction="{d}",class="{c}"}}')
        self.assertGreaterEqual(bus("out", "scan"), 1)
        self.assertGreaterEqual(bus("in", "scan"), 1)
        self.assertGreaterEqual(bus("out", "notify"), 1)
        self.assertGreaterEqual(bus("in", "delivery"), 1)
        self.assertGreaterEqual(bus("out", "system"), 1)
        self.assertIsNotNone(bus("in", "audit"))

        # a second scan moves the scan counts on both sides
        scans_out, scans_in = bus("out", "scan"), bus("in", "scan")
        status, _, _ = http_get(self.url(f"/subjects/qr/{tag}/scan/"))
        self.assertEqual(status, 200)
        def moved():
            _, _, t = self.metrics()
            o = self.value(t, 'keryu_bus_messages_total{direction="out",class="scan"}')
            i = self.value(t, 'keryu_bus_messages_total{direction="in",class="scan"}')
            return (o, i) if o > scans_out and i > scans_in else None
        o, i = wait_for(moved, 15, what="the scan counts after a second scan")
        self.assertEqual(o, scans_out + 1)
        self.assertGreaterEqual(i, scans_in + 1)

        status, _, body = http_get(self.url("/readyz"))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "ready")

        self.broker.stop()
        def not_ready():
            s, _, b = http_get(self.url("/readyz"))
            return (s, json.loads(b)) if s == 503 else None
        status, doc = wait_for(not_ready, 15, what="/readyz 503 without the broker")
        self.assertEqual(doc["bus"], "down")
        self.assertEqual(doc["database"], "ok")
        self.assertEqual(doc["status"], "not_ready")
        # the second scrape sees the first one
        _, _, text = self.metrics()
        self.assertGreaterEqual(self.value(
            text, 'keryu_http_requests_total{route="/metrics",status="200"}'), 1)

    def test_token(self):
        self.start(KERYU_HTTP_METRICS_TOKEN="scrape-me-9")
        status, _, _ = self.metrics()
        self.assertEqual(status, 401)
        status, _, _ = self.metrics({"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        status, _, text = self.metrics({"Authorization": "Bearer scrape-me-9"})
        self.assertEqual(status, 200)
        self.assertIn("# TYPE keryu_http_requests_total counter", text)
        self.assertNotIn("scrape-me-9", self.procs[0].text())


if __name__ == "__main__":
    main()
