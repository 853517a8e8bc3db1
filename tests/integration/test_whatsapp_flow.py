"""A scan becomes an alarm and a WhatsApp template request, end to end."""
import hashlib
import hmac
import json
import time

from harness import FakeWhatsApp, KeryuTest, http_get, main, wait_for

MODULES = "storage,qr,http,alarms,whatsapp"
APP_SECRET = "meta-app-secret-42"


def status_body(wamid, nid, *statuses):
    """A Meta status webhook: one entry per status, as Meta may batch."""
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "statuses": [{"id": wamid, "status": st, "timestamp": "1751142888",
                          "recipient_id": "16505551234",
                          "biz_opaque_callback_data": nid}]}}]}
            for st in statuses]}).encode()


def signature(body, secret=APP_SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppFlow(KeryuTest):
    def start(self, *fake_args):
        self.fake = FakeWhatsApp(self.work, *fake_args)
        self.addCleanup(self.fake.stop)
        self.migrate()
        self.tag = self.seed(phone="+16505551234", name="Ana María Pérez")
        self.watch = self.broker.watch()
        self.addCleanup(self.watch.stop)
        self.keryud("--modules", MODULES, env=self.env(
            KERYU_ALARMS_CHANNEL="whatsapp",
            KERYU_WHATSAPP_API_BASE=self.fake.base,
            KERYU_WHATSAPP_API_VERSION="v23.0",
            KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="test-token-123",
            KERYU_WHATSAPP_APP_SECRET=APP_SECRET))

    def notification(self):
        rows = self.pg.query(
            "SELECT n.status, n.provider_message_id, n.last_error_code, n.last_error,"
            " n.channel, n.recipient, n.attempts FROM notifications n")
        return rows

    def test_scan_reaches_the_provider_and_is_recorded_sent(self):
        self.start()
        status, headers, body = http_get(self.scan_url(self.tag))
        self.assertEqual(status, 200)
        page = body.decode()
        self.assertIn("Ana", page)
        self.assertNotIn("Pérez", page)  # first name only

        reqs = wait_for(self.fake.requests, 5, what="the fake to receive the send")
        time.sleep(0.3)  # nothing else must arrive
        reqs = self.fake.requests()
        self.assertEqual(len(reqs), 1)
        r = reqs[0]
        self.assertEqual(r["method"], "POST")
        self.assertEqual(r["path"], "/v23.0/106540352242922/messages")
        self.assertEqual(r["headers"]["authorization"], "Bearer test-token-123")
        self.assertTrue(r["headers"]["content-type"].startswith("application/json"))
        sent = json.loads(r["body"])
        nid = self.pg.scalar("SELECT id FROM notifications")
        scan_time = sent["template"]["components"][0]["parameters"][1]["text"]
        self.assertRegex(scan_time, r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
        self.assertEqual(sent, {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "template",
            "biz_opaque_callback_data": nid,
            "template": {
                "name": "qr_template_on_m",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Ana María Pérez"},
                    {"type": "text", "text": scan_time}]}]}})

        row = wait_for(lambda: [r for r in self.notification() if r[0] == "SENT"], 5,
                       what="the notification to be SENT")[0]
        self.assertTrue(row[1].startswith("wamid."))
        self.assertEqual(row[4], "whatsapp")
        alarm = self.pg.query("SELECT notification_status, whatsapp_message_id,"
                              " notification_sent FROM alarms")
        self.assertEqual(alarm, [["SENT", row[1], "t"]])

        # The bus carried the scan, the alarm, the delivery result; none of
        # the events anyone may watch carries the phone number.
        wait_for(lambda: self.watch.on("keryu/v1/delivery/"), 5, what="delivery event")
        topics = [t for t, _ in self.watch.poll()]
        self.assertIn(f"keryu/v1/scan/{self.tag}", topics)
        self.assertTrue(any(t.startswith("keryu/v1/alarm/") for t in topics))
        self.assertIn(f"keryu/v1/delivery/{nid}", topics)
        for t, p in self.watch.poll():
            if not t.startswith("keryu/v1/notify/"):
                self.assertNotIn("6505551234", p, t)

    def test_provider_error_is_recorded(self):
        self.start("--mode", "error:131026")
        status, _, _ = http_get(self.scan_url(self.tag))
        self.assertEqual(status, 200)
        row = wait_for(lambda: [r for r in self.notification() if r[0] == "FAILED"], 5,
                       what="the notification to be FAILED")[0]
        self.assertEqual(row[2], "131026")
        self.assertIn("undeliverable", row[3].lower())
        self.assertIsNone(row[1])
        self.assertEqual(self.pg.scalar("SELECT notification_status FROM alarms"), "FAILED")

    def post_webhook(self, body, sig):
        return http_get(f"http://127.0.0.1:{self.http_port}/webhooks/whatsapp",
                        method="POST", data=body,
                        headers={"Content-Type": "application/json",
                                 "X-Hub-Signature-256": sig})

    def snapshot(self):
        return (self.notification(),
                self.pg.query("SELECT status, event_id FROM notification_events ORDER BY id"))

    def test_status_webhook_moves_the_notification_forward(self):
        self.start()
        status, _, _ = http_get(self.scan_url(self.tag))
        self.assertEqual(status, 200)
        row = wait_for(lambda: [r for r in self.notification() if r[0] == "SENT"], 5,
                       what="the notification to be SENT")[0]
        wamid = row[1]
        nid = self.pg.scalar("SELECT id FROM notifications")

        # a bad signature: 401, nothing published, nothing changes
        body = status_body(wamid, nid, "delivered", "read")
        before = self.snapshot()
        status, _, _ = self.post_webhook(body, signature(body, "not-the-secret"))
        self.assertEqual(status, 401)
        status, _, _ = self.post_webhook(body, "")
        self.assertEqual(status, 401)
        time.sleep(0.5)
        self.assertEqual(self.snapshot(), before)

        status, _, reply = self.post_webhook(body, signature(body))
        self.assertEqual(status, 200)
        self.assertEqual(reply, b"ok")
        row = wait_for(lambda: [r for r in self.notification() if r[0] == "READ"], 5,
                       what="the notification to be READ")[0]
        self.assertEqual(row[1], wamid)
        wait_for(lambda: len(self.watch.on(f"keryu/v1/delivery/{nid}")) >= 3, 5,
                 what="the webhook's delivery events")

        # Meta delivers the same webhook again: same event ids, no change
        after = self.snapshot()
        status, _, _ = self.post_webhook(body, signature(body))
        self.assertEqual(status, 200)
        wait_for(lambda: len(self.watch.on(f"keryu/v1/delivery/{nid}")) >= 5, 5,
                 what="the redelivered events")
        time.sleep(0.5)
        self.assertEqual(self.snapshot(), after)
        self.assertEqual(self.pg.scalar("SELECT status FROM notifications"), "READ")


if __name__ == "__main__":
    main()
