"""Custodian accounts end to end: the real http, storage, whatsapp modules,
PostgreSQL, mosquitto and the fake WhatsApp server. One-time codes go out
on the whatsapp channel (KERYU_HTTP_VERIFY_CHANNEL) and are read back from
the fake's record of the request it received."""
import http.client
import json
import re
import urllib.parse

from harness import Browser, FakeWhatsApp, KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,whatsapp"
PHONE = "+16505551234"
PASSWORD = "correct horse battery"


class Accounts(KeryuTest):
    def setUp(self):
        super().setUp()
        self.fake = FakeWhatsApp(self.work)
        self.addCleanup(self.fake.stop)
        self.migrate()
        self.keryud("--modules", MODULES, env=self.env(
            KERYU_HTTP_VERIFY_CHANNEL="whatsapp",
            KERYU_ALARMS_CHANNEL="whatsapp",
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key",
            KERYU_WHATSAPP_API_BASE=self.fake.base,
            KERYU_WHATSAPP_API_VERSION="v23.0",
            KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="test-token-123"))

    def browser(self):
        return Browser(self.http_port)

    def codes(self):
        """The codes the fake received, oldest first, with their templates."""
        out = []
        for r in self.fake.requests():
            sent = json.loads(r["body"])
            tpl = sent["template"]
            code = tpl["components"][0]["parameters"][0]["text"]
            out.append((tpl["name"], sent["to"], code))
        return out

    def wait_code(self, n):
        """Waits for the n-th code (1-based) and returns it."""
        got = wait_for(lambda: len(self.codes()) >= n and self.codes(), 10,
                       what=f"code #{n} at the fake")
        name, to, code = got[n - 1]
        self.assertEqual(name, "keryu_verify_code")
        self.assertEqual(to, PHONE)
        self.assertRegex(code, r"^\d{6}$")
        return code

    def signup(self, b, email="ana@example.org", name="Ana Pérez"):
        status, r, _ = b.submit("/account/signup", "/account/signup", {
            "name": name, "email": email, "phone": "+1 (650) 555-1234",
            "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/account/verify?sent=1")

    def verified_at(self, email="ana@example.org"):
        return self.pg.scalar("SELECT phone_verified_at FROM custodians WHERE email = :'a1'",
                              email)

    def login(self, b, email="ana@example.org", password=PASSWORD):
        return b.submit("/account/login", "/account/login",
                        {"email": email, "password": password})

    def test_signup_verify_logout_login(self):
        b = self.browser()
        b.get("/account/signup")
        sc = b.set_cookies[-1]
        self.assertRegex(sc, r"^keryu_session=[A-Za-z0-9_-]{43};")
        for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(flag, sc)
        self.assertNotIn("Secure", sc)  # public_url is http:// here

        self.signup(b, email=" Ana@Example.ORG ", name="<script>alert(1)</script> Ana")
        code = self.wait_code(1)
        self.assertEqual(self.pg.query(
            "SELECT email, phone_e164, phone_verified_at IS NULL FROM custodians"),
            [["ana@example.org", PHONE, "t"]])
        # the database keeps only hashes of the session and the code
        tokens = self.pg.query("SELECT token_hash FROM sessions")
        self.assertNotIn(b.cookie.split("=", 1)[1], str(tokens))
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM one_time_codes WHERE code_hash = :'a1'", code), "0")

        status, _, page = b.get("/account/")
        self.assertEqual(status, 200)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; Ana", page)
        self.assertNotIn("<script>alert", page)
        self.assertIn("Not yet", page)

        status, r, _ = b.submit("/account/verify", "/account/verify", {"code": code})
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/account/?notice=verified")
        self.assertIsNotNone(self.verified_at())
        # the code's notification went through the whatsapp module
        wait_for(lambda: self.pg.scalar(
            "SELECT status FROM notifications WHERE purpose = 'code'") == "SENT", 10,
            what="the code's notification to be SENT")

        # log out: the cookie is cleared and the session gone
        status, r, _ = b.submit("/account/", "/account/logout", {})
        self.assertEqual(status, 303)
        self.assertIn("Max-Age=0", b.set_cookies[-1])
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM sessions WHERE custodian_id IS NOT NULL"), "0")
        status, r, _ = b.get("/account/")
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/account/login?next=/account/")

        # a wrong password and an unknown email get the same message
        status, _, page = self.login(b, password="not the password")
        self.assertEqual(status, 400)
        self.assertIn("The email or password is wrong.", page)
        status, _, page = self.login(b, email="nobody@example.org")
        self.assertEqual(status, 400)
        self.assertIn("The email or password is wrong.", page)

        anonymous = b.cookie
        status, r, _ = self.login(b)
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/dashboard/")
        self.assertNotEqual(b.cookie, anonymous)
        first = b.cookie
        status, _, page = b.get("/account/")
        self.assertEqual(status, 200)
        self.assertIn("Yes", page)

        # rotated at every login: the earlier cookie opens nothing
        status, r, _ = self.login(b)
        self.assertEqual(status, 303)
        old = Browser(self.http_port)
        old.cookie = first
        status, r, _ = old.get("/account/")
        self.assertEqual(status, 303)
        status, _, _ = b.get("/account/")
        self.assertEqual(status, 200)

    def test_wrong_code_five_times_kills_it(self):
        b = self.browser()
        self.signup(b)
        code = self.wait_code(1)
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        for i in range(5):
            status, _, page = b.submit("/account/verify", "/account/verify", {"code": wrong})
            self.assertEqual(status, 400)
            self.assertIn("That code is not right", page)
        # dead: even the right code is refused now
        status, _, page = b.submit("/account/verify", "/account/verify", {"code": code})
        self.assertEqual(status, 400)
        self.assertIn("Too many wrong tries", page)
        self.assertIsNone(self.verified_at())

    def test_expired_code_is_refused(self):
        b = self.browser()
        self.signup(b)
        code = self.wait_code(1)
        self.pg.query("UPDATE one_time_codes SET expires_at = now() - interval '1 second'")
        status, _, page = b.submit("/account/verify", "/account/verify", {"code": code})
        self.assertEqual(status, 400)
        self.assertIn("expired or was already used", page)
        self.assertIsNone(self.verified_at())
        # asking again within the minute is refused politely
        status, _, page = b.submit("/account/verify", "/account/verify/resend", {})
        self.assertEqual(status, 429)
        self.assertIn("wait a minute", page)

    def test_password_change_ends_other_sessions(self):
        a = self.browser()
        self.signup(a)
        other = self.browser()
        self.assertEqual(self.login(other)[0], 303)
        self.assertEqual(other.get("/account/")[0], 200)

        status, _, page = a.submit("/account/password", "/account/password", {
            "current": "wrong password!", "password": "a new password",
            "password2": "a new password"})
        self.assertEqual(status, 400)
        self.assertIn("current password is wrong", page)

        status, r, _ = a.submit("/account/password", "/account/password", {
            "current": PASSWORD, "password": "a new password",
            "password2": "a new password"})
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/account/?notice=password")
        self.assertEqual(a.get("/account/")[0], 200)  # this one stays
        self.assertEqual(other.get("/account/")[0], 303)  # the other is gone
        self.assertEqual(self.login(other)[0], 400)
        self.assertEqual(self.login(other, password="a new password")[0], 303)

    def test_reset_flow(self):
        b = self.browser()
        self.signup(b)
        code = self.wait_code(1)
        self.assertEqual(b.submit("/account/verify", "/account/verify", {"code": code})[0], 303)
        b.submit("/account/", "/account/logout", {})

        # an unknown email gets the same page and sends nothing
        status, _, unknown = b.submit("/account/reset", "/account/reset",
                                      {"email": "nobody@example.org"})
        self.assertEqual(status, 200)
        status, _, known = b.submit("/account/reset", "/account/reset",
                                    {"email": "ana@example.org"})
        self.assertEqual(status, 200)
        notice = re.compile(r'<p class="notice".*?</p>', re.S)
        self.assertEqual(notice.search(unknown).group(0), notice.search(known).group(0))
        code = self.wait_code(2)
        self.assertEqual(len(self.codes()), 2)

        status, r, _ = b.submit("/account/reset/confirm", "/account/reset/confirm", {
            "email": "ana@example.org", "code": code, "password": "brand new password",
            "password2": "brand new password"})
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/account/login?notice=reset")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM sessions"
                                        " WHERE custodian_id IS NOT NULL"), "0")
        self.assertEqual(self.login(b)[0], 400)
        self.assertEqual(self.login(b, password="brand new password")[0], 303)
        # the code is used up
        status, _, page = b.submit("/account/reset/confirm", "/account/reset/confirm", {
            "email": "ana@example.org", "code": code, "password": "another password",
            "password2": "another password"})
        self.assertEqual(status, 400)
        self.assertIn("That code is not right, or it has expired.", page)

    def test_csrf_less_post_is_403_and_changes_nothing(self):
        b = self.browser()
        self.signup(b)
        before = self.pg.query("SELECT * FROM custodians")
        sessions = self.pg.query("SELECT token_hash, csrf FROM sessions ORDER BY 1")
        status, _, _ = b.request("POST", "/account/password", {
            "current": PASSWORD, "password": "a new password", "password2": "a new password"})
        self.assertEqual(status, 403)
        status, _, _ = b.request("POST", "/account/password", {
            "csrf": "0" * 64, "current": PASSWORD, "password": "a new password",
            "password2": "a new password"})
        self.assertEqual(status, 403)
        status, _, _ = b.request("POST", "/account/signup", {
            "name": "Bob", "email": "bob@example.org", "phone": PHONE,
            "password": PASSWORD, "password2": PASSWORD}, cookie=False)
        self.assertEqual(status, 403)
        status, _, _ = b.request("POST", "/account/logout", {})
        self.assertEqual(status, 403)
        self.assertEqual(self.pg.query("SELECT * FROM custodians"), before)
        self.assertEqual(self.pg.query("SELECT token_hash, csrf FROM sessions ORDER BY 1"),
                         sessions)

    def test_login_rate_limit_is_429(self):
        b = self.browser()
        self.signup(b)
        b.submit("/account/", "/account/logout", {})
        # only failures count: a right password between them is fine
        for i in range(4):
            self.assertEqual(self.login(b, password="wrong password %d" % i)[0], 400)
        self.assertEqual(self.login(b)[0], 303)
        b.submit("/account/", "/account/logout", {})
        # the fifth failure from this address reaches the limit
        self.assertEqual(self.login(b, password="wrong password 4")[0], 429)
        status, r, page = self.login(b)  # even the right password now
        self.assertEqual(status, 429)
        self.assertGreater(int(r.getheader("Retry-After")), 0)
        self.assertIn("Too many attempts", page)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM sessions WHERE custodian_id IS NOT NULL"), "0")
        # keys hold no address and no email
        keys = " ".join(r[0] for r in self.pg.query("SELECT key FROM rate_limits"))
        self.assertNotIn("127.0.0.1", keys)
        self.assertNotIn("example.org", keys)
        # and no log line names them
        log = self.procs[0].text()
        self.assertNotIn("ana@example.org", log)
        self.assertNotIn("6505551234", log)


if __name__ == "__main__":
    main()
