"""The finder's side in headless Chromium (tests/browser/finder.mjs): the
location (geolocation granted, fixed coordinates) and a report reach the
custodian's alarm and the custodian as follow-ups; the live alert state on
the finder's page moves from sent to delivered to read as the provider's
signed status webhooks arrive, then shows the custodian's acknowledgement;
geolocation declined says the family can still be reached."""
import os
import queue
import subprocess
import threading
import time
import urllib.parse

from harness import BUILD, ROOT, FakeWhatsApp, KeryuTest, http_get, main, wait_for

APP_SECRET = "finder-app-secret"


class BrowserFinder(KeryuTest):
    def test_finder_in_chromium(self):
        hook = f"http://127.0.0.1:{self.http_port}/webhooks/whatsapp"
        fake = FakeWhatsApp(self.work, webhook_url=hook, app_secret=APP_SECRET,
                            webhook_statuses="sent")
        self.addCleanup(fake.stop)
        self.migrate()
        tag = self.seed(phone="+16505550001", name="Ana María Pérez")
        tag2 = self.seed(phone="+16505550002", name="Beto Ruiz")
        self.keryud("--modules", "storage,qr,http,alarms,whatsapp", env=self.env(
            KERYU_KERNEL_SECRET_KEY="browser-finder-secret",
            KERYU_ALARMS_CHANNEL="whatsapp", KERYU_ALARMS_ESCALATE_AFTER_S="0",
            KERYU_ALARMS_ACK_TIMEOUT_S="0",
            KERYU_WHATSAPP_API_BASE=fake.base, KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="t", KERYU_WHATSAPP_APP_SECRET=APP_SECRET,
            KERYU_WHATSAPP_ACK_BUTTON="true"))

        env = dict(os.environ, KERYU_ARTIFACTS=os.path.join(BUILD, "artifacts"))
        node = subprocess.Popen(["node", os.path.join(ROOT, "tests", "browser", "finder.mjs"),
                                 self.scan_url(tag), self.scan_url(tag2)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        self.addCleanup(node.stdout.close)
        self.addCleanup(lambda: node.poll() is None and node.kill())
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in node.stdout], daemon=True).start()
        seen = []

        def see(fragment, timeout=30):
            end = time.time() + timeout
            while time.time() < end:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    if node.poll() is not None:
                        break
                    continue
                seen.append(line.rstrip())
                if line.startswith("STATUS") and fragment in line:
                    return
            self.fail(f"the finder's page never said {fragment!r}; saw {seen}")

        def alert():
            return self.pg.query(
                "SELECT n.id, n.provider_message_id FROM notifications n"
                " JOIN alarms a ON a.id = n.alarm_id JOIN subject_qr_codes q ON q.uuid = a.qr_uuid"
                " WHERE q.uuid = :'a1' AND n.kind = 'alert' AND n.provider_message_id IS NOT NULL",
                tag)

        see("sent to the family")
        nid, wamid = wait_for(alert, 10, what="the alert's message id")[0]
        fake.webhook(wamid, "delivered")
        see("reached the family's phone")
        fake.webhook(wamid, "read")
        see("read the alert")
        token = [r["ack_param"] for r in fake.messages(nid) if r.get("ack_param")][0]
        status, _, _ = http_get(f"http://127.0.0.1:{self.http_port}/ack/{token}", method="POST",
                                data=b"")
        self.assertEqual(status, 200)
        see("on their way")
        self.assertEqual(node.wait(60), 0, "\n".join(seen))

        row = self.pg.query("SELECT latitude, longitude, report_situation, report_text"
                            " FROM alarms a WHERE a.qr_uuid = :'a1'", tag)[0]
        self.assertAlmostEqual(float(row[0]), -33.4489, places=4)
        self.assertAlmostEqual(float(row[1]), -70.6693, places=4)
        self.assertEqual(row[2:], ["injured", "She fell and hurt her knee"])
        # the custodian got both follow-ups
        templates = [r["template"] for r in fake.messages()]
        self.assertIn("qr_location_update", templates)
        self.assertIn("qr_finder_report", templates)
        # geolocation declined on the second phone: nothing attached
        self.assertEqual(self.pg.query("SELECT latitude FROM alarms WHERE qr_uuid = :'a1'", tag2),
                         [[None]])
        for name in ["finder-shared-320", "finder-acknowledged-320", "finder-geo-denied-320"]:
            self.assertTrue(os.path.getsize(os.path.join(BUILD, "artifacts", name + ".png")) > 1000)


if __name__ == "__main__":
    main()
