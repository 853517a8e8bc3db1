"""The staff pages under /admin/ end to end: the real http, storage, qr and
alarms modules with the test channel, PostgreSQL and mosquitto. A staff
account made with `keryu createsuperuser` and a custodian who signed up
use the pages; every action is checked in the database, in the audit log
and on keryu/v1/audit. A custodian gets 403 on every staff page, a POST
without the CSRF token changes nothing, a malformed id is a 404, and a
staff member cannot lock themself out. Logins (and failed ones), logouts
and password changes are audited without the password."""
import json
import os
import re
import subprocess
import urllib.parse
import uuid

from harness import BUILD, Browser, KeryuTest, TestChan, main, wait_for
from test_tags_alarms import Pages, UUID_RE

MODULES = "storage,qr,http,alarms,testchan"
PASSWORD = "correct horse battery"
STAFF_EMAIL = "boss@example.org"
STAFF_PW = "staff password 123"
ZERO = "00000000-0000-4000-8000-000000000000"


class AdminBase(Pages):
    """A running keryud with a staff member logged in (self.staff) and a
    custodian who signed up (self.cust); every audit message on the bus is
    watched from the start."""

    chan_outcome = "failed:131026"

    def start_admin(self, **env):
        self.migrate()
        self.chan = TestChan(self.work, outcome=self.chan_outcome)
        self.audit_bus = self.broker.watch("keryu/v1/audit")
        self.addCleanup(self.audit_bus.stop)
        self.k = self.keryud("--modules", MODULES, env=self.env(
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key",
            KERYU_ALARMS_CHANNEL="testchan", KERYU_ALARMS_TICK_MS="100",
            KERYU_HTTP_VERIFY_CHANNEL="testchan", **env, **self.chan.env()))
        self.base = f"http://127.0.0.1:{self.http_port}"
        r = subprocess.run(
            [os.path.join(BUILD, "bin", "keryu"), "createsuperuser", "--email", STAFF_EMAIL,
             "--phone", "+16505550100", "--name", "The Boss", "--password-stdin"],
            input=STAFF_PW + "\n", env=self.env(), capture_output=True, text=True,
            cwd=self.work, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.staff_id = self.pg.scalar("SELECT id FROM custodians WHERE email = :'a1'",
                                       STAFF_EMAIL)
        self.staff = self.login(STAFF_EMAIL, STAFF_PW)
        self.cust = self.custodian("ana@example.org", name="Ana Pérez")
        self.cust_id = self.pg.scalar("SELECT id FROM custodians WHERE email = :'a1'",
                                      "ana@example.org")

    def login(self, email, password):
        b = Browser(self.http_port)
        status, r, text = b.request("POST", "/account/login", {
            "csrf": b.csrf("/account/login"), "email": email, "password": password})
        self.assertEqual(status, 303, text)
        self.assertEqual(r.getheader("Location"), "/dashboard/")
        return b

    def audit(self):
        """Every audit row, oldest first, as dicts."""
        cols = ["id", "actor_id", "actor_email", "source", "action", "target_type",
                "target_id", "summary", "ip_hash"]
        return [dict(zip(cols, r)) for r in self.pg.query(
            "SELECT id, coalesce(actor_id::text, ''), actor_email, source, action, "
            "target_type, target_id, summary, ip_hash FROM audit_log ORDER BY id")]

    def last_audit(self, action, target_id=None):
        rows = [r for r in self.audit() if r["action"] == action and
                (target_id is None or r["target_id"] == target_id)]
        self.assertTrue(rows, f"no audit row {action}: {self.audit()}")
        return rows[-1]

    def assert_audited(self, action, target_type, target_id, summary=None,
                       actor=None):
        """The newest row of action names the target and the actor (the
        staff member by default), and the bus carried it."""
        row = self.last_audit(action, target_id)
        self.assertEqual(row["source"], "web")
        self.assertEqual(row["actor_id"], self.staff_id if actor is None else actor)
        self.assertEqual(row["target_type"], target_type)
        self.assertEqual(row["target_id"], target_id)
        self.assertRegex(row["ip_hash"], "^[0-9a-f]{64}$")
        if summary is not None:
            self.assertEqual(row["summary"], summary)
        msg = wait_for(lambda: [p for t, p in self.audit_bus.on("keryu/v1/audit")
                                if p["action"] == action and
                                p.get("target_id", "") == target_id], 10,
                       what=f"{action} on keryu/v1/audit")[-1]
        self.assertEqual(msg["source"], "web")
        self.assertEqual(msg.get("actor_id", ""), row["actor_id"])
        # ids only on the bus: never the summary or an email
        self.assertNotIn("summary", msg)
        self.assertNotIn("@", json.dumps(msg))
        return row

    def post(self, b, path, fields=None, page="/admin/"):
        """POSTs with the CSRF token of page (read with b's session)."""
        return b.request("POST", path, dict(fields or {}, csrf=b.csrf(page)))


class Admin(AdminBase, KeryuTest):
    def setUp(self):
        super().setUp()
        self.start_admin(KERYU_ALARMS_COOLDOWN_S="45")

    # ---- access ----

    def test_custodians_get_403_visitors_the_login_and_staff_the_nav(self):
        subj = self.subject(self.cust, "Lucía")
        tag, _ = self.new_tag(self.cust, subj)
        self.add_alarms(subj, 1)
        alarm = self.pg.scalar("SELECT id FROM alarms")
        gets = ["/admin/", "/admin/custodians/", f"/admin/custodians/{self.cust_id}/",
                "/admin/subjects/", f"/admin/subjects/{subj}/", "/admin/tags/",
                "/admin/alarms/", f"/admin/alarms/{alarm}/", "/admin/templates/",
                "/admin/settings/", "/admin/deliveries/", "/admin/audit/"]
        posts = [f"/admin/custodians/{self.staff_id}/deactivate",
                 f"/admin/custodians/{self.cust_id}/staff-grant",
                 f"/admin/custodians/{self.staff_id}/reset-phone",
                 f"/admin/tags/{tag}/activate", f"/admin/alarms/{alarm}/resolve",
                 "/admin/templates/", "/admin/templates/delete", "/admin/settings/",
                 f"/admin/deliveries/{ZERO}/retry"]
        before = (self.pg.query("SELECT id, is_active, is_staff, phone_verified_at "
                                "FROM custodians ORDER BY id"), self.snapshot())
        for path in gets:
            with self.subTest(path=path):
                status, _, text = self.cust.get(path)
                self.assertEqual(status, 403, text)
                self.assertIn("Staff only", text)
                status, r, _ = Browser(self.http_port).get(path)
                self.assertEqual(status, 303)
                self.assertTrue(r.getheader("Location").startswith("/account/login?next="))
                self.assertEqual(self.staff.get(path)[0], 200, path)
        for path in posts:
            with self.subTest(path=path):
                status, _, _ = self.post(self.cust, path, {
                    "event": "alert", "name": "x", "language": "en", "cooldown_s": "1",
                    "notes": "x"}, page="/account/")
                self.assertEqual(status, 403)
        after = (self.pg.query("SELECT id, is_active, is_staff, phone_verified_at "
                               "FROM custodians ORDER BY id"), self.snapshot())
        self.assertEqual(before, after)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM message_templates"), "0")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM settings"), "0")
        # the nav links the admin pages for staff only
        self.assertIn('href="/admin/"', self.staff.get("/dashboard/")[2])
        self.assertNotIn('href="/admin/"', self.cust.get("/dashboard/")[2])

    def test_missing_csrf_and_malformed_ids(self):
        before = self.pg.query("SELECT id, is_active, is_staff FROM custodians ORDER BY id")
        status, _, _ = self.staff.request(
            "POST", f"/admin/custodians/{self.cust_id}/deactivate", {})
        self.assertEqual(status, 403)
        status, _, _ = self.staff.request(
            "POST", f"/admin/custodians/{self.cust_id}/deactivate", {"csrf": "0" * 64})
        self.assertEqual(status, 403)
        status, _, _ = self.staff.request("POST", "/admin/settings/", {"cooldown_s": "5"})
        self.assertEqual(status, 403)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM settings"), "0")
        self.assertEqual(before, self.pg.query(
            "SELECT id, is_active, is_staff FROM custodians ORDER BY id"))
        for path in ["/admin/custodians/123/", "/admin/custodians/not-a-uuid/",
                     f"/admin/custodians/{ZERO}/", f"/admin/subjects/{ZERO}/",
                     "/admin/subjects/x/", f"/admin/alarms/{ZERO}/", "/admin/alarms/12/",
                     "/admin/nothing/"]:
            with self.subTest(path=path):
                self.assertEqual(self.staff.get(path)[0], 404)
        for path in [f"/admin/custodians/{ZERO}/deactivate", "/admin/custodians/1/deactivate",
                     f"/admin/tags/{ZERO}/deactivate", "/admin/tags/abc/deactivate",
                     f"/admin/alarms/{ZERO}/resolve", f"/admin/deliveries/{ZERO}/retry",
                     "/admin/deliveries/zz/retry"]:
            with self.subTest(path=path):
                self.assertEqual(self.post(self.staff, path)[0], 404)
        self.assertEqual(before, self.pg.query(
            "SELECT id, is_active, is_staff FROM custodians ORDER BY id"))
        # the staff member's login only (signing up is not a login)
        self.assertEqual([r["action"] for r in self.audit()], ["login"])

    # ---- custodians ----

    def test_custodian_list_search_view_and_actions(self):
        for i in range(27):
            self.pg.query("INSERT INTO custodians (email, name, phone_e164) "
                          "VALUES (:'a1', 'Bulk', '+16505550199')", f"bulk{i:02}@example.org")
        status, _, text = self.staff.get("/admin/custodians/")
        self.assertEqual(status, 200)
        self.assertIn(STAFF_EMAIL, text)
        self.assertIn("ana@example.org", text)
        self.assertIn('rel="next" href="/admin/custodians/?page=2"', text)
        status, _, text = self.staff.get("/admin/custodians/?page=2")
        self.assertEqual(status, 200)
        self.assertEqual(len(re.findall(r'class="row"', text)), 4)  # 29 - 25
        status, _, text = self.staff.get("/admin/custodians/?q=ANA")
        self.assertEqual(status, 200)
        self.assertIn("ana@example.org", text)
        self.assertNotIn(STAFF_EMAIL, text)
        self.assertNotIn("bulk", text)
        status, _, text = self.staff.get("/admin/custodians/?q=bulk&page=2")
        self.assertEqual(len(re.findall(r'class="row"', text)), 2)
        self.assertIn('rel="prev" href="/admin/custodians/?q=bulk&amp;page=1"', text)
        self.assertEqual(self.staff.get("/admin/custodians/?page=0")[0], 400)
        self.assertEqual(self.staff.get("/admin/custodians/?page=x")[0], 400)

        subj = self.subject(self.cust, "Lucía <b>G</b>")
        status, _, text = self.staff.get(f"/admin/custodians/{self.cust_id}/")
        self.assertEqual(status, 200)
        self.assertIn("+16505551234", text)
        self.assertIn("Lucía &lt;b&gt;G&lt;/b&gt;", text)
        self.assertIn(f'href="/admin/subjects/{subj}/"', text)
        self.assertNotIn("argon2", text)
        page = f"/admin/custodians/{self.cust_id}/"

        def state():
            return self.pg.query("SELECT is_active, is_staff, phone_verified_at IS NOT NULL "
                                 "FROM custodians WHERE id = :'a1'", self.cust_id)[0]

        # deactivate: the custodian's session ends
        status, r, _ = self.post(self.staff, page + "deactivate", page=page)
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), page + "?notice=deactivated")
        self.assertEqual(state(), ["f", "f", "t"])
        self.assert_audited("custodian.deactivate", "custodian", self.cust_id,
                            "is_active: true -> false")
        self.assertEqual(self.cust.get("/dashboard/")[0], 303)
        self.assertIn("it cannot log in", self.staff.get(page + "?notice=deactivated")[2])
        # again: nothing changes, nothing is audited
        n = len(self.audit())
        status, r, _ = self.post(self.staff, page + "deactivate", page=page)
        self.assertEqual(r.getheader("Location"), page + "?notice=unchanged")
        self.assertEqual(len(self.audit()), n)
        self.post(self.staff, page + "reactivate", page=page)
        self.assertEqual(state(), ["t", "f", "t"])
        self.assert_audited("custodian.reactivate", "custodian", self.cust_id,
                            "is_active: false -> true")
        self.post(self.staff, page + "staff-grant", page=page)
        self.assertEqual(state(), ["t", "t", "t"])
        self.assert_audited("custodian.staff_grant", "custodian", self.cust_id,
                            "is_staff: false -> true")
        self.post(self.staff, page + "staff-revoke", page=page)
        self.assertEqual(state(), ["t", "f", "t"])
        self.assert_audited("custodian.staff_revoke", "custodian", self.cust_id,
                            "is_staff: true -> false")
        self.post(self.staff, page + "reset-phone", page=page)
        self.assertEqual(state(), ["t", "f", "f"])
        self.assert_audited("custodian.phone_reset", "custodian", self.cust_id,
                            "phone_verified: true -> false")
        # the view lists the entries about them
        text = self.staff.get(page)[2]
        self.assertIn("custodian.phone_reset", text)
        self.assertIn("is_staff: true -&gt; false", text)

        # a staff member cannot lock themself out
        mine = f"/admin/custodians/{self.staff_id}/"
        n = len(self.audit())
        for action in ("deactivate", "staff-revoke"):
            with self.subTest(action=action):
                status, _, text = self.post(self.staff, mine + action, page=mine)
                self.assertEqual(status, 409)
                self.assertIn("your own", text)
        self.assertEqual(self.pg.query("SELECT is_active, is_staff FROM custodians "
                                       "WHERE id = :'a1'", self.staff_id), [["t", "t"]])
        self.assertEqual(len(self.audit()), n)
        self.assertEqual(self.staff.get("/admin/")[0], 200)

    # ---- subjects, tags, alarms ----

    def test_subjects_tags_and_alarms(self):
        bob = self.custodian("bob@example.org", name="Bob", phone="+1 650 555 9876")
        s1 = self.subject(self.cust, "Lucía Gómez")
        s2 = self.subject(bob, "Bea <i>B</i>")
        self.pg.query("UPDATE subjects SET allergies = 'peanuts' WHERE id = :'a1'", s1)
        t1, c1 = self.new_tag(self.cust, s1)
        t2, c2 = self.new_tag(bob, s2)
        self.add_alarms(s1, 3, day0="2026-01-01", resolved_every=3)
        self.add_alarms(s2, 2, day0="2026-02-01")

        status, _, text = self.staff.get("/admin/subjects/")
        self.assertEqual(status, 200)
        self.assertIn("2 subjects", text)
        self.assertIn("Bea &lt;i&gt;B&lt;/i&gt;", text)
        status, _, text = self.staff.get("/admin/subjects/?q=bob%40example")
        self.assertIn("1 subject.", text)
        self.assertIn(f'href="/admin/subjects/{s2}/"', text)
        self.assertNotIn("Lucía", text)
        status, _, text = self.staff.get(f"/admin/subjects/{s1}/")
        self.assertEqual(status, 200)
        self.assertIn("peanuts", text)
        self.assertIn(c1, text)
        self.assertIn(f'href="/admin/custodians/{self.cust_id}/"', text)

        # tags: list, search by code, deactivate and activate
        status, _, text = self.staff.get("/admin/tags/")
        self.assertIn("2 tags", text)
        status, _, text = self.staff.get(f"/admin/tags/?q={c2.lower()}")
        self.assertIn("1 tag.", text)
        self.assertIn(c2, text)
        self.assertNotIn(c1, text)
        status, r, _ = self.post(self.staff, f"/admin/tags/{t1}/activate",
                                 {"back": "/admin/tags/?q=x&page=1"})
        self.assertEqual(r.getheader("Location"), "/admin/tags/?q=x&page=1&notice=activated")
        self.assertEqual(self.active(s1), {t1: True})
        self.assert_audited("tag.activate", "tag", t1)
        status, r, _ = self.post(self.staff, f"/admin/tags/{t1}/deactivate",
                                 {"back": "https://evil.example/"})
        self.assertEqual(r.getheader("Location"), "/admin/tags/?notice=deactivated")
        self.assertEqual(self.active(s1), {t1: False})
        self.assert_audited("tag.deactivate", "tag", t1, "is_active: true -> false")
        self.assertEqual(self.active(s2), {t2: False})

        # alarms: filters
        status, _, text = self.staff.get("/admin/alarms/")
        self.assertIn("5 alarms", text)
        status, _, text = self.staff.get("/admin/alarms/?state=open")
        self.assertIn("4 alarms", text)
        status, _, text = self.staff.get("/admin/alarms/?state=resolved")
        self.assertIn("1 alarm,", text)
        status, _, text = self.staff.get("/admin/alarms/?from=2026-02-01&to=2026-02-01")
        self.assertIn("1 alarm,", text)
        self.assertIn("Bea &lt;i&gt;B&lt;/i&gt;", text)
        status, _, text = self.staff.get(f"/admin/alarms/?subject={s1}")
        self.assertIn("3 alarms", text)
        for bad in ("state=lost", "from=2026-02-30", "from=2026-03-02&to=2026-03-01",
                    "subject=12", "page=-1"):
            with self.subTest(bad=bad):
                self.assertEqual(self.staff.get(f"/admin/alarms/?{bad}")[0], 400)

        # one alarm, resolved by staff
        alarm = self.pg.scalar("SELECT id FROM alarms WHERE subject_id = :'a1' "
                               "ORDER BY scanned_at LIMIT 1", s2)
        status, _, text = self.staff.get(f"/admin/alarms/{alarm}/")
        self.assertEqual(status, 200)
        self.assertIn("Mark resolved", text)
        status, _, text = self.post(self.staff, f"/admin/alarms/{alarm}/resolve",
                                    {"notes": "bad \x01 byte"})
        self.assertEqual(status, 400)
        self.assertIn('id="f-notes-error"', text)
        self.assertIn(">bad \x01 byte</textarea>", text)  # kept to fix
        self.assertIsNone(self.pg.scalar("SELECT resolved_at FROM alarms WHERE id = :'a1'",
                                         alarm))
        status, r, _ = self.post(self.staff, f"/admin/alarms/{alarm}/resolve",
                                 {"notes": "Found at the park"})
        self.assertEqual(r.getheader("Location"), f"/admin/alarms/{alarm}/?notice=resolved")
        self.assertEqual(self.pg.scalar("SELECT resolution_notes FROM alarms WHERE id = :'a1'",
                                        alarm), "Found at the park")
        self.assert_audited("alarm.resolve", "alarm", alarm, "resolved: false -> true")
        status, r, _ = self.post(self.staff, f"/admin/alarms/{alarm}/resolve", {"notes": ""})
        self.assertEqual(r.getheader("Location"), f"/admin/alarms/{alarm}/?notice=already")

    # ---- templates and settings ----

    def test_templates_put_replace_delete_and_the_code_template(self):
        status, _, text = self.staff.get("/admin/templates/")
        self.assertEqual(status, 200)
        # nothing stored: every event shows its default
        self.assertEqual(len(re.findall(r'class="row default"', text)), 4)
        self.assertIn("qr_template_on_m", text)

        bad = {"event": "alert", "channel": "What's App", "name": "Bad Name",
               "language": "en US", "parameters": "name,name", "approved": "1"}
        status, _, text = self.post(self.staff, "/admin/templates/", bad,
                                    page="/admin/templates/")
        self.assertEqual(status, 400)
        for field in ("channel", "name", "language", "parameters"):
            self.assertIn(f'id="f-{field}-error"', text)
        self.assertIn('value="What&#39;s App"', text.replace("&#x27;", "&#39;"))
        self.assertIn('value="Bad Name"', text)
        status, _, text = self.post(self.staff, "/admin/templates/", dict(
            bad, channel="", name="ok", language="en", parameters="name,map"),
            page="/admin/templates/")
        self.assertEqual(status, 400)
        self.assertIn('id="f-parameters-error"', text)
        status, _, _ = self.post(self.staff, "/admin/templates/", dict(bad, event="sms"),
                                 page="/admin/templates/")
        self.assertEqual(status, 400)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM message_templates"), "0")
        self.assertEqual([r for r in self.audit() if r["action"].startswith("template")], [])

        good = {"event": "alert", "channel": "whatsapp", "name": "qr_alert_v2",
                "language": "es_MX", "parameters": "name, time,link", "approved": "1"}
        status, r, _ = self.post(self.staff, "/admin/templates/", good,
                                 page="/admin/templates/")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/admin/templates/?notice=saved")
        self.assertEqual(self.pg.query(
            "SELECT event, channel, name, language, parameters, approved, updated_by "
            "FROM message_templates"),
            [["alert", "whatsapp", "qr_alert_v2", "es_MX", "name,time,link", "t",
              self.staff_id]])
        self.assert_audited("template.update", "template", "alert/whatsapp",
                            "template alert/whatsapp: new: name qr_alert_v2, language "
                            "es_MX, parameters name,time,link, approved true")
        self.post(self.staff, "/admin/templates/", dict(good, name="qr_alert_v3", approved=""),
                  page="/admin/templates/")
        self.assert_audited("template.update", "template", "alert/whatsapp",
                            "template alert/whatsapp: name qr_alert_v2 -> qr_alert_v3, "
                            "approved true -> false")
        status, _, text = self.staff.get("/admin/templates/")
        self.assertIn("qr_alert_v3", text)
        self.assertIn("not approved", text)
        # the every-channel row for alert still falls back to keryu.conf
        self.assertEqual(len(re.findall(r'class="row default"', text)), 4)

        # the code message uses an approved "code" template, read at each send
        self.post(self.staff, "/admin/templates/", {
            "event": "code", "channel": "", "name": "staff_code", "language": "pt_BR",
            "parameters": "code", "approved": "1"}, page="/admin/templates/")
        self.assert_audited("template.update", "template", "code/*")
        status, _, text = self.staff.get("/admin/templates/")
        self.assertEqual(len(re.findall(r'class="row default"', text)), 3)
        n = len(self.chan.requests())
        self.ask_reset()
        req = wait_for(lambda: self.chan.requests()[n:], 10, what="the code request")[-1]
        self.assertEqual((req["template"], req["language"]), ("staff_code", "pt_BR"))
        self.assertRegex(req["params"][0], r"^\d{6}$")

        # delete: the default applies again
        status, r, _ = self.post(self.staff, "/admin/templates/delete",
                                 {"event": "code", "channel": ""}, page="/admin/templates/")
        self.assertEqual(r.getheader("Location"), "/admin/templates/?notice=deleted")
        self.assert_audited("template.delete", "template", "code/*",
                            "template code/*: name staff_code -> none (default)")
        status, r, _ = self.post(self.staff, "/admin/templates/delete",
                                 {"event": "code", "channel": ""}, page="/admin/templates/")
        self.assertEqual(r.getheader("Location"), "/admin/templates/?notice=gone")
        self.assertEqual(self.post(self.staff, "/admin/templates/delete",
                                   {"event": "nope", "channel": ""})[0], 400)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM message_templates"), "1")
        # (the last code is less than a minute old: move it back)
        self.pg.query("UPDATE one_time_codes SET created_at = now() - interval '2 minutes'")
        n = len(self.chan.requests())
        self.ask_reset()
        req = wait_for(lambda: self.chan.requests()[n:], 10, what="the code request")[-1]
        self.assertEqual(req["template"], "keryu_verify_code")

    def ask_reset(self):
        """A password reset code for ana, sent on the verify channel."""
        b = Browser(self.http_port)
        status, _, text = b.request("POST", "/account/reset", {
            "csrf": b.csrf("/account/reset"), "email": "ana@example.org"})
        self.assertEqual(status, 200, text)

    def test_settings_show_conf_values_and_save_reset_and_refuse(self):
        status, _, text = self.staff.get("/admin/settings/")
        self.assertEqual(status, 200)
        self.assertIn("keryu.conf: 45.", text)      # cooldown_s from the environment
        self.assertIn("keryu.conf: testchan.", text)  # channel
        self.assertIn("keryu.conf: 120.", text)     # escalate_after_s default
        fields = {"default_channel": "", "fallback_channel": "", "cooldown_s": "",
                  "escalate_after_s": "", "ack_timeout_s": "", "finder_retention_days": "",
                  "alarm_retention_days": "", "audit_retention_days": ""}

        for key, value in [("cooldown_s", "86401"), ("cooldown_s", "-1"),
                           ("ack_timeout_s", "ten"), ("default_channel", "Whats App"),
                           ("audit_retention_days", "36501")]:
            with self.subTest(key=key, value=value):
                status, _, text = self.post(self.staff, "/admin/settings/",
                                            dict(fields, escalate_after_s="30",
                                                 **{key: value}),
                                            page="/admin/settings/")
                self.assertEqual(status, 400)
                self.assertIn(f'id="f-{key}-error"', text)
                self.assertIn(f'value="{value.replace(" ", " ")}"', text)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM settings"), "0")

        status, r, _ = self.post(self.staff, "/admin/settings/",
                                 dict(fields, cooldown_s=" 90 ", fallback_channel="twilio"),
                                 page="/admin/settings/")
        self.assertEqual(r.getheader("Location"), "/admin/settings/?notice=saved")
        self.assertEqual(self.pg.query("SELECT key, value, updated_by FROM settings ORDER BY key"),
                         [["cooldown_s", "90", self.staff_id],
                          ["fallback_channel", "twilio", self.staff_id]])
        self.assert_audited("setting.update", "setting", "cooldown_s",
                            "cooldown_s: (keryu.conf) -> 90")
        self.assert_audited("setting.update", "setting", "fallback_channel",
                            "fallback_channel: (keryu.conf) -> twilio")
        status, _, text = self.staff.get("/admin/settings/")
        self.assertIn('value="90"', text)
        # unchanged fields change nothing; "" resets to keryu.conf
        n = len(self.audit())
        status, r, _ = self.post(self.staff, "/admin/settings/",
                                 dict(fields, cooldown_s="90", fallback_channel="twilio"),
                                 page="/admin/settings/")
        self.assertEqual(r.getheader("Location"), "/admin/settings/?notice=unchanged")
        self.assertEqual(len(self.audit()), n)
        self.post(self.staff, "/admin/settings/", dict(fields, fallback_channel="twilio"),
                  page="/admin/settings/")
        self.assertEqual(self.pg.query("SELECT key FROM settings"), [["fallback_channel"]])
        self.assert_audited("setting.update", "setting", "cooldown_s",
                            "cooldown_s: 90 -> (keryu.conf)")

    # ---- deliveries ----

    def test_failed_deliveries_retry_now(self):
        tag = self.seed()
        self.broker.publish(f"keryu/v1/scan/{tag}", self.scan_event(tag))
        nid = wait_for(lambda: self.pg.scalar(
            "SELECT id FROM notifications WHERE status = 'FAILED' AND purpose = 'alarm'"), 15,
            what="a FAILED notification")
        code = wait_for(lambda: self.pg.scalar(
            "SELECT id FROM notifications WHERE status = 'FAILED' AND purpose = 'code'"), 15,
            what="the sign-up's code FAILED")
        status, _, text = self.staff.get("/admin/deliveries/")
        self.assertEqual(status, 200)
        self.assertIn(f'data-notification="{nid}"', text)
        self.assertIn("131026", text)
        self.assertIn("testchan failed (configured outcome)", text)
        self.assertIn("Ana María Pérez", text)
        self.assertIn(f'action="/admin/deliveries/{nid}/retry"', text)
        # the failed code of the sign-up is listed, with no button: a code
        # cannot be sent again
        self.assertIn(f'data-notification="{code}"', text)
        self.assertNotIn(f'action="/admin/deliveries/{code}/retry"', text)
        self.assertIn("A code cannot be sent again", text)
        status, r, _ = self.post(self.staff, f"/admin/deliveries/{code}/retry",
                                 page="/admin/deliveries/")
        self.assertEqual(r.getheader("Location"), "/admin/deliveries/?notice=conflict")

        n = len(self.chan.requests())
        status, r, _ = self.post(self.staff, f"/admin/deliveries/{nid}/retry",
                                 {"back": "/admin/deliveries/?page=1"},
                                 page="/admin/deliveries/")
        self.assertEqual(r.getheader("Location"), "/admin/deliveries/?page=1&notice=retried")
        new = self.pg.scalar("SELECT retried_as FROM notifications WHERE id = :'a1'", nid)
        self.assertRegex(new, UUID_RE)
        row = self.assert_audited("notification.retry", "notification", nid)
        self.assertEqual(row["summary"], f"status: failed -> retried as {new}")
        # the alarms module sends the retry in its next round
        wait_for(lambda: self.chan.requests(new), 15, what="the retry to reach the channel")
        self.assertGreater(len(self.chan.requests()), n)
        status, _, text = self.staff.get("/admin/deliveries/")
        self.assertIn(f"Retried as {new}", text)
        # the alarm's timeline (drawn by the custodian's page's code) says so
        alarm = self.pg.scalar("SELECT alarm_id FROM notifications WHERE id = :'a1'", nid)
        self.assertEqual(self.staff.get(f"/admin/alarms/{alarm}/")[2].count("Retried by staff"), 1)
        # retried already: a clear message, nothing new
        count = self.pg.scalar("SELECT count(*) FROM notifications")
        status, r, _ = self.post(self.staff, f"/admin/deliveries/{nid}/retry",
                                 page="/admin/deliveries/")
        self.assertEqual(r.getheader("Location"), "/admin/deliveries/?notice=conflict")
        self.assertIn("already retried", self.staff.get(r.getheader("Location"))[2])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM notifications"), count)

    # ---- the audit log and logins ----

    def test_logins_are_audited_and_the_log_filters(self):
        rows = self.audit()
        self.assertEqual([(r["action"], r["actor_id"], r["target_id"]) for r in rows],
                         [("login", self.staff_id, self.staff_id)])
        b = Browser(self.http_port)
        status, _, _ = b.request("POST", "/account/login", {
            "csrf": b.csrf("/account/login"), "email": " Ana@Example.ORG ",
            "password": "wrong password!!"})
        self.assertEqual(status, 400)
        status, _, _ = b.request("POST", "/account/login", {
            "csrf": b.csrf("/account/login"), "email": "Nobody@Example.org",
            "password": "whatever password"})
        failed = [r for r in self.audit() if r["action"] == "login.failed"]
        self.assertEqual([(r["actor_id"], r["actor_email"], r["target_id"], r["summary"])
                          for r in failed],
                         [("", "ana@example.org", self.cust_id, "wrong password"),
                          ("", "nobody@example.org", "", "unknown email")])
        everything = json.dumps(self.audit())
        self.assertNotIn("wrong password!!", everything)
        self.assertNotIn("whatever password", everything)
        wait_for(lambda: [p for t, p in self.audit_bus.on("keryu/v1/audit")
                          if p["action"] == "login.failed"], 10, what="login.failed on the bus")

        ana = self.login("ana@example.org", PASSWORD)
        self.assert_audited("login", "custodian", self.cust_id, actor=self.cust_id)
        status, _, _ = self.post(ana, "/account/password", {
            "current": PASSWORD, "password": "another password 1",
            "password2": "another password 1"}, page="/account/password")
        self.assertEqual(status, 303)
        self.assert_audited("password.change", "custodian", self.cust_id, actor=self.cust_id)
        status, r, _ = self.post(ana, "/account/logout", page="/account/")
        self.assertEqual(status, 303)
        self.assert_audited("logout", "custodian", self.cust_id, actor=self.cust_id)

        # the viewer: filters, paging, escaping, bad filters
        status, _, text = self.staff.get("/admin/audit/")
        self.assertEqual(status, 200)
        self.assertIn("6 entries", text)
        self.assertIn('data-action="login.failed"', text)
        status, _, text = self.staff.get("/admin/audit/?action=login")
        self.assertIn("4 entries", text)
        status, _, text = self.staff.get("/admin/audit/?action=login.failed")
        self.assertIn("2 entries", text)
        self.assertIn("nobody@example.org", text)
        status, _, text = self.staff.get("/admin/audit/?actor=ana%40")
        self.assertIn("4 entries", text)  # the failed login typed her email too
        status, _, text = self.staff.get(f"/admin/audit/?actor={self.cust_id}")
        self.assertIn("3 entries", text)
        status, _, text = self.staff.get(f"/admin/audit/?target={self.cust_id}")
        self.assertIn("4 entries", text)
        today = self.pg.scalar("SELECT (now() AT TIME ZONE 'UTC')::date")
        status, _, text = self.staff.get(f"/admin/audit/?from={today}&to={today}")
        self.assertIn("6 entries", text)
        status, _, text = self.staff.get("/admin/audit/?to=2020-01-01")
        self.assertIn("0 entries", text)
        for bad in ("action=Login", "action=a%20b", "from=2026-13-01",
                    "from=2026-02-02&to=2026-02-01", "page=0"):
            with self.subTest(bad=bad):
                self.assertEqual(self.staff.get(f"/admin/audit/?{bad}")[0], 400)
        for i in range(30):
            self.pg.query("INSERT INTO audit_log (source, action, summary) "
                          "VALUES ('system', 'purge', :'a1')", f"<b>{i}</b>")
        status, _, text = self.staff.get("/admin/audit/?action=purge&page=2")
        self.assertEqual(status, 200)
        self.assertEqual(len(re.findall(r'data-action="purge"', text)), 5)
        self.assertIn("&lt;b&gt;4&lt;/b&gt;", text)
        self.assertNotIn("<b>4</b>", text)
        self.assertIn('rel="prev" href="/admin/audit/?action=purge&amp;page=1"', text)

        # the index counts
        status, _, text = self.staff.get("/admin/")
        self.assertRegex(text, r"<strong>\d+</strong> audit entries")


if __name__ == "__main__":
    main()
