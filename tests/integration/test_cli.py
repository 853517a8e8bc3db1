"""keryud and keryu on the command line: configuration, migrations, QR
files, shutdown, the retained system topic."""
import os
import shutil
import signal
import subprocess

from harness import KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,log"


class Cli(KeryuTest):
    def run_keryud(self, *args, env=None):
        return subprocess.run([os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryud"),
                               *args], env=env or self.env(), capture_output=True, text=True,
                              cwd=self.work, timeout=60)

    def test_check_config_masks_secrets_and_shows_overrides(self):
        env = self.env(KERYU_SECRET_KEY="supersecret", KERYU_WHATSAPP_TOKEN="tok-very-secret",
                       KERYU_WHATSAPP_PHONE_NUMBER_ID="123", KERYU_HTTP_PORT="8123")
        r = self.run_keryud("--check-config", "--modules", MODULES + ",whatsapp", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("supersecret", r.stdout)
        self.assertNotIn("tok-very-secret", r.stdout)
        self.assertRegex(r.stdout, r"secret_key\s*=\s*\*{8}")
        self.assertRegex(r.stdout, r"port\s*=\s*8123")
        self.assertIn("[whatsapp]", r.stdout)
        self.assertRegex(r.stdout, r"database_url\s*=\s*\*{8}")  # may hold a password
        self.assertNotIn(self.pg.name, r.stdout)

    def test_every_option_is_documented(self):
        """README's table and config/keryu.conf are what keryud declares."""
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        r = subprocess.run([os.path.join(root, "scripts", "config-docs"),
                            os.environ["KERYU_BUILD_DIR"], "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # and the example file itself is valid
        r = self.run_keryud("--check-config", "--config", os.path.join(root, "config", "keryu.conf"),
                            "--modules", MODULES + ",whatsapp",
                            env=self.env(KERYU_WHATSAPP_TOKEN="x", KERYU_WHATSAPP_PHONE_NUMBER_ID="1"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_value_stops_start_up_with_one_line(self):
        r = self.run_keryud("--modules", MODULES, env=self.env(KERYU_HTTP_PORT="eighty"))
        self.assertEqual(r.returncode, 2)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("[http] port", lines[0])

    def test_config_file_unknown_key_and_missing_module(self):
        conf = os.path.join(self.work, "bad.conf")
        with open(conf, "w") as f:
            f.write("[http]\nport = 8000\nportt = 9\n")
        r = self.run_keryud("--config", conf, "--modules", MODULES)
        self.assertEqual(r.returncode, 2)
        self.assertIn("portt", r.stderr)
        r = self.run_keryud("--modules", "storage,nosuchmodule")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nosuchmodule", r.stderr)
        self.assertEqual(len([l for l in r.stderr.splitlines() if l.strip()]), 1, r.stderr)

    def test_migrate_records_versions_and_is_idempotent(self):
        self.keryu("migrate")
        v1 = self.pg.query("SELECT version FROM schema_migrations ORDER BY version")
        self.assertGreaterEqual(len(v1), 1)
        self.keryu("migrate")
        self.assertEqual(self.pg.query("SELECT version FROM schema_migrations ORDER BY version"), v1)
        for t in ["custodians", "subjects", "subject_qr_codes", "alarms", "notifications"]:
            self.assertEqual(self.pg.scalar("SELECT to_regclass(:'a1') IS NOT NULL", t), "t", t)

    def test_qr_png_decodes_to_the_scan_url(self):
        self.assertIsNotNone(shutil.which("zbarimg"), "zbarimg (zbar-tools) is required")
        tag = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
        out = os.path.join(self.work, "tag.png")
        env = self.env(KERYU_HTTP_PUBLIC_URL="https://keryu.example.org/")
        self.keryu("qr", tag, "-o", out, env=env)
        r = subprocess.run(["zbarimg", "--raw", "-q", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(),
                         f"https://keryu.example.org/subjects/qr/{tag}/scan/")
        svg = os.path.join(self.work, "tag.svg")
        self.keryu("qr", tag, "-o", svg, env=env)
        with open(svg) as f:
            self.assertTrue(f.read().lstrip().startswith(("<?xml", "<svg")))
        r = self.keryu("qr", "not-a-uuid", "-o", out, env=env, check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_sigterm_exits_zero_and_marks_modules_offline(self):
        self.migrate()
        watch = self.broker.watch(f"keryu/v1/system/{self.instance}/#")
        self.addCleanup(watch.stop)
        k = self.keryud("--modules", MODULES)
        online = wait_for(lambda: [p for t, p in watch.on("keryu/v1/system/")
                                   if p["state"] == "online"], 5, what="online states")
        self.assertEqual({p["module"] for p in online}, set(MODULES.split(",")))
        self.assertEqual(k.stop(signal.SIGTERM), 0)
        self.assertIn("kernel.stopped", k.text())
        # a new subscriber sees the retained state: offline, for every module
        late = self.broker.watch(f"keryu/v1/system/{self.instance}/#")
        self.addCleanup(late.stop)
        got = wait_for(lambda: len(late.on("keryu/v1/system/")) >= 5 and late.on(
            "keryu/v1/system/"), 5, what="retained states")
        self.assertEqual({p["state"] for _, p in got}, {"offline"})

    def test_killed_keryud_is_marked_offline_by_its_will(self):
        self.migrate()
        k = self.keryud("--modules", "storage,log", env=self.env(KERYU_BUS_KEEPALIVE_S="5"))
        k.proc.kill()
        k.proc.wait()
        late = self.broker.watch(f"keryu/v1/system/{self.instance}/log")
        self.addCleanup(late.stop)
        wait_for(lambda: [p for _, p in late.on("keryu/v1/system/") if p["state"] == "offline"],
                 15, what="the last will")


if __name__ == "__main__":
    main()
