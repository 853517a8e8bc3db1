"""The statistics page in headless Chromium (tests/browser/stats.mjs): a
custodian sees their own alarms as inline SVG charts that fit 320 px and a
desktop, the 7/30/90 day links switch the period, the CSV link downloads
their alarms; a staff member sees everyone's. Screenshots go to the
artifacts folder."""
import csv
import json
import os
import subprocess

import test_stats
from harness import BUILD, ROOT, Browser, main

STAFF_PW = "staff password 123"


class BrowserStats(test_stats.Stats):
    # the same keryud, helpers and seeded alarms; its own test only
    test_figures_scope_staff_and_csv = None

    def test_stats_in_chromium(self):
        a = self.custodian("ana@example.org", "+1 650 555 1234")
        b = self.custodian("bob@example.org", "+1 650 555 9876")
        sa = self.subject(a, "Lucía")
        sb = self.subject(b, "Bea")
        mine = [self.alarm(sa, 0, "08:00:00", "whatsapp", "DELIVERED", 12, 60),
                self.alarm(sa, 1, "09:00:00", "sms", "READ", 30),
                self.alarm(sa, 5, "10:00:00", "whatsapp", "FAILED"),
                self.alarm(sa, 20, "11:00:00", "whatsapp", "DELIVERED", 8),
                self.alarm(sa, 60, "12:00:00", "whatsapp", "DELIVERED", 5)]
        theirs = [self.alarm(sb, 2, "13:00:00", "whatsapp", "DELIVERED", 40, 90),
                  self.alarm(sb, 45, "14:00:00", "sms", "FAILED")]
        r = subprocess.run([os.path.join(BUILD, "bin", "keryu"), "createsuperuser",
                            "--email", "boss@example.org", "--phone", "+16505550100",
                            "--password-stdin"], input=STAFF_PW + "\n", env=self.env(),
                           capture_output=True, text=True, cwd=self.work, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        staff = Browser(self.http_port)
        status, _, _ = staff.request("POST", "/account/login", {
            "csrf": staff.csrf("/account/login"), "email": "boss@example.org",
            "password": STAFF_PW})
        self.assertEqual(status, 303)

        artifacts = os.path.join(BUILD, "artifacts")
        cfg = {"base": f"http://127.0.0.1:{self.http_port}",
               "custodian": a.cookie.split("=", 1)[1], "staff": staff.cookie.split("=", 1)[1],
               "mine": {"7": 3, "30": 4, "90": 5}, "all": {"90": 7}, "outDir": self.work}
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "stats.mjs"),
                            json.dumps(cfg)], env=dict(os.environ, KERYU_ARTIFACTS=artifacts),
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for name in ("custodian-7", "custodian-30", "custodian-90", "staff-90"):
            for size in ("320", "desktop"):
                self.assertGreater(os.path.getsize(
                    os.path.join(artifacts, f"stats-{name}-{size}.png")), 1000)
        # what the browser downloaded
        with open(os.path.join(self.work, "custodian-7d.csv"), newline="") as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0][0], "id")
        self.assertEqual(sorted(r[0] for r in rows[1:]), sorted(mine[:3]))
        with open(os.path.join(self.work, "staff-90d.csv"), newline="") as f:
            rows = list(csv.reader(f))
        self.assertEqual(sorted(r[0] for r in rows[1:]), sorted(mine + theirs))


if __name__ == "__main__":
    main()
