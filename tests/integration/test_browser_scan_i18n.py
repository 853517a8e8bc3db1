"""The scan page in the finder's language in headless Chromium
(tests/browser/scan_i18n.mjs): English and Spanish, the language switch
without a second alert, the live state, lost mode, JavaScript off."""
import os
import re
import subprocess

from harness import BUILD, ROOT, KeryuTest, main, wait_for


class BrowserScanI18n(KeryuTest):
    def test_scan_page_languages(self):
        self.migrate()
        tag = self.seed(name="Ana María Pérez")
        lost = self.seed(phone="+16505559876", name="Luis Gómez")
        # care, allergies and the custodian's phone public (1|2|8|32|256);
        # medications filled but private
        self.pg.query(
            "UPDATE subjects SET care_instructions = 'Speak slowly, she gets scared.',"
            " allergies = 'Penicillin', medications = 'SECRET-MEDS', public_fields = 299"
            " WHERE id = (SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1');"
            "UPDATE subjects SET missing = true"
            " WHERE id = (SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a2');",
            tag, lost)
        d = self.keryud("--modules", "storage,qr,http,alarms,log",
                        env=self.env(KERYU_KERNEL_SECRET_KEY="browser-scan-i18n-secret"))
        env = dict(os.environ, KERYU_ARTIFACTS=os.path.join(BUILD, "artifacts"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "scan_i18n.mjs"),
                            self.scan_url(tag), self.scan_url(lost), "Ana"], env=env,
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + d.text()[-4000:])
        # scans of the tag: en, es, JS off (the switch re-rendered by
        # token: refresh=1, not a scan); one of the missing subject's tag
        scans = re.findall(r"http\.scan qr=%s event=\S+ status=200 lang=(\w+)" % tag, d.text())
        self.assertEqual(sorted(scans), ["en", "en", "es"], d.text()[-3000:])
        self.assertIn("refresh=1", d.text())
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM alarms a JOIN subject_qr_codes q ON q.subject_id = a.subject_id"
            " WHERE q.uuid = :'a1'", lost) != "0", 10, what="the missing subject's alarm")
        for name in ["scan-page-en-320", "scan-page-es-320", "scan-page-missing-320"]:
            self.assertTrue(os.path.getsize(os.path.join(BUILD, "artifacts", name + ".png")) > 1000)


if __name__ == "__main__":
    main()
