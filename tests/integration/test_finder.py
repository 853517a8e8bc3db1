"""The finder's side against a real keryud: the scan page's token, location
and report posts attached to the alarm (and announced on
keryu/v1/report/<alarm>), refused tokens (none, foreign, expired),
replays, the status JSON moving to delivered, cooldown joins, lost mode
and the scan rate limit."""
import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse

from harness import KeryuTest, http_get, main, wait_for

MODULES = "storage,qr,http,alarms,log"
SECRET = "integration-finder-secret"


def mint(event_id, qr, ttl=3600, secret=SECRET):
    """A finder token as events.h defines it (used only when the scan
    page does not carry one)."""
    exp = int(time.time()) + ttl
    msg = f"keryu-finder.v1.{event_id}.{qr}.{exp}".encode()
    mac = base64.urlsafe_b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest())
    return f"{event_id}.{exp}.{mac.decode().rstrip('=')}"


class Finder(KeryuTest):
    def setUp(self):
        super().setUp()
        self.migrate()
        self.tag = self.seed(name="Ana María Pérez")
        self.other = self.seed(phone="+16505550000", name="Bea Other")
        self.watch = self.broker.watch()
        self.addCleanup(self.watch.stop)
        self.ttl = 3600

    def start(self, **env):
        self.k = self.keryud("--modules", MODULES,
                             env=self.env(KERYU_KERNEL_SECRET_KEY=SECRET, **env))

    # ---- helpers ----

    def base(self, tag):
        return f"http://127.0.0.1:{self.http_port}/subjects/qr/{tag}/scan/"

    def scan(self, tag=None):
        """Scans tag; returns (status, headers, page, token). The token is
        read from the page (a field named "t"), else minted from the scan
        event seen on the bus."""
        tag = tag or self.tag
        before = len(self.watch.on("keryu/v1/scan/"))
        status, headers, body = http_get(self.base(tag))
        page = body.decode(errors="replace")
        if status != 200:
            return status, headers, page, None
        m = re.search(r'name="t"[^>]*value="([^"]+)"', page) or \
            re.search(r'value="([^"]+)"[^>]*name="t"', page)
        self.from_page = bool(m)
        if m:
            return status, headers, page, m.group(1)
        scans = wait_for(lambda: (lambda s: s if len(s) > before else None)(
            self.watch.on("keryu/v1/scan/")), 5, what="scan event")
        return status, headers, page, mint(scans[-1][1]["event_id"], tag, self.ttl)

    def post(self, tag, what, fields, headers=None):
        data = urllib.parse.urlencode(fields).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        status, hdrs, body = http_get(self.base(tag) + what, method="POST", data=data,
                                      headers=h)
        return status, hdrs, body.decode(errors="replace")

    def post_until_recorded(self, tag, what, fields):
        """The alarm is written a few ms after the page: 404 means not yet."""
        def attempt():
            r = self.post(tag, what, fields)
            return r if r[0] != 404 else None
        return wait_for(attempt, 5, interval=0.1, what="the scan's alarm")

    def status(self, tag, token):
        return http_get(self.base(tag) + "status?" + urllib.parse.urlencode({"t": token}))

    def alarm_of(self, tag):
        return wait_for(lambda: self.pg.scalar(
            "SELECT id FROM alarms WHERE qr_uuid = :'a1' AND joined_alarm_id IS NULL"
            " ORDER BY created_at DESC LIMIT 1", tag), 5, what="alarm")

    # ---- tests ----

    def test_public_photo_for_the_scan_token_only(self):
        import os
        photos = os.path.join(self.work, "photos")
        os.makedirs(photos)
        name = "0123456789abcdef0123456789abcdef.png"
        data = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
        with open(os.path.join(photos, name), "wb") as f:
            f.write(data)
        self.pg.query("UPDATE subjects SET photo = :'a1' WHERE id = (SELECT subject_id"
                      " FROM subject_qr_codes WHERE uuid = :'a2')", name, self.tag)
        self.start(KERYU_HTTP_PHOTO_DIR=photos)
        status, _, page, token = self.scan()
        self.assertEqual(status, 200)
        m = re.search(r'<img class="ph" src="\./photo\?t=([^"]+)"', page)
        self.assertIsNotNone(m, "the page shows the public photo")
        self.assertEqual(m.group(1), token)
        status, headers, body = http_get(self.base(self.tag) + "photo?t=" + token)
        self.assertEqual((status, body), (200, data))
        self.assertEqual(headers["Content-Type"], "image/png")
        self.assertIn("no-store", headers["Cache-Control"])
        # no token, another tag's token: refused
        self.assertEqual(http_get(self.base(self.tag) + "photo")[0], 403)
        _, _, _, other = self.scan(self.other)
        self.assertEqual(http_get(self.base(self.tag) + "photo?t=" + other)[0], 403)
        # the custodian takes the photo off the public page: gone
        self.pg.query("UPDATE subjects SET public_fields = public_fields & ~1")
        self.assertEqual(http_get(self.base(self.tag) + "photo?t=" + token)[0], 404)

    def test_location_and_report_reach_the_alarm_once(self):
        self.start()
        status, _, _, tok = self.scan()
        self.assertEqual(status, 200)
        self.assertTrue(tok)
        self.assertTrue(self.from_page, "the scan page carries the token in a field named t")
        st, hdrs, body = self.post_until_recorded(
            self.tag, "location", {"t": tok, "lat": "-34.6037", "lng": "-58.3816",
                                   "accuracy": "12.5"})
        self.assertEqual(st, 200, body)
        self.assertIn("text/html", hdrs["Content-Type"])
        self.assertIn("Location sent", body)
        alarm = self.alarm_of(self.tag)
        # the scan recorded a hash of the address, not the address
        ip_hash = self.pg.scalar("SELECT ip_hash FROM alarms WHERE id = :'a1'", alarm)
        self.assertRegex(ip_hash or "", r"^[0-9a-f]{64}$")
        self.assertNotIn("127.0.0.1", ip_hash)
        row = self.pg.query("SELECT latitude, longitude, accuracy_m FROM alarms WHERE id = :'a1'",
                            alarm)[0]
        self.assertEqual([float(v) for v in row], [-34.6037, -58.3816, 12.5])
        # with format=json, the page's fetch gets JSON
        st, hdrs, body = self.post(self.tag, "report",
                                   {"t": tok, "situation": "lost", "text": "Near the bakery, calm.",
                                    "format": "json"})
        self.assertEqual(st, 200, body)
        self.assertIn("application/json", hdrs["Content-Type"])
        self.assertEqual(json.loads(body), {"ok": True})
        self.assertEqual(self.pg.scalar("SELECT report_situation FROM alarms WHERE id = :'a1'",
                                        alarm), "lost")
        self.assertEqual(self.pg.scalar("SELECT report_text FROM alarms WHERE id = :'a1'", alarm),
                         "Near the bakery, calm.")
        reports = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
            self.watch.on("keryu/v1/report/")), 5, what="two report events")
        self.assertEqual({r[0] for r in reports}, {f"keryu/v1/report/{alarm}"})
        self.assertEqual(sorted(r[1]["kind"] for r in reports), ["location", "report"])
        # replays change nothing
        st, _, _ = self.post(self.tag, "location",
                             {"t": tok, "lat": "1", "lng": "2", "accuracy": "3"})
        self.assertEqual(st, 409)
        st, _, body = self.post(self.tag, "report", {"t": tok, "situation": "test",
                                                      "format": "json"})
        self.assertEqual(st, 409)
        self.assertIn("error", json.loads(body))
        self.assertEqual(float(self.pg.scalar(
            "SELECT latitude FROM alarms WHERE id = :'a1'", alarm)), -34.6037)
        self.assertEqual(self.pg.scalar("SELECT is_test FROM alarms WHERE id = :'a1'", alarm), "f")
        time.sleep(0.3)
        self.assertEqual(len(self.watch.on("keryu/v1/report/")), 2)
        # malformed: 400, nothing stored
        st, _, _ = self.post(self.other, "report", {"t": tok, "situation": "panic"})
        self.assertEqual(st, 403)  # and a foreign URL first of all
        # nothing in the log that identifies the finder or the token
        self.assertNotIn(tok, self.k.text())
        self.assertNotIn("Near the bakery", self.k.text())

    def test_missing_foreign_and_bad_tokens_are_refused(self):
        self.start()
        _, _, _, tok = self.scan()
        self.alarm_of(self.tag)
        _, _, _, tok_b = self.scan(self.other)
        loc = {"lat": "1", "lng": "2", "accuracy": "3"}
        st, _, _ = self.post(self.tag, "location", loc)
        self.assertEqual(st, 403)
        # tag B's token on tag A's URL, and A's on B's
        st, _, _ = self.post(self.tag, "location", dict(loc, t=tok_b))
        self.assertEqual(st, 403)
        st, _, _ = self.post(self.other, "location", dict(loc, t=tok))
        self.assertEqual(st, 403)
        st, _, _ = self.post(self.tag, "location", dict(loc, t=tok[:-2] + "xx"))
        self.assertEqual(st, 403)
        st, _, _ = self.post(self.tag, "location", dict(loc, t=mint(tok.split(".")[0], self.tag,
                                                                      secret="wrong")))
        self.assertEqual(st, 403)
        # another site's form
        st, _, _ = self.post(self.tag, "location", dict(loc, t=tok),
                             headers={"Origin": "https://evil.example"})
        self.assertEqual(st, 403)
        # malformed with a good token
        for bad in [dict(loc, lat="91"), dict(loc, lng="nan"), {"lat": "1", "lng": "2"}]:
            st, _, _ = self.post(self.tag, "location", dict(bad, t=tok))
            self.assertEqual(st, 400, bad)
        st, _, _ = self.post(self.tag, "report", {"t": tok, "situation": "lost", "text": "x" * 501})
        self.assertEqual(st, 400)
        st, _, _ = self.status(self.tag, tok_b)
        self.assertEqual(st, 403)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM alarms WHERE latitude IS NOT NULL OR report_at IS NOT NULL"), "0")
        self.assertEqual(self.watch.on("keryu/v1/report/"), [])

    def test_expired_token_is_410(self):
        self.ttl = 1
        self.start(KERYU_HTTP_FINDER_TOKEN_TTL_S="1")
        _, _, _, tok = self.scan()
        self.alarm_of(self.tag)
        time.sleep(2.1)
        st, _, _ = self.post(self.tag, "location", {"t": tok, "lat": "1", "lng": "2",
                                                     "accuracy": "3"})
        self.assertEqual(st, 410)
        st, _, _ = self.status(self.tag, tok)
        self.assertEqual(st, 410)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms WHERE latitude IS NOT NULL"),
                         "0")

    def test_status_moves_to_delivered(self):
        self.start()
        _, _, _, tok = self.scan()
        st, hdrs, body = self.status(self.tag, tok)
        self.assertEqual(st, 200)
        self.assertIn("application/json", hdrs["Content-Type"])
        self.assertIn("no-store", hdrs.get("Cache-Control", ""))
        first = json.loads(body)
        self.assertEqual(set(first), {"status", "acknowledged", "has_location", "has_report",
                                      "is_test"})

        def delivered():
            s = json.loads(self.status(self.tag, tok)[2])
            return s if s["status"] == "delivered" else None
        s = wait_for(delivered, 10, interval=0.2, what="status delivered")
        self.assertFalse(s["acknowledged"])
        self.assertFalse(s["has_location"])
        st, _, _ = self.post_until_recorded(self.tag, "location",
                                            {"t": tok, "lat": "1", "lng": "2", "accuracy": "3"})
        self.assertEqual(st, 200)
        self.assertTrue(json.loads(self.status(self.tag, tok)[2])["has_location"])

    def test_cooldown_joins_scans_and_lost_mode_alerts_each(self):
        self.start()
        self.scan()
        self.scan()
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM alarms WHERE qr_uuid = :'a1'", self.tag) == "2", 5,
            what="two scans recorded")
        time.sleep(0.5)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM alarms WHERE qr_uuid = :'a1' AND joined_alarm_id IS NOT NULL",
            self.tag), "1")
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM notifications n JOIN alarms a ON a.id = n.alarm_id"
            " WHERE a.qr_uuid = :'a1' AND n.kind = 'alert'", self.tag), "1")
        # lost mode: every scan of the other tag alerts
        self.pg.query("UPDATE subjects SET missing = true, missing_since = now()"
                      " WHERE id = (SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1')",
                      self.other)
        for _ in range(3):
            self.assertEqual(self.scan(self.other)[0], 200)
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM notifications n JOIN alarms a ON a.id = n.alarm_id"
            " WHERE a.qr_uuid = :'a1' AND n.kind = 'alert'", self.other) == "3", 5,
            what="three alerts in lost mode")
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM alarms WHERE qr_uuid = :'a1' AND joined_alarm_id IS NOT NULL",
            self.other), "0")

    def test_scan_rate_limit_is_429_and_publishes_nothing(self):
        self.start(KERYU_HTTP_SCAN_LIMIT_PER_IP="2", KERYU_HTTP_SCAN_LIMIT_WINDOW_S="3600")
        self.assertEqual(self.scan()[0], 200)
        self.assertEqual(self.scan(self.other)[0], 200)
        wait_for(lambda: len(self.watch.on("keryu/v1/scan/")) == 2, 5, what="two scans")
        status, headers, page, _ = self.scan()
        self.assertEqual(status, 429)
        self.assertGreater(int(headers["Retry-After"]), 0)
        self.assertIn("no-store", headers.get("Cache-Control", ""))
        time.sleep(0.5)
        self.assertEqual(len(self.watch.on("keryu/v1/scan/")), 2)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "2")


if __name__ == "__main__":
    main()
