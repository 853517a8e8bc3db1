"""The public scan page: what it shows, what it refuses, and the log channel."""
import http.client
import json
import time
import uuid

from harness import KeryuTest, http_get, main, wait_for

MODULES = "storage,qr,http,alarms,log"


class ScanPage(KeryuTest):
    def setUp(self):
        super().setUp()
        self.migrate()
        self.tag = self.seed(name="<script>alert(1)</script> Smith")
        self.inactive = self.seed(active=False)
        self.k = self.keryud("--modules", MODULES)

    def test_active_tag_alerts_through_the_log_channel(self):
        watch = self.broker.watch()
        self.addCleanup(watch.stop)
        t0 = time.monotonic()
        status, headers, body = http_get(self.scan_url(self.tag))
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers["Content-Type"])
        self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
        page = body.decode()
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertNotIn("Smith", page)
        self.k.wait_log(r"log\.deliver", 5)
        self.assertLess(time.monotonic() - t0, 5)
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications") == "DELIVERED", 5,
                 what="DELIVERED")
        # one scan event, published before the page was answered
        scans = wait_for(lambda: watch.on("keryu/v1/scan/"), 5, what="scan event")
        self.assertEqual(len(scans), 1)
        self.assertEqual(scans[0][1]["qr_uuid"], self.tag)
        self.assertEqual(self.pg.scalar(
            "SELECT last_used IS NOT NULL FROM subject_qr_codes WHERE uuid = :'a1'", self.tag), "t")
        # no phone number or name in keryud's log
        self.assertNotIn("6505551234", self.k.text())
        self.assertNotIn("Smith", self.k.text())

    def test_unknown_inactive_and_malformed_tags_get_404_and_publish_nothing(self):
        watch = self.broker.watch("keryu/v1/scan/#")
        self.addCleanup(watch.stop)
        base = f"http://127.0.0.1:{self.http_port}/subjects/qr/"
        for path in [f"{uuid.uuid4()}/scan/", f"{self.inactive}/scan/",
                     "not-a-uuid/scan/", f"{self.tag}x/scan/", f"{self.tag[:-1]}/scan/",
                     "../../etc/passwd/scan/", f"{self.tag}/scan/extra",
                     "%00/scan/", ""]:
            status, _, body = http_get(base + path)
            self.assertEqual(status, 404, path)
            self.assertNotIn(b"Smith", body)
        time.sleep(0.5)
        self.assertEqual(watch.poll(), [])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "0")

    def test_uppercase_uuid_is_the_same_tag(self):
        status, _, _ = http_get(self.scan_url(self.tag.upper()))
        self.assertEqual(status, 200)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "1", 5, what="alarm")
        self.assertEqual(self.pg.scalar("SELECT qr_uuid FROM alarms"), self.tag)

    def test_post_is_refused(self):
        status, headers, _ = http_get(self.scan_url(self.tag), method="POST", data=b"x=1")
        self.assertEqual(status, 405)
        time.sleep(0.3)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "0")

    def raw_request(self, method, path, headers):
        """Sends header values as given (bytes go on the wire untouched)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        self.addCleanup(conn.close)
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    def test_non_utf8_user_agent_still_raises_one_alarm(self):
        # latin-1 "Café": PostgreSQL refused such a user agent as text
        # (SQLSTATE 22021), so the page said 200 and no alarm was made
        path = f"/subjects/qr/{self.tag}/scan/"
        status, _, body = self.raw_request("GET", path, {"User-Agent": b"Caf\xe9/1.0 \xed\xa0\x80"})
        self.assertEqual(status, 200)
        self.assertIn(b"The family has been alerted", body)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "1", 5, what="alarm")
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications") == "DELIVERED", 5,
                 what="DELIVERED")
        time.sleep(0.3)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "1")
        self.assertEqual(self.pg.scalar("SELECT user_agent FROM alarms"), "Caf?/1.0 ???")

    def test_head_answers_like_get_without_an_alarm(self):
        watch = self.broker.watch("keryu/v1/#")
        self.addCleanup(watch.stop)
        path = f"/subjects/qr/{self.tag}/scan/"
        status, headers, body = self.raw_request("HEAD", path, {"User-Agent": "link-checker"})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertIn("text/html", headers["Content-Type"])
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        head_length = headers["Content-Length"]
        # and a 404 for an inactive tag, as GET would say
        status, _, _ = self.raw_request("HEAD", f"/subjects/qr/{self.inactive}/scan/", {})
        self.assertEqual(status, 404)
        time.sleep(0.5)
        # no scan, alarm or notify message (system status ones are retained)
        self.assertEqual([t for t, _ in watch.poll() if not t.startswith("keryu/v1/system/")], [])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "0")
        self.assertEqual(self.pg.scalar(
            "SELECT last_used IS NULL FROM subject_qr_codes WHERE uuid = :'a1'", self.tag), "t")
        # GET's page is exactly as long as HEAD said
        status, headers, body = http_get(self.scan_url(self.tag))
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Length"], head_length)
        self.assertEqual(len(body), int(head_length))
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "1", 5, what="alarm")

    def test_healthz_reports_database_and_bus(self):
        status, headers, body = http_get(f"http://127.0.0.1:{self.http_port}/healthz")
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers["Content-Type"])
        self.assertEqual(json.loads(body), {"status": "ok", "database": "ok", "bus": "ok"})
        self.broker.stop()

        def down():
            s, _, b = http_get(f"http://127.0.0.1:{self.http_port}/healthz")
            return s == 503 and json.loads(b)["bus"] == "down"
        wait_for(down, 10, what="healthz to report the bus down")
        self.broker.start()
        wait_for(lambda: http_get(f"http://127.0.0.1:{self.http_port}/healthz")[0] == 200, 20,
                 what="healthz to recover after the broker restarted")
        # and scanning works again after the reconnect
        self.assertEqual(http_get(self.scan_url(self.tag))[0], 200)
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM notifications WHERE status='DELIVERED'") == "1", 10,
            what="delivery after the broker restart")


if __name__ == "__main__":
    main()
