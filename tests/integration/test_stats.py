"""The statistics page end to end: the real http and storage modules,
PostgreSQL and mosquitto. Alarms and their notifications are seeded in SQL
across days and channels; the page's numbers (per-day bars, percentiles,
success by channel) are checked, a custodian never sees another's alarms,
a staff account sees everyone's, and the CSV export is read back with
Python's csv module."""
import csv
import datetime
import io
import re

from harness import Browser, KeryuTest, main

# no alarms module: it would escalate the seeded alarms on its own
MODULES = "storage,qr,http"
PASSWORD = "correct horse battery"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Stats(KeryuTest):
    def setUp(self):
        super().setUp()
        self.migrate()
        self.keryud("--modules", MODULES, env=self.env(
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key"))

    def custodian(self, email, phone):
        b = Browser(self.http_port)
        status, _, _ = b.request("POST", "/account/signup", {
            "csrf": b.csrf("/account/signup"), "name": "Someone", "email": email,
            "phone": phone, "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303)
        self.pg.query("UPDATE custodians SET phone_verified_at = now() WHERE email = :'a1'",
                      email)
        return b

    def subject(self, b, name):
        status, r, text = b.request("POST", "/subjects/new", {
            "csrf": b.csrf("/subjects/new"), "name": name,
            "date_of_birth": "2015-01-02", "gender": "F", "is_active": "1"})
        self.assertEqual(status, 303, text)
        return re.match(rf"^/subjects/({UUID_RE})/", r.getheader("Location")).group(1)

    def alarm(self, subject, ago, hms, channel, status, delivered_s=None, ack_s=None):
        """An alarm scanned ago UTC days back at hms with one alert
        notification on channel; returns its id."""
        day = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=ago)
        at = f"{day.isoformat()}T{hms}Z"
        aid = self.pg.scalar(
            "INSERT INTO alarms (event_id, subject_id, scanned_at, acknowledged_at, "
            "acknowledged_via, escalation_done) VALUES (gen_random_uuid(), :'a1', :'a2', "
            ":'a2'::timestamptz + make_interval(secs => nullif(:'a3', '')::int), "
            "CASE WHEN :'a3' = '' THEN NULL ELSE 'page' END, true) RETURNING id",
            subject, at, "" if ack_s is None else ack_s)
        self.pg.query(
            "INSERT INTO notifications (alarm_id, custodian_id, channel, recipient, status, "
            "delivered_at) SELECT :'a1', s.custodian_id, :'a2', '+15550000001', :'a3', "
            ":'a5'::timestamptz + make_interval(secs => nullif(:'a4', '')::int) "
            "FROM subjects s WHERE s.id = :'a6'",
            aid, channel, status, "" if delivered_s is None else delivered_s, at, subject)
        return aid

    def page(self, b, days):
        status, _, text = b.get(f"/stats/?days={days}")
        self.assertEqual(status, 200, text)
        self.assertNotIn("<script", text)
        bars = {d: int(n) for d, n in re.findall(
            r'data-day="(\d{4}-\d\d-\d\d)" data-count="(\d+)"', text)}
        self.assertEqual(len(bars), days)
        return text, bars

    def csv_rows(self, b, days):
        status, r, data = b.request("GET", f"/stats/alarms.csv?days={days}", raw=True)
        self.assertEqual(status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/csv"))
        self.assertEqual(r.getheader("Content-Disposition"),
                         f'attachment; filename="keryu-alarms-{days}d.csv"')
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        self.assertEqual(rows[0], ["id", "scanned_at", "subject", "notification_status",
                                   "acknowledged_at", "resolved_at"])
        return rows[1:]

    def test_figures_scope_staff_and_csv(self):
        a = self.custodian("a@example.org", "+1 650 555 1234")
        b = self.custodian("b@example.org", "+1 650 555 9876")
        sa = self.subject(a, "=cmd|' /C calc'!A0")
        sb = self.subject(b, "Bea's, \"kid\"")
        today = datetime.datetime.now(datetime.timezone.utc).date()
        mine = [
            self.alarm(sa, 0, "00:00:05", "whatsapp", "DELIVERED", 10, 60),
            self.alarm(sa, 0, "00:00:06", "sms", "READ", 30),
            self.alarm(sa, 1, "12:00:00", "whatsapp", "FAILED"),
            self.alarm(sa, 2, "12:00:00", "whatsapp", "DELIVERED", 50, 120),
            self.alarm(sa, 3, "12:00:00", "whatsapp", "QUEUED"),
            self.alarm(sa, 10, "12:00:00", "whatsapp", "FAILED"),
            self.alarm(sa, 40, "12:00:00", "whatsapp", "DELIVERED", 5),
        ]
        theirs = self.alarm(sb, 0, "00:00:07", "whatsapp", "DELIVERED", 1000, 2000)

        # login required
        status, r, _ = Browser(self.http_port).get("/stats/")
        self.assertEqual(status, 303)
        # the nav links the page
        self.assertIn('href="/stats/"', a.get("/dashboard/")[2])

        text, bars = self.page(a, 7)
        self.assertEqual(bars[today.isoformat()], 2)
        self.assertEqual(bars[(today - datetime.timedelta(days=1)).isoformat()], 1)
        self.assertEqual(bars[(today - datetime.timedelta(days=4)).isoformat()], 0)
        self.assertEqual(sum(bars.values()), 5)
        self.assertIn('<strong id="total">5</strong>', text)
        self.assertRegex(text, r'<tr id="delivered"><th>To delivered</th><td class="n">3</td>'
                               r'<td data-seconds="30.0">30 s</td><td data-seconds="46.0">')
        self.assertRegex(text, r'<tr id="acknowledged"><th>To acknowledged</th>'
                               r'<td class="n">2</td><td data-seconds="90.0">1 min 30 s</td>'
                               r'<td data-seconds="114.0">')
        self.assertIn('<tr data-channel="sms"><th>SMS</th><td>1</td><td>1</td><td>100%</td>',
                      text)
        self.assertRegex(text, r'<tr data-channel="whatsapp"><th>[^<]+</th><td>2</td>'
                               r'<td>3</td><td>66%</td>')
        self.assertNotIn("Every custodian", text)
        # escaped everywhere
        self.assertNotIn("Bea", text)

        _, bars = self.page(a, 30)
        self.assertEqual(sum(bars.values()), 6)
        _, bars = self.page(a, 90)
        self.assertEqual(sum(bars.values()), 7)
        self.assertEqual(a.get("/stats/?days=5")[0], 400)

        # the other custodian sees only theirs, in the page and the CSV
        text, bars = self.page(b, 7)
        self.assertEqual(sum(bars.values()), 1)
        self.assertIn('<td data-seconds="1000.0">16 min 40 s</td>', text)
        rows = self.csv_rows(b, 90)
        self.assertEqual([r[0] for r in rows], [theirs])
        self.assertEqual(rows[0][2], "Bea's, \"kid\"")
        self.assertEqual(rows[0][3], "PENDING")
        self.assertNotEqual(rows[0][4], "")

        # a's CSV: oldest first, the formula-looking name defused
        rows = self.csv_rows(a, 90)
        self.assertEqual([r[0] for r in rows], list(reversed(mine[2:])) + mine[:2])
        self.assertEqual({r[2] for r in rows}, {"'=cmd|' /C calc'!A0"})
        self.assertTrue(rows[-1][1].startswith(today.isoformat()))
        self.assertTrue(rows[-2][4].startswith(today.isoformat()))  # acknowledged
        self.assertEqual(rows[-1][4], "")
        self.assertEqual(len(self.csv_rows(a, 7)), 5)

        # staff see everyone's
        self.pg.query("UPDATE custodians SET is_staff = true WHERE email = 'b@example.org'")
        text, bars = self.page(b, 7)
        self.assertIn("Every custodian", text)
        self.assertEqual(sum(bars.values()), 6)
        self.assertEqual(bars[today.isoformat()], 3)
        self.assertRegex(text, r'<tr id="delivered"><th>To delivered</th><td class="n">4</td>')
        rows = self.csv_rows(b, 90)
        self.assertEqual(len(rows), 8)
        self.assertEqual({r[0] for r in rows}, set(mine) | {theirs})


if __name__ == "__main__":
    main()
