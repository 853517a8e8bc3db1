"""Delivery end to end (issue 4): retries, unknown outcomes settled by the
status webhook, forward-only statuses, escalation to the next contact, the
acknowledgement link, a test-only channel module the alarms module knows
nothing about, and a keryud killed with -9 while requests are queued.

Real processes throughout: PostgreSQL, mosquitto, keryud, the fake Meta API
(tests/fakes/fake_whatsapp) that sends signed status webhooks back, and the
testchan module (tests/channels/testchan)."""
import json
import os
import re
import signal
import time
import urllib.parse

from harness import FakeTwilio, FakeWhatsApp, KeryuTest, http_get, main, wait_for
from test_whatsapp_flow import signature, status_body

APP_SECRET = "meta-app-secret-42"
PHONE_ID = "106540352242922"
FINAL = ("SENT", "DELIVERED", "READ", "FAILED")


class Delivery(KeryuTest):
    def start_keryud(self, modules="storage,qr,http,alarms,whatsapp", log="keryud.log",
                     **env):
        base = dict(
            KERYU_KERNEL_SECRET_KEY="integration-secret-key",
            KERYU_ALARMS_CHANNEL="whatsapp",
            KERYU_ALARMS_TICK_MS="100",
            KERYU_ALARMS_LEASE_S="3",
            KERYU_ALARMS_ESCALATE_AFTER_S="0",
            KERYU_ALARMS_ACK_TIMEOUT_S="0",
            KERYU_ALARMS_COOLDOWN_S="0",
            KERYU_WHATSAPP_API_VERSION="v23.0",
            KERYU_WHATSAPP_PHONE_NUMBER_ID=PHONE_ID,
            KERYU_WHATSAPP_TOKEN="test-token-123",
            KERYU_WHATSAPP_APP_SECRET=APP_SECRET,
            KERYU_WHATSAPP_VERIFY_TOKEN="verify-me-7",
            KERYU_WHATSAPP_RETRY_BASE_MS="50",
            KERYU_WHATSAPP_TIMEOUT_MS="1000",
        )
        if hasattr(self, "fake"):
            base["KERYU_WHATSAPP_API_BASE"] = self.fake.base
        base.update(env)
        return self.keryud("--modules", modules, env=self.env(**base), log=log)

    def fake_wa(self, *args):
        hook = f"http://127.0.0.1:{self.http_port}/webhooks/whatsapp"
        self.fake = FakeWhatsApp(self.work, "--webhook-url", hook, "--app-secret", APP_SECRET,
                                 *args)
        self.addCleanup(self.fake.stop)

    def subject_id(self, tag):
        return self.pg.scalar("SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1'", tag)

    def add_contact(self, tag, phone, channel, position, name="Second Contact"):
        self.pg.query(
            "INSERT INTO contacts (subject_id, name, phone_e164, channel, position, verified_at)"
            " VALUES (:'a1', :'a2', :'a3', :'a4', :'a5', now())",
            self.subject_id(tag), name, phone, channel, str(position))

    def scan(self, tag):
        status, _, _ = http_get(self.scan_url(tag))
        self.assertEqual(status, 200)

    def notifications(self):
        return self.pg.query(
            "SELECT id, status, attempts, last_error_code, channel, recipient, step"
            " FROM notifications ORDER BY created_at, step")

    def wait_status(self, *statuses, n=1, timeout=15):
        return wait_for(lambda: (lambda rows: rows if len(rows) >= n and
                                 all(r[1] in statuses for r in rows) else None)(
                            self.notifications()), timeout,
                        what=f"{n} notification(s) in {statuses}: {self.notifications()}")

    def timeline(self, nid):
        return [r[0] for r in self.pg.query(
            "SELECT status FROM notification_events WHERE notification_id = :'a1'"
            " ORDER BY id", nid)]

    def sends(self, outcome=None):
        return [r for r in self.fake.requests()
                if outcome is None or r.get("outcome") == outcome]

    # ---- provider answers ----

    def test_success_is_delivered_by_the_signed_webhook(self):
        self.fake_wa("--webhook-statuses", "sent,delivered,read")
        self.migrate()
        tag = self.seed()
        self.start_keryud()
        self.scan(tag)
        rows = self.wait_status("READ")
        self.assertEqual(rows[0][2], "1")
        self.assertEqual(len(self.sends()), 1)
        self.assertEqual(self.pg.scalar("SELECT notification_status FROM alarms"), "READ")

    def test_permanent_error_fails_at_once(self):
        self.fake_wa("--mode", "error:131026")
        self.migrate()
        tag = self.seed()
        self.start_keryud()
        self.scan(tag)
        rows = self.wait_status("FAILED")
        self.assertEqual(rows[0][2:4], ["1", "131026"])
        time.sleep(0.5)  # no retry comes
        self.assertEqual(len(self.sends()), 1)
        self.assertEqual(self.timeline(rows[0][0]), ["QUEUED", "FAILED"])

    def test_transient_twice_then_success(self):
        self.fake_wa("--mode", "seq:error:131000,http:503,ok", "--webhook-statuses", "sent")
        self.migrate()
        tag = self.seed()
        self.start_keryud()
        self.scan(tag)
        rows = self.wait_status("SENT")
        self.assertEqual(rows[0][2], "3")
        self.assertEqual(len(self.sends()), 3)
        tl = self.timeline(rows[0][0])
        self.assertEqual(tl[0], "QUEUED")
        self.assertEqual(tl.count("ERROR"), 2)
        self.assertEqual(tl[-1], "SENT")

    def test_three_transient_failures_fail_after_three(self):
        self.fake_wa("--mode", "error:130429")
        self.migrate()
        tag = self.seed()
        self.start_keryud()
        self.scan(tag)
        rows = self.wait_status("FAILED")
        self.assertEqual(rows[0][2:4], ["3", "130429"])
        time.sleep(4)  # past the lease: nothing re-drives a FAILED one
        self.assertEqual(len(self.sends()), 3)

    def test_timeout_is_unknown_then_settled_by_the_webhook(self):
        # the fake holds the answer past our 1 s timeout, then sends it
        # anyway and reports it by webhook: the attempt must not be repeated
        self.fake_wa("--mode", "timeout", "--timeout-hold-ms", "2000",
                     "--webhook-statuses", "sent,delivered")
        self.migrate()
        tag = self.seed()
        self.start_keryud(KERYU_ALARMS_LEASE_S="8")
        self.scan(tag)
        rows = self.wait_status("ERROR")
        self.assertEqual(rows[0][3], "timeout")
        rows = self.wait_status("DELIVERED", timeout=20)
        self.assertEqual(rows[0][2], "1")
        time.sleep(1)
        self.assertEqual(len(self.sends()), 1)

    def test_statuses_only_move_forward(self):
        self.fake_wa("--webhook-statuses", "sent")
        self.migrate()
        tag = self.seed()
        self.start_keryud()
        self.scan(tag)
        rows = self.wait_status("SENT")
        nid = rows[0][0]
        wamid = self.pg.scalar("SELECT provider_message_id FROM notifications")
        url = f"http://127.0.0.1:{self.http_port}/webhooks/whatsapp"

        def post(*statuses, secret=APP_SECRET):
            body = status_body(wamid, nid, *statuses)
            return http_get(url, method="POST", data=body, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(body, secret)})[0]

        # Meta's hub verification, with [whatsapp] verify_token
        hub = f"{url}?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=1158201444"
        status, _, body = http_get(hub % "verify-me-7")
        self.assertEqual((status, body), (200, b"1158201444"))
        self.assertEqual(http_get(hub % "wrong")[0], 403)

        self.assertEqual(post("read", secret="wrong"), 401)
        self.assertEqual(post("read"), 200)
        self.wait_status("READ")
        events = len(self.timeline(nid))
        # late and repeated statuses: recorded at most once, never backwards
        self.assertEqual(post("delivered"), 200)
        self.assertEqual(post("sent"), 200)
        self.assertEqual(post("read"), 200)
        time.sleep(1)
        self.assertEqual(self.notifications()[0][1], "READ")
        tl = self.timeline(nid)
        self.assertLessEqual(len(tl), events + 2)
        self.assertEqual(tl.count("READ"), 1)

    # ---- escalation and acknowledgement ----

    def chan_env(self, outcome):
        self.chan_record = os.path.join(self.work, "testchan.jsonl")
        return dict(KERYU_TESTCHAN_RECORD=self.chan_record, KERYU_TESTCHAN_OUTCOME=outcome)

    def chan_requests(self):
        if not os.path.exists(self.chan_record):
            return []
        with open(self.chan_record) as f:
            return [json.loads(l) for l in f if l.strip()]

    def test_escalates_to_the_next_contact_when_not_delivered(self):
        # the custodian's channel is the test-only module, which answers
        # "sent" and never "delivered"; the second contact is on the log
        # channel, which reports delivered
        self.migrate()
        tag = self.seed(phone="+16505550001")
        self.add_contact(tag, "+16505550002", "log", 1)
        self.start_keryud(modules="storage,qr,http,alarms,log,testchan",
                          KERYU_ALARMS_CHANNEL="testchan", KERYU_ALARMS_ESCALATE_AFTER_S="2",
                          **self.chan_env("sent"))
        self.scan(tag)
        rows = self.wait_status("SENT", "DELIVERED", n=2, timeout=20)
        self.assertEqual([r[4:7] for r in rows],
                         [["testchan", "+16505550001", "0"], ["log", "+16505550002", "1"]])
        steps = self.pg.query("SELECT kind, detail FROM alarm_events ORDER BY at")
        self.assertEqual(steps[0][0], "ESCALATED")
        self.assertIn("not delivered", steps[0][1])
        reqs = self.chan_requests()
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["to"], "+16505550001")

    def test_acknowledgement_stops_escalation(self):
        self.migrate()
        tag = self.seed(phone="+16505550001")
        self.add_contact(tag, "+16505550002", "log", 1)
        self.start_keryud(modules="storage,qr,http,alarms,log,testchan",
                          KERYU_ALARMS_CHANNEL="testchan", KERYU_ALARMS_ESCALATE_AFTER_S="3",
                          **self.chan_env("sent"))
        self.scan(tag)
        req = wait_for(self.chan_requests, 5, what="the test channel's request")[0]
        ack = req["ack_url"]
        self.assertTrue(ack.startswith(f"http://127.0.0.1:{self.http_port}/ack/"), ack)

        # opening the link asks; it does not acknowledge by itself (link
        # previewers fetch links too)
        status, _, body = http_get(ack)
        self.assertEqual(status, 200)
        self.assertIsNone(self.pg.scalar("SELECT acknowledged_at FROM alarms"))
        status, _, body = http_get(ack, method="POST", data=b"",
                                   headers={"Content-Type":
                                            "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        self.assertIsNotNone(self.pg.scalar("SELECT acknowledged_at FROM alarms"))

        time.sleep(5)  # past the escalation time: nobody else is alerted
        self.assertEqual(len(self.notifications()), 1)
        kinds = [r[0] for r in self.pg.query("SELECT kind FROM alarm_events ORDER BY at")]
        self.assertEqual(kinds, ["ACKNOWLEDGED"])

        # a tampered or expired link is refused and changes nothing
        bad = ack[:-1] + ("A" if ack[-1] != "A" else "B")
        self.assertEqual(http_get(bad, method="POST", data=b"")[0], 404)

    def test_failed_channel_falls_back_then_escalates(self):
        self.migrate()
        tag = self.seed(phone="+16505550001")
        self.add_contact(tag, "+16505550002", "log", 1)
        self.start_keryud(modules="storage,qr,http,alarms,log,testchan",
                          KERYU_ALARMS_CHANNEL="testchan", KERYU_ALARMS_FALLBACK_CHANNEL="log",
                          KERYU_ALARMS_ESCALATE_AFTER_S="60",
                          **self.chan_env("failed:131026"))
        self.scan(tag)
        rows = self.wait_status("FAILED", "DELIVERED", n=2, timeout=10)
        self.assertEqual([(r[1], r[4], r[5]) for r in rows],
                         [("FAILED", "testchan", "+16505550001"),
                          ("DELIVERED", "log", "+16505550001")])
        kinds = [r[0] for r in self.pg.query("SELECT kind FROM alarm_events ORDER BY at")]
        self.assertEqual(kinds, ["FALLBACK"])

    # ---- crash safety ----

    def test_kill_9_with_requests_queued_loses_nothing_and_sends_once(self):
        # slow provider, two requests on the wire at a time: most of the 12
        # alerts are still queued in the worker when it is killed
        self.fake_wa("--delay-ms", "400", "--webhook-statuses", "sent,delivered")
        self.migrate()
        tags = [self.seed(phone=f"+1650555{1000 + i}") for i in range(12)]
        slow = dict(KERYU_WHATSAPP_MAX_IN_FLIGHT="2", KERYU_WHATSAPP_TIMEOUT_MS="5000")
        kd = self.start_keryud(**slow)
        for t in tags:
            self.scan(t)
        wait_for(lambda: len(self.sends()) >= 3, 10, what="some sends on the wire")
        kd.stop(signal.SIGKILL)
        before = len(self.sends())
        self.assertLess(before, 12)  # the kill left requests unsent
        self.start_keryud(log="keryud2.log", **slow)
        rows = wait_for(lambda: (lambda r: r if len(r) == 12 and all(x[1] in FINAL for x in r)
                                 else None)(self.notifications()), 60,
                        what="every notification final")
        time.sleep(4)  # past a lease: a late re-drive would show up now
        ok = {}
        for r in self.sends():
            if r.get("outcome") == "ok":
                ok[r["notification_id"]] = ok.get(r["notification_id"], 0) + 1
        for nid, status, *_ in self.notifications():
            self.assertIn(status, ("SENT", "DELIVERED"), nid)
            self.assertEqual(ok.get(nid), 1, f"successful sends of {nid}")

    # ---- Twilio: WhatsApp and SMS, with signed status callbacks ----

    def test_twilio_whatsapp_then_sms_delivered_by_signed_callbacks(self):
        tw = FakeTwilio(self.work, account_sid="AC" + "1" * 32, auth_token="tw-token",
                        callback_statuses="sent,delivered")
        self.addCleanup(tw.stop)
        self.migrate()
        tag = self.seed(phone="+16505550001")
        self.add_contact(tag, "+16505550002", "sms", 1)
        # the custodian by Twilio WhatsApp; nobody acknowledges within 1 s,
        # so the SMS contact follows
        self.start_keryud(modules="storage,qr,http,alarms,twilio",
                          KERYU_ALARMS_CHANNEL="twilio", KERYU_ALARMS_ACK_TIMEOUT_S="1",
                          KERYU_TWILIO_API_BASE=tw.base,
                          KERYU_TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                          KERYU_TWILIO_AUTH_TOKEN="tw-token",
                          KERYU_TWILIO_FROM="+15550001111",
                          KERYU_TWILIO_CONTENT_SID="HX" + "a" * 32)
        self.scan(tag)
        rows = self.wait_status("DELIVERED", n=2, timeout=20)
        self.assertEqual([(r[4], r[5]) for r in rows],
                         [("twilio", "+16505550001"), ("sms", "+16505550002")])
        kinds = [r[0] for r in self.pg.query("SELECT kind FROM alarm_events ORDER BY at")]
        self.assertEqual(kinds[0], "ESCALATED")
        reqs = {r["channel"]: r for r in tw.requests()}
        self.assertEqual(reqs["sms"]["to"], "+16505550002")
        self.assertIn("/ack/", reqs["sms"]["body"])  # the SMS carries the link
        self.assertEqual(reqs["whatsapp"]["to"], "whatsapp:+16505550001")
        self.assertEqual(reqs["whatsapp"]["content_sid"], "HX" + "a" * 32)
        sms_sid = self.pg.scalar(
            "SELECT provider_message_id FROM notifications WHERE channel = 'sms'")
        self.assertTrue(sms_sid.startswith("SM"), sms_sid)

        # a callback with a bad signature is refused and changes nothing
        nid = [r[0] for r in rows if r[4] == "sms"][0]
        url = f"http://127.0.0.1:{self.http_port}/webhooks/twilio/status?n={nid}"
        form = urllib.parse.urlencode({"MessageSid": sms_sid, "MessageStatus": "failed",
                                       "ErrorCode": "30003"}).encode()
        status, _, _ = http_get(url, method="POST", data=form, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
        self.assertEqual(status, 403)
        time.sleep(0.5)
        self.assertEqual([r[1] for r in self.notifications()], ["DELIVERED", "DELIVERED"])


if __name__ == "__main__":
    main()
