"""Tag, alarm and dashboard pages in headless Chromium
(tests/browser/tags_alarms.mjs): they fit a 320 px phone without JavaScript
and load nothing from elsewhere; the print page prints only the label; the
QR code Chromium draws from the SVG (inline on the print page, and the
downloaded file) decodes with zbarimg to the tag's scan URL."""
import json
import os
import subprocess

from harness import BUILD, ROOT, KeryuTest, main, wait_for
from test_tags_alarms import Pages, zbar


class BrowserTagsAlarms(Pages, KeryuTest):
    def test_pages_in_chromium(self):
        self.start()
        a = self.custodian("ana@example.org")
        subj = self.subject(a, "Lucía Gómez")
        tag, code = self.new_tag(a, subj)
        a.post(f"/subjects/{subj}/tags/{tag}/activate")
        status, r, _ = a.get(f"/t/{code}")
        self.assertEqual(status, 303)
        status, _, _ = a.get(r.getheader("Location"))
        self.assertEqual(status, 200)
        alarm = wait_for(lambda: self.pg.scalar("SELECT id FROM alarms"), 10, what="alarm")
        wait_for(lambda: self.pg.scalar("SELECT status FROM notifications") == "DELIVERED",
                 10, what="DELIVERED")

        status, _, svg = a.get(f"/subjects/{subj}/tags/{tag}/qr.svg")
        self.assertEqual(status, 200)
        svg_file = os.path.join(self.work, "tag.svg")
        with open(svg_file, "w") as f:
            f.write(svg)

        artifacts = os.path.join(BUILD, "artifacts")
        cfg = {"base": self.base, "cookie": a.cookie.split("=", 1)[1], "subject": subj,
               "tag": tag, "alarm": alarm, "svgFile": svg_file, "outDir": self.work}
        env = dict(os.environ, KERYU_ARTIFACTS=artifacts)
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "tags_alarms.mjs"),
                            json.dumps(cfg)], env=env, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        scan_url = f"{self.base}/subjects/qr/{tag}/scan/"
        self.assertEqual(zbar(os.path.join(self.work, "print-qr.png")), scan_url)
        self.assertEqual(zbar(os.path.join(self.work, "svg.png")), scan_url)
        for name in ("dashboard", "tags", "print", "alarms", "alarm"):
            self.assertGreater(os.path.getsize(
                os.path.join(artifacts, f"tags-alarms-{name}-320.png")), 1000)
        # the clicks went through: the tag is active again
        self.assertEqual(self.active(subj), {tag: True})


if __name__ == "__main__":
    main()
