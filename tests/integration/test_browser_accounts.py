"""Account pages in headless Chromium (tests/browser/accounts.mjs): sign up,
verify the phone with the code the fake WhatsApp provider received, log
out, log in; screenshots into the build's artifacts folder."""
import os
import subprocess

from harness import BUILD, ROOT, FakeWhatsApp, KeryuTest, main


class BrowserAccounts(KeryuTest):
    def test_accounts_in_chromium(self):
        fake = FakeWhatsApp(self.work)
        self.addCleanup(fake.stop)
        self.migrate()
        self.keryud("--modules", "storage,qr,http,alarms,whatsapp", env=self.env(
            KERYU_HTTP_VERIFY_CHANNEL="whatsapp",
            KERYU_WHATSAPP_API_BASE=fake.base,
            KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="test-token-123"))
        artifacts = os.path.join(BUILD, "artifacts")
        env = dict(os.environ, KERYU_ARTIFACTS=artifacts)
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "accounts.mjs"),
                            f"http://127.0.0.1:{self.http_port}", fake.record],
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIsNotNone(self.pg.scalar(
            "SELECT phone_verified_at FROM custodians WHERE email = 'ana@example.org'"))
        for name in ["accounts-signup", "accounts-signup-errors", "accounts-verify",
                     "accounts-account", "accounts-login", "accounts-signup-desktop"]:
            self.assertTrue(os.path.getsize(os.path.join(artifacts, name + ".png")) > 1000,
                            name)


if __name__ == "__main__":
    main()
