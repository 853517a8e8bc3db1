"""keryud and keryu on the command line: configuration, migrations, QR
files, shutdown, the retained system topic, and the administration commands
(check, createsuperuser, custodian, export, purge)."""
import csv
import io
import os
import shutil
import signal
import subprocess

from harness import Browser, KeryuTest, main, wait_for

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

    # ---- administration commands ----

    ADMIN_PW = "staff password 123"
    COMMANDS = [["check"], ["createsuperuser"], ["custodian"], ["custodian", "list"],
                ["custodian", "deactivate"], ["export", "alarms"], ["purge"]]

    def assert_one_line_error(self, r, code=2, text=None):
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("keryu: "), lines[0])
        if text:
            self.assertIn(text, lines[0])

    def createsuperuser(self, email="boss@example.org", *extra, pw=None):
        return subprocess.run(
            [os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryu"), "createsuperuser",
             "--email", email, "--phone", "+16505550100", "--password-stdin", *extra],
            input=(pw or self.ADMIN_PW) + "\n", env=self.env(), capture_output=True, text=True,
            cwd=self.work, timeout=60)

    def test_admin_commands_have_help_and_one_line_usage_errors(self):
        for cmd in self.COMMANDS:
            r = self.keryu(*cmd, "--help")
            self.assertTrue(r.stdout.startswith("usage: keryu " + cmd[0]), (cmd, r.stdout))
            self.assertEqual(r.stderr, "")
        for args, text in [(["check", "extra"], "unexpected argument"),
                           (["custodian", "list", "--bogus"], "--bogus"),
                           (["custodian", "frobnicate"], "frobnicate"),
                           (["custodian"], "list or deactivate"),
                           (["custodian", "deactivate"], "one email or UUID"),
                           (["createsuperuser", "--email"], "needs a value"),
                           (["createsuperuser", "--email", "not-an-email", "--phone", "+16505550100"],
                            "not an email"),
                           (["createsuperuser", "--email", "a@example.org", "--phone", "555"],
                            "E.164"),
                           (["createsuperuser", "--email", "a@example.org",
                             "--phone", "+16505550100"], "--password-stdin"),
                           (["export"], "alarms"),
                           (["export", "subjects"], "subjects"),
                           (["export", "alarms", "--since", "2026-02-30"], "--since"),
                           (["export", "alarms", "--since", "2026-03-02", "--until", "2026-03-01"],
                            "after"),
                           (["purge", "--days", "0"], "--days"),
                           (["purge", "--days", "ten"], "--days"),
                           (["purge", "--search", "x"], "--search"),
                           (["purge", "--alarm-days", "0"], "--alarm-days"),
                           (["purge", "--audit-days", "36501"], "--audit-days"),
                           (["purge", "--finder-days", "7x"], "--finder-days"),
                           (["purge", "--alarm-days"], "needs a value"),
                           (["purge", "--days", "3", "--finder-days", "4"], "give one"),
                           (["purge", "old"], "unexpected argument"),
                           (["nosuchcommand"], "nosuchcommand")]:
            r = subprocess.run([os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryu"), *args],
                               env=self.env(), capture_output=True, text=True, cwd=self.work,
                               timeout=60, stdin=subprocess.DEVNULL)
            with self.subTest(args=args):
                self.assert_one_line_error(r, 2, text)
        r = self.createsuperuser(pw="short")
        self.assert_one_line_error(r, 2, "10 to 128")

    def test_check_reports_each_part_and_fails_without_the_broker(self):
        self.migrate()
        r = self.keryu("check")
        self.assertEqual(r.stdout.splitlines()[1:], ["database: ok", "broker: ok"])
        self.assertRegex(r.stdout.splitlines()[0], r"^config: ok")
        self.assertEqual(r.stderr, "")
        self.broker.stop()
        r = self.keryu("check", check=False)
        self.assert_one_line_error(r, 1, "broker")
        self.assertIn("broker: FAILED", r.stdout)
        self.assertIn("database: ok", r.stdout)
        r = self.keryu("check", check=False, env=self.env(KERYU_HTTP_PORT="eighty"))
        self.assert_one_line_error(r, 1, "[http] port")

    def test_createsuperuser_then_web_login_then_deactivate(self):
        self.migrate()
        r = self.createsuperuser("Boss@Example.org", "--name", "The Boss")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.pg.query("SELECT email, name, is_staff, is_active, phone_verified_at IS NOT NULL,"
                            " password_hash LIKE '$argon2id$%' FROM custodians")
        self.assertEqual(row, [["boss@example.org", "The Boss", "t", "t", "t", "t"]])
        self.assertNotIn(self.ADMIN_PW, r.stdout + r.stderr)
        r = self.createsuperuser("boss@example.org")
        self.assert_one_line_error(r, 1, "already taken")

        self.keryud("--modules", MODULES,
                    env=self.env(KERYU_KERNEL_SECRET_KEY="integration-test-secret-key"))
        b = Browser(self.http_port)
        status, _, _ = b.submit("/account/login", "/account/login",
                                {"email": "boss@example.org", "password": self.ADMIN_PW})
        self.assertEqual(status, 303)
        self.assertEqual(b.get("/account/")[0], 200)

        r = self.keryu("custodian", "list")
        cid = self.pg.scalar("SELECT id FROM custodians")
        fields = r.stdout.rstrip("\n").split("\t")
        self.assertEqual(fields[:5], [cid, "boss@example.org", "The Boss", "true", "true"])
        self.assertEqual(self.keryu("custodian", "list", "--search", "BOSS").stdout, r.stdout)
        self.assertEqual(self.keryu("custodian", "list", "--search", "nobody").stdout, "")

        r = self.keryu("custodian", "deactivate", "BOSS@example.org")
        self.assertIn(cid, r.stdout)
        self.assertEqual(self.pg.scalar("SELECT is_active FROM custodians"), "f")
        # the open session ends, and the password no longer logs in
        self.assertNotEqual(b.get("/account/")[0], 200)
        b2 = Browser(self.http_port)
        status, _, _ = b2.submit("/account/login", "/account/login",
                                 {"email": "boss@example.org", "password": self.ADMIN_PW})
        self.assertEqual(status, 400)
        self.assertIn("\tfalse\t", self.keryu("custodian", "list").stdout)
        self.keryu("custodian", "deactivate", cid)  # by uuid, already inactive: fine
        r = self.keryu("custodian", "deactivate", "ghost@example.org", check=False)
        self.assert_one_line_error(r, 1, "no custodian")

    def test_export_alarms_csv_and_purge(self):
        self.migrate()
        tag = self.seed()
        subj = self.pg.scalar("SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1'", tag)
        # 1203 alarms, one an hour from 2026-01-01: more than two pages
        self.pg.query(
            "INSERT INTO alarms (event_id, subject_id, scanned_at, resolved_at, location)"
            " SELECT gen_random_uuid(), :'a1',"
            "  timestamptz '2026-01-01 00:30:00+00' + (i - 1) * interval '1 hour',"
            "  CASE WHEN i % 7 = 0 THEN now() END, 'by the, \"old\" mill'"
            " FROM generate_series(1, 1203) AS i", subj)
        r = self.keryu("export", "alarms")
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(rows[0], ["alarm_id", "scanned_at", "subject_id", "notification_status",
                                   "acknowledged_at", "resolved_at", "joined_alarm_id"])
        body = rows[1:]
        self.assertEqual(len(body), 1203)
        self.assertEqual(len({row[0] for row in body}), 1203)
        self.assertEqual([row[1] for row in body], sorted(row[1] for row in body))
        self.assertEqual(body[0][1], "2026-01-01T00:30:00.000Z")
        self.assertEqual({row[2] for row in body}, {subj})
        self.assertEqual(sum(1 for row in body if row[5]), 1203 // 7)
        # a UTC day, inclusive on both ends
        r = self.keryu("export", "alarms", "--since", "2026-01-02", "--until", "2026-01-03")
        day = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(len(day), 48)
        self.assertTrue(all(row["scanned_at"][:10] in ("2026-01-02", "2026-01-03") for row in day))

        # purge: the configured retention (30 days) clears every old alarm's location
        recent = self.pg.scalar(
            "INSERT INTO alarms (event_id, subject_id, scanned_at, location)"
            " VALUES (gen_random_uuid(), :'a1', now(), 'here') RETURNING id", subj)
        r = self.keryu("purge", env=self.env(KERYU_ALARMS_FINDER_RETENTION_DAYS="30"))
        self.assertIn("1203 alarms", r.stdout)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms WHERE location IS NOT NULL"),
                         "1")
        self.assertEqual(self.pg.scalar("SELECT location FROM alarms WHERE id = :'a1'", recent),
                         "here")
        r = self.keryu("purge", "--days", "1")
        self.assertIn("0 alarms", r.stdout)
        r = self.keryu("purge", env=self.env(KERYU_ALARMS_FINDER_RETENTION_DAYS="0"))
        self.assertIn("finder data is kept for good ([alarms] finder_retention_days = 0):"
                      " nothing to purge", r.stdout)

    def test_purge_help_names_every_kind_and_flag(self):
        r = self.keryu("purge", "--help")
        for word in ("finder data", "alarms", "audit", "--finder-days", "--alarm-days",
                     "--audit-days", "--days", "batches", "finder_retention_days",
                     "alarm_retention_days", "audit_retention_days"):
            self.assertIn(word, r.stdout)
        self.assertIn("purge", self.keryu("--help").stdout)

    def purge(self, *args, env=None):
        return self.keryu("purge", *args, env=env).stdout.splitlines()

    def test_purge_alarms_and_audit_entries_from_settings_config_and_flags(self):
        self.migrate()
        tag = self.seed()
        subj = self.pg.scalar("SELECT subject_id FROM subject_qr_codes WHERE uuid = :'a1'", tag)

        def backdate(alarm_days, audit_days):
            self.pg.query(
                "INSERT INTO alarms (event_id, subject_id, scanned_at, location)"
                " SELECT gen_random_uuid(), :'a1', now() - interval '1 day' * d, 'here'"
                " FROM unnest(string_to_array(:'a2', ',')::int[]) AS d;"
                "INSERT INTO audit_log (at, source, action)"
                " SELECT now() - interval '1 day' * d, 'system', 'test.entry'"
                " FROM unnest(string_to_array(:'a3', ',')::int[]) AS d;",
                subj, ",".join(map(str, alarm_days)), ",".join(map(str, audit_days)))

        def ages(table, column):
            return self.pg.scalar(
                f"SELECT array_agg(round(extract(epoch FROM now() - {column}) / 86400)"
                f" ORDER BY {column}) FROM {table}")

        # the oldest alarm has a notification, which goes with it
        backdate([900, 500, 100, 2], [2000, 400, 300, 1])
        old = self.pg.scalar("SELECT id FROM alarms ORDER BY scanned_at LIMIT 1")
        self.pg.query(
            "INSERT INTO notifications (alarm_id, custodian_id, recipient, channel, status)"
            " SELECT :'a1', custodian_id, '+16505551234', 'log', 'DELIVERED'"
            " FROM subjects WHERE id = :'a2'", old, subj)
        # keryu.conf's defaults: finder data 30 days, alarms kept, audit
        # entries 365 days; one line per kind, in that order
        conf = {k: f"[alarms] {k}_retention_days" for k in ("finder", "alarm", "audit")}
        self.assertEqual(self.purge(), [
            f"cleared the finder data of 3 alarms older than 30 days ({conf['finder']})",
            f"alarms are kept for good ({conf['alarm']} = 0): nothing to purge",
            f"deleted 2 audit entries older than 365 days ({conf['audit']})"])
        self.assertEqual(ages("alarms", "scanned_at"), "{900,500,100,2}")
        self.assertEqual(ages("audit_log", "at"), "{300,1}")
        self.assertEqual(self.pg.scalar("SELECT array_agg(location) FROM alarms"
                                        " WHERE location IS NOT NULL"), "{here}")

        # keryu.conf's alarm retention; an alarm goes with its notifications
        conf600 = self.env(KERYU_ALARMS_ALARM_RETENTION_DAYS="600")
        self.assertEqual(self.purge(env=conf600)[1],
                         f"deleted 1 alarms older than 600 days, with their notifications"
                         f" ({conf['alarm']})")
        self.assertEqual(ages("alarms", "scanned_at"), "{500,100,2}")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM notifications"), "0")

        # the settings staff stored win over keryu.conf
        self.pg.query("INSERT INTO settings (key, value) VALUES"
                      " ('alarm_retention_days', '200'), ('audit_retention_days', '30'),"
                      " ('finder_retention_days', '1')")
        self.assertEqual(self.purge(env=conf600), [
            "cleared the finder data of 1 alarms older than 1 days"
            " (setting finder_retention_days)",
            "deleted 1 alarms older than 200 days, with their notifications"
            " (setting alarm_retention_days)",
            "deleted 1 audit entries older than 30 days (setting audit_retention_days)"])
        self.assertEqual(ages("alarms", "scanned_at"), "{100,2}")
        self.assertEqual(ages("audit_log", "at"), "{1}")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM alarms"
                                        " WHERE location IS NOT NULL"), "0")

        # and the flags win over both (--days is --finder-days)
        self.assertEqual(self.purge("--alarm-days", "1", "--audit-days", "2", "--days", "1"), [
            "cleared the finder data of 0 alarms older than 1 days (--days)",
            "deleted 2 alarms older than 1 days, with their notifications (--alarm-days)",
            "deleted 0 audit entries older than 2 days (--audit-days)"])
        self.assertEqual(ages("alarms", "scanned_at"), None)
        self.assertEqual(ages("audit_log", "at"), "{1}")

        # more than one batch of 1000
        self.pg.query("INSERT INTO audit_log (at, source, action)"
                      " SELECT now() - interval '40 days', 'system', 'test.entry'"
                      " FROM generate_series(1, 2345)")
        self.assertEqual(self.purge("--audit-days", "35")[2],
                         "deleted 2345 audit entries older than 35 days (--audit-days)")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM audit_log"), "1")


if __name__ == "__main__":
    main()
