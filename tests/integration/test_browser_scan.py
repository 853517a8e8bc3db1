"""The scan page in headless Chromium (tests/browser/scan_page.mjs): a real
browser scan makes exactly one alarm, and the page fits a 320 px phone."""
import os
import subprocess

from harness import BUILD, ROOT, KeryuTest, main, wait_for


class BrowserScan(KeryuTest):
    def test_scan_page_in_chromium(self):
        self.migrate()
        tag = self.seed(name="Ana María Pérez")
        self.keryud("--modules", "storage,qr,http,alarms,log")
        env = dict(os.environ, KERYU_ARTIFACTS=os.path.join(BUILD, "artifacts"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "scan_page.mjs"),
                            self.scan_url(tag), "Ana"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # two visits of the active tag: two alarms; the unknown tag: none
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM alarms") == "2", 5,
                 what="two alarms")
        for name in ["scan-page-320", "scan-page-desktop", "scan-page-unknown"]:
            self.assertTrue(os.path.getsize(os.path.join(BUILD, "artifacts", name + ".png")) > 1000)


if __name__ == "__main__":
    main()
