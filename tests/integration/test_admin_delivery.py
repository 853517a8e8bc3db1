"""What staff change in the database reaches the delivery path of a running
keryud (issue 6): message templates, settings (cooldown, default and
fallback channels, retention) and "retry now" on a failed delivery.

Real processes: PostgreSQL, mosquitto, keryud with storage, qr, http,
alarms, log and the test-only channel module (tests/channels/testchan),
which records every delivery request it gets. Rows are written with SQL,
as the admin pages would write them; the retry goes through the staff
page."""
import json
import os
import re
import subprocess
import time
import uuid

from harness import Browser, KeryuTest, TestChan, main, wait_for

MODULES = "storage,qr,http,alarms,log,testchan"
NAME = "Ana María Pérez"
TICK_MS = 100
# several due rounds: what staff changed has been read by then
SETTLE_S = 10 * TICK_MS / 1000


class AdminDelivery(KeryuTest):
    def start(self, outcome="delivered", log="keryud.log", **env):
        self.chan = TestChan(self.work, outcome=outcome)
        base = dict(KERYU_KERNEL_SECRET_KEY="integration-secret-key",
                    KERYU_ALARMS_CHANNEL="testchan",
                    KERYU_ALARMS_TICK_MS=str(TICK_MS),
                    KERYU_ALARMS_LEASE_S="30",
                    KERYU_ALARMS_ESCALATE_AFTER_S="0",
                    KERYU_ALARMS_ACK_TIMEOUT_S="0",
                    KERYU_ALARMS_COOLDOWN_S="0",
                    **self.chan.env())
        base.update(env)
        self.kd = self.keryud("--modules", MODULES, env=self.env(**base), log=log)
        return self.kd

    def scan(self, tag, location=None):
        ev = json.loads(self.scan_event(tag))
        if location:
            ev["location"] = location
        self.broker.publish(f"keryu/v1/scan/{tag}", json.dumps(ev))
        return ev["event_id"]

    def scan_request(self, tag, **kw):
        """Scans and returns the one delivery request the scan caused."""
        before = len(self.chan.requests())
        self.scan(tag, **kw)
        reqs = wait_for(lambda: (lambda r: r if len(r) > before else None)(
            self.chan.requests()), 10, what="the alert's delivery request")
        time.sleep(0.2)  # nothing else comes of it
        self.assertEqual(len(self.chan.requests()), before + 1)
        return reqs[before]

    def template(self, event, channel, name, language, parameters, approved=True):
        self.pg.query(
            "INSERT INTO message_templates (event, channel, name, language, parameters,"
            " approved) VALUES (:'a1', :'a2', :'a3', :'a4', :'a5', :'a6')"
            " ON CONFLICT (event, channel) DO UPDATE SET name = EXCLUDED.name,"
            " language = EXCLUDED.language, parameters = EXCLUDED.parameters,"
            " approved = EXCLUDED.approved",
            event, channel, name, language, parameters, "true" if approved else "false")
        time.sleep(SETTLE_S)

    def setting(self, key, value):
        if value is None:
            self.pg.query("DELETE FROM settings WHERE key = :'a1'", key)
        else:
            self.pg.query("INSERT INTO settings (key, value) VALUES (:'a1', :'a2')"
                          " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, value)
        time.sleep(SETTLE_S)

    def assert_config_alert(self, req):
        """keryu.conf's alert, exactly as before templates were stored."""
        self.assertEqual(req["template"], "qr_template_on_m")
        self.assertEqual(req["language"], "en_US")
        self.assertEqual(len(req["params"]), 2)
        self.assertEqual(req["params"][0], NAME)
        self.assertRegex(req["params"][1], r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
        self.assertTrue(req["ack_url"].startswith(f"http://127.0.0.1:{self.http_port}/ack/"))

    def assert_same_keryud(self):
        self.assertIsNone(self.kd.proc.poll())
        self.assertEqual(len(re.findall(r"kernel\.started", self.kd.text())), 1)

    # ---- templates ----

    def test_alert_template_changes_apply_without_restart(self):
        self.migrate()
        tag = self.seed(name=NAME)
        self.start()
        self.assert_config_alert(self.scan_request(tag))

        # an approved row for the channel: its name, language, and the
        # variables in the row's order
        self.template("alert", "testchan", "qr_alert_v2", "es_ES", "link,time,name")
        req = self.scan_request(tag)
        self.assertEqual(req["template"], "qr_alert_v2")
        self.assertEqual(req["language"], "es_ES")
        self.assertEqual(len(req["params"]), 3)
        self.assertEqual(req["params"][0], req["ack_url"])
        self.assertTrue(req["ack_url"].startswith(f"http://127.0.0.1:{self.http_port}/ack/"))
        self.assertRegex(req["params"][1], r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
        self.assertEqual(req["params"][2], NAME)

        # the place, when the scan carried a location; "-" when not
        self.template("alert", "testchan", "qr_alert_v3", "pt_BR", "place,name")
        req = self.scan_request(tag, location={"lat": 40.4168, "lng": -3.7038,
                                               "accuracy_m": 12})
        self.assertEqual(req["template"], "qr_alert_v3")
        self.assertEqual(req["params"], [
            "https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800"
            "#map=17/40.416800/-3.703800", NAME])
        self.assertEqual(self.scan_request(tag)["params"], ["-", NAME])

        # not approved (waiting for the provider's review): keryu.conf's
        self.pg.query("UPDATE message_templates SET approved = false")
        time.sleep(SETTLE_S)
        self.assert_config_alert(self.scan_request(tag))

        # a row for every channel ("") serves a channel without its own
        self.pg.query("DELETE FROM message_templates")
        self.template("alert", "", "qr_alert_all", "de_DE", "name")
        req = self.scan_request(tag)
        self.assertEqual((req["template"], req["language"], req["params"]),
                         ("qr_alert_all", "de_DE", [NAME]))

        # deleted: keryu.conf's again
        self.pg.query("DELETE FROM message_templates")
        time.sleep(SETTLE_S)
        self.assert_config_alert(self.scan_request(tag))
        self.assert_same_keryud()

    def test_followup_templates_from_the_database(self):
        self.migrate()
        tag = self.seed(name=NAME)
        self.start()
        self.template("location", "testchan", "qr_where_v2", "fr_FR", "map,name")
        self.template("report", "", "qr_said_v2", "fr_FR", "words,name,situation")
        alert = self.scan_request(tag)
        alarm = self.pg.scalar("SELECT alarm_id FROM notifications WHERE id = :'a1'",
                               alert["notification_id"])
        # the finder's location and report, as the finder's page stores
        # them, announced on the bus as the http module does
        self.pg.query("UPDATE alarms SET latitude = 40.5, longitude = -3.25,"
                      " location = '40.500000,-3.250000', location_at = now(),"
                      " report_situation = 'injured', report_text = 'by the river',"
                      " report_at = now() WHERE id = :'a1'", alarm)
        for kind in ("location", "report"):
            self.broker.publish(f"keryu/v1/report/{alarm}", json.dumps({
                "v": 1, "event_id": str(uuid.uuid4()),
                "at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "alarm_id": alarm, "kind": kind}))
        reqs = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(self.chan.requests()),
                        10, what="two follow-ups")
        by_template = {r["template"]: r for r in reqs[1:]}
        self.assertEqual(by_template["qr_where_v2"]["params"], [
            "https://www.openstreetmap.org/?mlat=40.500000&mlon=-3.250000"
            "#map=17/40.500000/-3.250000", NAME])
        self.assertEqual(by_template["qr_where_v2"]["language"], "fr_FR")
        self.assertEqual(by_template["qr_said_v2"]["params"],
                         ["by the river", NAME, "is injured"])

    # ---- settings ----

    def notifications(self):
        return self.pg.query("SELECT id, channel, status FROM notifications"
                             " ORDER BY created_at")

    def test_cooldown_and_default_channel_settings_apply_live(self):
        self.migrate()
        tag = self.seed(name=NAME)
        self.start(KERYU_ALARMS_CHANNEL="log")
        # keryu.conf: cooldown 0 (every scan alerts), the custodian on log
        self.scan(tag)
        self.scan(tag)
        wait_for(lambda: len(self.notifications()) == 2, 10, what="two alerts")
        self.assertEqual({r[1] for r in self.notifications()}, {"log"})
        self.assertEqual(self.chan.requests(), [])

        # a cooldown: the next scan alerts, the one after joins it (a scan
        # joins the newest open alarm: close those of keryu.conf's time)
        self.pg.query("UPDATE alarms SET resolved_at = now()")
        self.setting("cooldown_s", "600")
        self.scan(tag)
        wait_for(lambda: len(self.notifications()) == 3, 10, what="a third alert")
        self.scan(tag)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "4", 10,
                 what="the fourth scan recorded")
        time.sleep(0.3)
        self.assertEqual(len(self.notifications()), 3)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"
                                        " WHERE joined_alarm_id IS NOT NULL"), "1")

        # the custodian's channel, from the database
        self.setting("cooldown_s", None)
        self.setting("default_channel", "testchan")
        req = self.scan_request(tag)
        self.assertEqual(req["to"], "+16505551234")
        self.assertEqual(self.notifications()[-1][1], "testchan")
        wait_for(lambda: self.notifications()[-1][2] == "DELIVERED", 10, what="delivered")

        # removed: keryu.conf's again
        self.setting("default_channel", None)
        self.scan(tag)
        wait_for(lambda: len(self.notifications()) == 5, 10, what="a fifth alert")
        self.assertEqual(self.notifications()[-1][1], "log")
        self.assertEqual(len(self.chan.requests()), 1)
        self.assert_same_keryud()

    def test_fallback_channel_setting_applies_live(self):
        self.migrate()
        tag = self.seed(name=NAME)
        self.start(outcome="failed:131026")  # keryu.conf: no fallback
        self.scan(tag)
        wait_for(lambda: [r[1:] for r in self.notifications()] == [["testchan", "FAILED"]],
                 10, what="the alert FAILED")
        time.sleep(0.5)
        self.assertEqual(len(self.notifications()), 1)

        self.setting("fallback_channel", "log")
        self.scan(tag)
        wait_for(lambda: [r[1:] for r in self.notifications()][1:] ==
                 [["testchan", "FAILED"], ["log", "DELIVERED"]], 10,
                 what="the failed alert followed on the fallback channel")
        self.assert_same_keryud()

    def test_retention_settings_purge_on_start(self):
        self.migrate()
        tag = self.seed(name=NAME)
        subj = self.pg.scalar("SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1'", tag)
        self.pg.query(
            "INSERT INTO alarms (event_id, subject_id, scanned_at)"
            " SELECT gen_random_uuid(), :'a1', now() - interval '1 day' * d"
            " FROM unnest(ARRAY[500, 401, 399, 1]) AS d;"
            "INSERT INTO audit_log (at, source, action)"
            " SELECT now() - interval '1 day' * d, 'system', 'test.entry'"
            " FROM unnest(ARRAY[900, 31, 29]) AS d;", subj)
        # keryu.conf keeps alarms for good; the database says 400 days,
        # and 30 for the audit log instead of keryu.conf's 365
        self.pg.query("INSERT INTO settings (key, value) VALUES"
                      " ('alarm_retention_days', '400'), ('audit_retention_days', '30')")
        self.start()
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "2", 10,
                 what="old alarms deleted")
        self.assertEqual(self.pg.scalar(
            "SELECT array_agg(round(extract(epoch FROM now() - scanned_at) / 86400)"
            " ORDER BY scanned_at) FROM alarms"), "{399,1}")
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM audit_log"
                                        " WHERE action = 'test.entry'") == "1", 10,
                 what="old audit entries deleted")
        self.kd.wait_log(r"alarms\.purge .*alarm_days=400 deleted=2 audit_days=30"
                         r" audit_deleted=2", 5)

    # ---- retry now ----

    def test_failed_delivery_retried_from_the_staff_page(self):
        self.migrate()
        tag = self.seed(name=NAME)
        self.start(outcome="failed:131026")
        first = self.scan_request(tag)
        nid = first["notification_id"]
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications WHERE id = :'a1'",
                                        nid) == "FAILED", 10, what="the alert FAILED")
        # the channel works again (a new keryud: testchan's outcome is
        # fixed per process)
        self.kd.stop()
        self.start(outcome="delivered", log="keryud2.log")

        pw = "staff password 123"
        r = subprocess.run(
            [os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryu"), "createsuperuser",
             "--email", "boss@example.org", "--phone", "+16505550100", "--password-stdin"],
            input=pw + "\n", env=self.env(), capture_output=True, text=True, cwd=self.work,
            timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        b = Browser(self.http_port)
        status, _, _ = b.submit("/account/login", "/account/login",
                                {"email": "boss@example.org", "password": pw})
        self.assertEqual(status, 303)
        status, _, page = b.get("/admin/deliveries/")
        self.assertEqual(status, 200, page)
        self.assertIn(f"/admin/deliveries/{nid}/retry", page)
        status, resp, _ = b.post(f"/admin/deliveries/{nid}/retry",
                                 csrf_page="/admin/deliveries/")
        self.assertEqual(status, 303)
        retry = self.pg.scalar("SELECT retried_as FROM notifications WHERE id = :'a1'", nid)
        self.assertTrue(retry)

        # the next due round publishes it; the channel delivers it
        req = wait_for(lambda: (lambda r: r[0] if r else None)(self.chan.requests(retry)), 10,
                       what="the retry's delivery request")
        self.assertEqual(req["to"], first["to"])
        self.assertEqual(req["template"], first["template"])
        self.assertEqual(req["params"][0], NAME)
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications WHERE id = :'a1'",
                                        retry) == "DELIVERED", 10, what="the retry delivered")
        self.assertEqual(self.pg.scalar("SELECT status FROM notifications WHERE id = :'a1'",
                                        nid), "FAILED")
        self.assertIn("RETRIED", [r[0] for r in self.pg.query(
            "SELECT kind FROM alarm_events ORDER BY at")])
        # once: a second retry of the same failure is refused
        status, resp, _ = b.post(f"/admin/deliveries/{nid}/retry",
                                 csrf_page="/admin/deliveries/")
        self.assertEqual(status, 303)
        self.assertIn("conflict", resp.getheader("Location"))
        time.sleep(0.5)
        self.assertEqual(len(self.chan.requests(retry)), 1)


if __name__ == "__main__":
    main()
