"""QR tags, alarms and the dashboard end to end: the real http, storage, qr,
alarms and log modules, PostgreSQL and mosquitto. Custodians sign up and
add subjects through the pages; a scan through the short code raises an
alarm whose notification timeline (log channel) shows on the alarm page.
A second custodian gets the 404 page for every one of the first one's tag
and alarm addresses, by GET and by POST, and nothing changes."""
import http.client
import os
import re
import shutil
import subprocess
import urllib.parse
import uuid

from harness import Browser, KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,log"
PASSWORD = "correct horse battery"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def zbar(path):
    """The text of the QR code in the image at path, or fails."""
    assert shutil.which("zbarimg"), "zbarimg (zbar-tools) is required"
    out = subprocess.run(["zbarimg", "--raw", "-q", path], capture_output=True, text=True)
    assert out.returncode == 0, (path, out.stderr)
    return out.stdout.strip()


class Pages:
    """Custodians, subjects, tags and alarms made through the pages (and
    SQL where the pages cannot); mixed into a KeryuTest."""

    def start(self):
        self.migrate()
        self.k = self.keryud("--modules", MODULES, env=self.env(
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key"))
        self.base = f"http://127.0.0.1:{self.http_port}"

    def custodian(self, email, name="Ana Pérez", phone="+1 650 555 1234"):
        b = Browser(self.http_port)
        status, r, _ = b.request("POST", "/account/signup", {
            "csrf": b.csrf("/account/signup"), "name": name, "email": email,
            "phone": phone, "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303)
        # the phone code is not what is tested here
        self.pg.query("UPDATE custodians SET phone_verified_at = now() WHERE email = :'a1'",
                      email)
        return b

    def subject(self, b, name):
        status, r, text = b.request("POST", "/subjects/new", {
            "csrf": b.csrf("/subjects/new"), "name": name,
            "date_of_birth": "2015-01-02", "gender": "F", "is_active": "1"})
        self.assertEqual(status, 303, text)
        m = re.match(rf"^/subjects/({UUID_RE})/", r.getheader("Location"))
        self.assertTrue(m, r.getheader("Location"))
        return m.group(1)

    def new_tag(self, b, subject):
        before = {t for t, in self.pg.query(
            "SELECT uuid FROM subject_qr_codes WHERE subject_id = :'a1'", subject)}
        status, r, _ = b.post(f"/subjects/{subject}/tags/new")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), f"/subjects/{subject}/tags/?notice=created")
        rows = self.pg.query(
            "SELECT uuid, short_code, is_active FROM subject_qr_codes WHERE subject_id = :'a1'",
            subject)
        new = [row for row in rows if row[0] not in before]
        self.assertEqual(len(new), 1)
        tag, code, active = new[0]
        self.assertRegex(code, f"^[{ALPHABET}]{{8}}$")
        self.assertEqual(active, "f")
        return tag, code

    def active(self, subject):
        return {t: a == "t" for t, a in self.pg.query(
            "SELECT uuid, is_active FROM subject_qr_codes WHERE subject_id = :'a1'", subject)}

    def add_alarms(self, subject, n, day0="2026-01-01", resolved_every=0):
        """n alarms, one a day from day0 at noon UTC; every resolved_every-th
        resolved."""
        self.pg.query(
            "INSERT INTO alarms (event_id, subject_id, scanned_at, resolved_at)"
            " SELECT gen_random_uuid(), :'a1',"
            "  ((:'a2'::date + (i - 1)) + time '12:00') AT TIME ZONE 'UTC',"
            "  CASE WHEN :'a4'::int > 0 AND i % :'a4'::int = 0 THEN now() END"
            " FROM generate_series(1, :'a3'::int) AS i",
            subject, day0, n, resolved_every)

    def snapshot(self):
        return (self.pg.query("SELECT * FROM subject_qr_codes ORDER BY uuid"),
                self.pg.query("SELECT * FROM alarms ORDER BY id"),
                self.pg.query("SELECT * FROM notifications ORDER BY id"),
                self.pg.query("SELECT count(*) FROM notification_events"))


class TagsAlarms(Pages, KeryuTest):
    def setUp(self):
        super().setUp()
        self.start()


    def test_tag_scan_alarm_timeline_resolve_dashboard(self):
        a = self.custodian("ana@example.org")
        subj = self.subject(a, "Lucía <b>Gómez</b>")
        status, _, page = a.get(f"/subjects/{subj}/tags/")
        self.assertEqual(status, 200)
        self.assertIn("No tags yet", page)
        self.assertIn("QR tags of Lucía &lt;b&gt;Gómez&lt;/b&gt;", page)

        t1, c1 = self.new_tag(a, subj)
        t2, c2 = self.new_tag(a, subj)
        self.assertNotEqual(c1, c2)
        status, _, page = a.get(f"/subjects/{subj}/tags/")
        self.assertIn(c1, page)
        self.assertIn(c2, page)
        self.assertIn("Last scan: never", page)

        # activating one deactivates the others
        status, r, _ = a.post(f"/subjects/{subj}/tags/{t1}/activate")
        self.assertEqual(status, 303)
        self.assertEqual(self.active(subj), {t1: True, t2: False})
        a.post(f"/subjects/{subj}/tags/{t2}/activate")
        self.assertEqual(self.active(subj), {t1: False, t2: True})
        a.post(f"/subjects/{subj}/tags/{t2}/deactivate")
        self.assertEqual(self.active(subj), {t1: False, t2: False})
        a.post(f"/subjects/{subj}/tags/{t1}/activate")
        self.assertEqual(self.active(subj), {t1: True, t2: False})

        scan_url = f"{self.base}/subjects/qr/{t1}/scan/"
        # the PNG decodes to the exact scan URL
        status, r, png = a.get(f"/subjects/{subj}/tags/{t1}/qr.png", raw=True)
        self.assertEqual(status, 200)
        self.assertEqual(r.getheader("Content-Type"), "image/png")
        self.assertEqual(r.getheader("Content-Disposition"),
                         f'attachment; filename="keryu-tag-{c1}.png"')
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        path = os.path.join(self.work, "tag.png")
        with open(path, "wb") as f:
            f.write(png)
        self.assertEqual(zbar(path), scan_url)

        # the SVG: a square viewBox in modules, one path of dark modules
        status, r, svg = a.get(f"/subjects/{subj}/tags/{t1}/qr.svg")
        self.assertEqual(status, 200)
        self.assertEqual(r.getheader("Content-Type"), "image/svg+xml")
        self.assertEqual(r.getheader("Content-Disposition"),
                         f'attachment; filename="keryu-tag-{c1}.svg"')
        m = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
        self.assertTrue(m, svg[:200])
        self.assertEqual(m.group(1), m.group(2))
        # version 3 or more (the URL is ~80 bytes) plus the quiet zone
        self.assertGreaterEqual(int(m.group(1)), 29 + 8)
        self.assertRegex(svg, r'<path [^>]*d="M\d+ \d+h\d+v1h-\d+z')

        # the print page: the QR, the first name, the code, the short URL
        status, r, page = a.get(f"/subjects/{subj}/tags/{t1}/print")
        self.assertEqual(status, 200)
        self.assertIn("<svg", page)
        self.assertIn(f'viewBox="0 0 {m.group(1)} {m.group(1)}"', page)
        self.assertIn(f">{c1}<", page)
        self.assertIn(f"{self.base}/t/{c1}", page)
        self.assertIn(">Lucía<", page)
        self.assertIn("@media print", page)
        self.assertNotIn("<b>", page)

        # the short code leads to the scan page, in any case, no session
        finder = Browser(self.http_port)
        status, r, _ = finder.get(f"/t/{c1.lower()}")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), f"/subjects/qr/{t1}/scan/")
        self.assertIsNone(r.getheader("Set-Cookie"))
        for bad in ("/t/ZZZZZZZZ", "/t/ABC", "/t/ABCDEFG0", "/t/" + t1):
            status, _, _ = finder.get(bad)
            self.assertEqual(status, 404, bad)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"), "0")
        status, _, page = finder.get(r.getheader("Location"))
        self.assertEqual(status, 200)
        self.assertIn("The family has been alerted", page)

        alarm = wait_for(lambda: self.pg.scalar("SELECT id FROM alarms"), 10, what="alarm")
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications") == "DELIVERED",
                 10, what="DELIVERED")

        status, _, page = a.get("/alarms/")
        self.assertEqual(status, 200)
        self.assertIn(f'href="/alarms/{alarm}/"', page)
        self.assertIn(">Open</span>", page)
        self.assertIn("1 alarm,", page)
        status, _, page = a.get(f"/alarms/{alarm}/")
        self.assertEqual(status, 200)
        self.assertIn("Lucía &lt;b&gt;Gómez&lt;/b&gt;", page)
        timeline = page[page.index('class="timeline"'):]
        self.assertIn("<strong>QUEUED</strong>", timeline)
        self.assertIn("<strong>DELIVERED</strong>", timeline)
        self.assertLess(timeline.index("QUEUED"), timeline.index("DELIVERED"))
        self.assertIn("Attempt 1 via log to the number ending 1234", timeline)
        self.assertNotIn("6505551234", page)
        status, _, page = a.get(f"/subjects/{subj}/tags/")
        item = re.search(rf'<span class="code">{c1}</span>.*?</li>', page, re.S).group(0)
        self.assertNotIn("Last scan: never", item)
        self.assertIn(">Active</span>", item)

        # the dashboard
        status, r, _ = a.get("/")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/dashboard/")
        status, _, page = a.get("/dashboard/")
        self.assertEqual(status, 200)
        self.assertIn("<strong>1</strong> subject<", page)
        self.assertIn("<strong>1</strong> active tag<", page)
        self.assertIn("<strong>1</strong> open alarm<", page)
        self.assertIn("Lucía &lt;b&gt;Gómez&lt;/b&gt;", page)
        self.assertNotIn("Last alarm: never", page)

        # resolve with notes
        notes = "Found at the <b>park</b>.\nAll fine."
        status, r, _ = a.post(f"/alarms/{alarm}/resolve", {"notes": notes},
                              csrf_page=f"/alarms/{alarm}/")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), f"/alarms/{alarm}/?notice=resolved")
        # (psql prints rows a line each: the newline comes back as "|")
        self.assertEqual(self.pg.query(
            "SELECT resolved_at IS NOT NULL, replace(resolution_notes, chr(10), '|')"
            " FROM alarms"), [["t", notes.replace("\n", "|")]])
        status, _, page = a.get(f"/alarms/{alarm}/?notice=resolved")
        self.assertIn("Found at the &lt;b&gt;park&lt;/b&gt;.\nAll fine.", page)
        self.assertNotIn("<textarea", page)
        status, _, page = a.get("/alarms/")
        self.assertIn(f'href="/alarms/{alarm}/"', page)
        self.assertIn(">Resolved</span>", page)
        status, _, page = a.get("/dashboard/")
        self.assertIn("<strong>0</strong> open alarms", page)
        # a second resolve changes nothing
        status, r, _ = a.post(f"/alarms/{alarm}/resolve", {"notes": "again"})
        self.assertEqual(r.getheader("Location"), f"/alarms/{alarm}/?notice=already")
        self.assertEqual(self.pg.scalar(
            "SELECT replace(resolution_notes, chr(10), '|') FROM alarms"),
            notes.replace("\n", "|"))
        # notes over 2000 bytes are refused
        self.add_alarms(subj, 1, day0="2026-03-01")
        other = self.pg.scalar("SELECT id FROM alarms WHERE resolved_at IS NULL")
        status, _, page = a.post(f"/alarms/{other}/resolve", {"notes": "x" * 2001})
        self.assertEqual(status, 400)
        self.assertIn("at most 2000", page)
        self.assertEqual(self.pg.scalar(
            "SELECT resolved_at IS NULL FROM alarms WHERE id = :'a1'", other), "t")

    def test_filters_and_pagination_over_30_alarms(self):
        a = self.custodian("ana@example.org")
        s1 = self.subject(a, "Lucía")
        s2 = self.subject(a, "Mateo")
        # s1: 2026-01-01 .. 2026-01-20, every 4th resolved; s2: 10 in Feb
        self.add_alarms(s1, 20, "2026-01-01", resolved_every=4)
        self.add_alarms(s2, 10, "2026-02-01")

        def items(page):
            return re.findall(rf'<li class="alarm"><a href="/alarms/({UUID_RE})/"', page)

        status, _, page = a.get("/alarms/")
        self.assertEqual(status, 200)
        self.assertIn("30 alarms", page)
        self.assertEqual(len(items(page)), 25)
        self.assertIn("Page 1 of 2", page)
        self.assertIn('rel="next" href="/alarms/?page=2"', page)
        # newest first: Mateo's February ones lead
        first = self.pg.scalar("SELECT id FROM alarms ORDER BY scanned_at DESC LIMIT 1")
        self.assertEqual(items(page)[0], first)
        status, _, page2 = a.get("/alarms/?page=2")
        self.assertEqual(len(items(page2)), 5)
        self.assertIn("Page 2 of 2", page2)
        self.assertIn('rel="prev" href="/alarms/?page=1"', page2)
        self.assertEqual(len(set(items(page)) | set(items(page2))), 30)
        oldest = self.pg.scalar("SELECT id FROM alarms ORDER BY scanned_at LIMIT 1")
        self.assertEqual(items(page2)[-1], oldest)

        # filters, and the links that keep them
        status, _, page = a.get(f"/alarms/?subject={s1}")
        self.assertIn("20 alarms", page)
        self.assertIn(f'<option value="{s1}" selected>Lucía</option>', page)
        status, _, page = a.get(f"/alarms/?subject={s1}&state=resolved")
        self.assertIn("5 alarms", page)
        self.assertEqual(page.count(">Resolved</span>"), 5)
        status, _, page = a.get("/alarms/?state=open")
        self.assertIn("25 alarms", page)
        self.assertNotIn(">Resolved</span>", page)
        status, _, page = a.get("/alarms/?from=2026-01-10&to=2026-02-02")
        self.assertIn("13 alarms", page)  # Jan 10..20 and Feb 1..2
        status, _, page = a.get("/alarms/?from=2026-01-01&to=2026-01-31")
        self.assertIn("20 alarms", page)
        status, _, page = a.get("/alarms/?from=2026-01-01")
        self.assertIn('href="/alarms/?from=2026-01-01&amp;page=2"', page)

        # bad filters: an error next to the field, no list
        for q, field in (("from=2026-02-30", "from"), ("to=31/01/2026", "to"),
                         ("from=2026-02-01&to=2026-01-01", "to"),
                         ("state=closed", "state"), ("subject=nope", "subject")):
            status, _, page = a.get(f"/alarms/?{q}")
            self.assertEqual(status, 400, q)
            self.assertIn(f'id="f-{field}-error"', page)
            self.assertEqual(items(page), [])
        status, _, page = a.get("/alarms/?page=0")
        self.assertEqual(status, 400)

        # another custodian's subject is not a filter
        b = self.custodian("bea@example.org", name="Bea")
        sb = self.subject(b, "Berta")
        self.add_alarms(sb, 3, "2026-01-05")
        status, _, page = a.get(f"/alarms/?subject={sb}")
        self.assertEqual(status, 400)
        self.assertIn('id="f-subject-error"', page)
        self.assertNotIn("Berta", page)
        status, _, page = b.get("/alarms/")
        self.assertIn("3 alarms", page)
        self.assertNotIn("Lucía", page)

    def test_other_custodian_gets_404_and_changes_nothing(self):
        a = self.custodian("ana@example.org")
        sa = self.subject(a, "Lucía")
        t1, _ = self.new_tag(a, sa)
        t2, _ = self.new_tag(a, sa)
        a.post(f"/subjects/{sa}/tags/{t1}/activate")
        self.add_alarms(sa, 1)
        alarm = self.pg.scalar("SELECT id FROM alarms")

        b = self.custodian("bea@example.org", name="Bea")
        sb = self.subject(b, "Berta")
        tb, _ = self.new_tag(b, sb)
        before = self.snapshot()

        tag_urls = [f"/subjects/{sa}/tags/", f"/subjects/{sa}/tags/new"]
        for t in (t1, t2):
            tag_urls += [f"/subjects/{sa}/tags/{t}/{x}"
                         for x in ("activate", "deactivate", "qr.png", "qr.svg", "print")]
            # B's own subject in the address does not help
            tag_urls += [f"/subjects/{sb}/tags/{t}/{x}"
                         for x in ("activate", "deactivate", "qr.png", "qr.svg", "print")]
        urls = tag_urls + [f"/alarms/{alarm}/", f"/alarms/{alarm}/resolve"]
        # what an address of B's own answers for an id that does not exist:
        # B must not be able to tell A's rows from those
        ghost = str(uuid.uuid4())
        answered_404 = set()
        for u in urls:
            missing = u.replace(sa, sb).replace(t1, ghost).replace(t2, ghost) \
                       .replace(alarm, ghost)
            if missing.endswith("/tags/") or missing.endswith("/tags/new"):
                missing = u.replace(sa, ghost)
            for method in ("GET", "POST"):
                if method == "GET":
                    status, r, page = b.get(u)
                    ghost_status, _, _ = b.get(missing)
                else:
                    status, r, page = b.post(u, {"notes": "mine now"})
                    ghost_status, _, _ = b.post(missing, {"notes": "mine now"})
                self.assertEqual(status, ghost_status, (method, u))
                if status != 405:  # the other method of a GET- or POST-only address
                    self.assertEqual(status, 404, (method, u))
                    self.assertIn("Page not found", page)
                    answered_404.add(u)
                self.assertIsNone(r.getheader("Content-Disposition"))
                self.assertNotIn("Lucía", page)
        # each address answered 404 to its method(s)
        self.assertEqual(answered_404, set(urls))
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.active(sa), {t1: True, t2: False})
        # and A still reaches everything
        for u in (f"/subjects/{sa}/tags/", f"/subjects/{sa}/tags/{t1}/qr.png",
                  f"/subjects/{sa}/tags/{t1}/print", f"/alarms/{alarm}/"):
            status, _, _ = a.get(u, raw=True)
            self.assertEqual(status, 200, u)
        # B's tag is not under A's subject for A either
        status, _, _ = a.get(f"/subjects/{sa}/tags/{tb}/qr.png")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    main()
