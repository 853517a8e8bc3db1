"""The alert's acknowledgement link in headless Chromium
(tests/browser/ack.mjs): the recipient's phone opens it, presses "I'm on
my way", and the alarm is acknowledged; escalation then stops."""
import json
import os
import subprocess
import time

from harness import BUILD, ROOT, KeryuTest, http_get, main, wait_for


class BrowserAck(KeryuTest):
    def test_ack_link_in_chromium(self):
        self.migrate()
        tag = self.seed(phone="+16505550001", name="Ana María Pérez")
        subject = self.pg.scalar("SELECT subject_id FROM subject_qr_codes")
        self.pg.query("INSERT INTO contacts (subject_id, name, phone_e164, channel, position,"
                      " verified_at) VALUES (:'a1', 'Second', '+16505550002', 'log', 1, now())",
                      subject)
        record = os.path.join(self.work, "testchan.jsonl")
        self.keryud("--modules", "storage,qr,http,alarms,log,testchan", env=self.env(
            KERYU_KERNEL_SECRET_KEY="browser-ack-secret", KERYU_ALARMS_CHANNEL="testchan",
            KERYU_ALARMS_ESCALATE_AFTER_S="4", KERYU_ALARMS_TICK_MS="100",
            KERYU_TESTCHAN_RECORD=record, KERYU_TESTCHAN_OUTCOME="sent"))
        self.assertEqual(http_get(self.scan_url(tag))[0], 200)

        def ack_url():
            if not os.path.exists(record):
                return None
            with open(record) as f:
                lines = [json.loads(l) for l in f if l.strip()]
            return lines[0]["ack_url"] if lines else None

        url = wait_for(ack_url, 5, what="the alert's ack link")
        env = dict(os.environ, KERYU_ARTIFACTS=os.path.join(BUILD, "artifacts"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "ack.mjs"), url, "Ana"],
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIsNotNone(self.pg.scalar("SELECT acknowledged_at FROM alarms"))
        time.sleep(5)  # past escalate_after_s: the second contact is not alerted
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM notifications"), "1")
        for name in ["ack-page-320", "ack-done-320", "ack-already-320"]:
            self.assertTrue(os.path.getsize(os.path.join(BUILD, "artifacts", name + ".png")) > 1000)


if __name__ == "__main__":
    main()
