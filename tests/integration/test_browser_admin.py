"""The staff pages in headless Chromium (tests/browser/admin.mjs): a staff
member logs in, searches a custodian and deactivates them, saves a
template after a refused try, changes a setting, retries a delivery that
the test channel failed, and filters the audit log; each page fits 320 px
and is shot there and at desktop width into the artifacts folder. The
clicks are then checked in the database."""
import json
import os
import subprocess

from harness import BUILD, ROOT, KeryuTest, main, wait_for
from test_admin import STAFF_EMAIL, STAFF_PW, AdminBase


class BrowserAdmin(AdminBase, KeryuTest):
    def test_staff_pages_in_chromium(self):
        self.start_admin()
        tag = self.seed()
        self.broker.publish(f"keryu/v1/scan/{tag}", self.scan_event(tag))
        nid = wait_for(lambda: self.pg.scalar(
            "SELECT id FROM notifications WHERE status = 'FAILED' AND purpose = 'alarm'"), 15,
            what="a FAILED notification")

        artifacts = os.path.join(BUILD, "artifacts")
        cfg = {"base": self.base, "email": STAFF_EMAIL, "password": STAFF_PW,
               "custodian": "ana@example.org", "notification": nid}
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "admin.mjs"),
                            json.dumps(cfg)], env=dict(os.environ, KERYU_ARTIFACTS=artifacts),
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        for name in ("index", "custodians", "custodian", "templates", "settings",
                     "deliveries", "audit"):
            for size in ("320", "desktop"):
                self.assertGreater(os.path.getsize(
                    os.path.join(artifacts, f"admin-{name}-{size}.png")), 1000)
        # what the clicks did
        self.assertEqual(self.pg.scalar("SELECT is_active FROM custodians WHERE id = :'a1'",
                                        self.cust_id), "f")
        self.assertEqual(self.pg.query(
            "SELECT event, channel, name, language, parameters, approved FROM message_templates"),
            [["alert", "whatsapp", "qr_alert_es", "es_MX", "name,time,place", "t"]])
        self.assertEqual(self.pg.query("SELECT key, value FROM settings"), [["cooldown_s", "90"]])
        retry = self.pg.scalar("SELECT retried_as FROM notifications WHERE id = :'a1'", nid)
        self.assertIsNotNone(retry)
        wait_for(lambda: self.chan.requests(retry), 15, what="the retry to reach the channel")
        actions = [row["action"] for row in self.audit()]
        for a in ("custodian.deactivate", "template.update", "setting.update",
                  "notification.retry"):
            self.assertEqual(actions.count(a), 1, (a, actions))


if __name__ == "__main__":
    main()
