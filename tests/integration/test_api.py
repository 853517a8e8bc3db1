"""The JSON API under /api/v1/ end to end: the real http, storage and qr
modules, PostgreSQL and mosquitto. Custodians sign up through the pages,
staff is made with `keryu createsuperuser`; alarms are seeded in SQL.
Checked: tokens (issue, refresh rotation, replay revoking the family,
logout), forged access tokens (alg none, another key, a changed payload,
expired) answered 401 with WWW-Authenticate, every endpoint's success
and its audit row, field errors, 415, 413, 405 with Allow, 404 for
another custodian's rows on every single-row endpoint, staff seeing all,
409s, 403 before the phone is verified, the per-client limit (429 with
Retry-After) and the login limits shared with the login page."""
import base64
import hashlib
import hmac
import http.client
import json
import time
import uuid

from harness import BUILD, Browser, KeryuTest, main
import os
import subprocess

MODULES = "storage,qr,http"
SECRET = "integration-test-secret-key"
PASSWORD = "correct horse battery"
STAFF_EMAIL = "boss@example.org"
STAFF_PW = "staff password 123"
ZERO = "00000000-0000-4000-8000-000000000000"
PROBLEM = "https://keryu.invalid/problems/"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header, claims, key):
    """header.payload.signature, HS256 under key (None: no signature)."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = b64(hmac.new(key, head.encode(), hashlib.sha256).digest()) if key else ""
    return head + "." + sig


class Api(KeryuTest):
    def start(self, **env):
        self.migrate()
        self.k = self.keryud("--modules", MODULES, env=self.env(
            KERYU_KERNEL_SECRET_KEY=SECRET, **env))
        self.key = hmac.new(SECRET.encode(), b"keryu-api-jwt-v1", hashlib.sha256).digest()

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        """Returns (status, response, parsed JSON or bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = "Bearer " + token
        conn.request(method, "/api/v1" + path, body=data, headers=h)
        r = conn.getresponse()
        out = r.read()
        conn.close()
        ct = r.getheader("Content-Type") or ""
        if "json" in ct and out:
            out = json.loads(out)
        return r.status, r, out

    def ok(self, want, method, path, body=None, token=None, **kw):
        status, r, out = self.call(method, path, body, token, **kw)
        self.assertEqual(status, want, (method, path, out))
        return r, out

    def problem(self, want, slug, method, path, body=None, token=None, **kw):
        status, r, out = self.call(method, path, body, token, **kw)
        self.assertEqual(status, want, (method, path, out))
        self.assertEqual(r.getheader("Content-Type"), "application/problem+json")
        self.assertEqual(out["status"], want)
        self.assertTrue(out["title"])
        self.assertEqual(out["type"], PROBLEM + slug if slug else "about:blank")
        return r, out

    def fields(self, out):
        return {e["field"] for e in out["errors"]}

    def custodian(self, email, verified=True):
        b = Browser(self.http_port)
        status, _, _ = b.request("POST", "/account/signup", {
            "csrf": b.csrf("/account/signup"), "name": "Some One", "email": email,
            "phone": "+1 650 555 1234", "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303)
        if verified:
            self.pg.query("UPDATE custodians SET phone_verified_at = now() WHERE email = :'a1'",
                          email)
        return self.pg.scalar("SELECT id FROM custodians WHERE email = :'a1'", email)

    def staff(self):
        r = subprocess.run(
            [os.path.join(BUILD, "bin", "keryu"), "createsuperuser", "--email", STAFF_EMAIL,
             "--phone", "+16505550100", "--name", "The Boss", "--password-stdin"],
            input=STAFF_PW + "\n", env=self.env(), capture_output=True, text=True,
            cwd=self.work, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return self.pg.scalar("SELECT id FROM custodians WHERE email = :'a1'", STAFF_EMAIL)

    def login(self, email, password=PASSWORD):
        _, out = self.ok(200, "POST", "/auth/token", {"email": email, "password": password})
        self.assertEqual(out["token_type"], "Bearer")
        self.assertEqual(out["expires_in"], 900)
        self.assertRegex(out["refresh_token"], r"^[A-Za-z0-9_-]{43}$")
        return out

    def audit_rows(self, action):
        return self.pg.query(
            "SELECT coalesce(actor_id::text, ''), source, coalesce(target_id, ''), "
            "actor_email FROM audit_log WHERE action = :'a1' ORDER BY id", action)

    def assert_audited(self, action, actor, target=None):
        rows = self.audit_rows(action)
        self.assertTrue(rows, f"no audit row {action}")
        actor_id, source, target_id, _ = rows[-1]
        self.assertEqual(source, "api")
        self.assertEqual(actor_id, actor)
        if target is not None:
            self.assertEqual(target_id, target)

    def alarm(self, subject, resolved=False):
        return self.pg.scalar(
            "INSERT INTO alarms (event_id, subject_id, scanned_at, resolved_at) VALUES "
            "(gen_random_uuid(), :'a1', now(), CASE WHEN :'a2' = 't' THEN now() END) "
            "RETURNING id", subject, "t" if resolved else "f")

    def subject(self, token, name="Ana"):
        r, out = self.ok(201, "POST", "/subjects",
                         {"name": name, "date_of_birth": "2015-01-02", "gender": "F"}, token)
        return out["id"]


class Tokens(Api):
    def setUp(self):
        super().setUp()
        self.start()

    def test_token_refresh_rotation_replay_logout(self):
        cid = self.custodian("ana@example.org")
        t = self.login("ana@example.org")
        self.assert_audited("api.token", cid, cid)
        _, me = self.ok(200, "GET", "/me", token=t["access_token"])
        self.assertEqual(me, {**me, "id": cid, "email": "ana@example.org",
                              "phone": "+16505551234", "phone_verified": True,
                              "is_staff": False, "is_active": True})
        # rotation: the new pair works, the old refresh token is dead
        _, t2 = self.ok(200, "POST", "/auth/refresh", {"refresh_token": t["refresh_token"]})
        self.assertNotEqual(t2["refresh_token"], t["refresh_token"])
        self.ok(200, "GET", "/me", token=t2["access_token"])
        self.assert_audited("api.refresh", cid, cid)
        # replaying the old one is refused and revokes the family: t2's
        # refresh token dies too
        r, _ = self.problem(401, "unauthorized", "POST", "/auth/refresh",
                            {"refresh_token": t["refresh_token"]})
        self.problem(401, "unauthorized", "POST", "/auth/refresh",
                     {"refresh_token": t2["refresh_token"]})
        # logout: 204 for a live token, for a dead one and for nonsense
        t3 = self.login("ana@example.org")
        status, _, _ = self.call("POST", "/auth/logout", {"refresh_token": t3["refresh_token"]})
        self.assertEqual(status, 204)
        self.problem(401, "unauthorized", "POST", "/auth/refresh",
                     {"refresh_token": t3["refresh_token"]})
        status, _, _ = self.call("POST", "/auth/logout", {"refresh_token": "nothing-like-it"})
        self.assertEqual(status, 204)
        self.assertTrue(self.audit_rows("api.logout"))
        # a wrong password and an unknown email answer alike, audited
        _, a = self.problem(401, "unauthorized", "POST", "/auth/token",
                            {"email": "ana@example.org", "password": "wrong password"})
        _, b = self.problem(401, "unauthorized", "POST", "/auth/token",
                            {"email": "nobody@example.org", "password": "wrong password"})
        self.assertEqual(a, b)
        rows = self.audit_rows("login.failed")
        self.assertEqual([(r[1], r[3]) for r in rows],
                         [("api", "ana@example.org"), ("api", "nobody@example.org")])
        # validation
        _, out = self.problem(400, "validation", "POST", "/auth/token", {"email": "x"})
        self.assertEqual(self.fields(out), {"password"})
        _, out = self.problem(400, "validation", "POST", "/auth/token",
                              {"email": "a@b.c", "password": "p" * 1025, "x": 1})
        self.assertEqual(self.fields(out), {"password", "x"})

    def test_forged_and_expired_tokens_are_401(self):
        cid = self.custodian("ana@example.org")
        good = self.login("ana@example.org")["access_token"]
        now = int(time.time())
        claims = {"iss": "keryu", "sub": cid, "iat": now, "exp": now + 600,
                  "jti": str(uuid.uuid4()), "typ": "access"}
        # the hand-made token is accepted: the refusals are for one change
        self.ok(200, "GET", "/me", token=jwt({"alg": "HS256", "typ": "JWT"}, claims, self.key))
        head, payload, sig = good.split(".")
        other = dict(json.loads(base64.urlsafe_b64decode(payload + "==")), sub=str(uuid.uuid4()))
        forged = {
            "alg none": jwt({"alg": "none", "typ": "JWT"}, claims, None),
            "alg none signed": jwt({"alg": "none", "typ": "JWT"}, claims, self.key),
            "HS384": jwt({"alg": "HS384", "typ": "JWT"}, claims, self.key),
            "other key": jwt({"alg": "HS256", "typ": "JWT"}, claims, b"k" * 32),
            "the secret itself": jwt({"alg": "HS256", "typ": "JWT"}, claims, SECRET.encode()),
            "tampered": head + "." + b64(json.dumps(other).encode()) + "." + sig,
            "expired": jwt({"alg": "HS256", "typ": "JWT"},
                           dict(claims, iat=now - 1000, exp=now - 10), self.key),
            "refresh typ": jwt({"alg": "HS256", "typ": "JWT"}, dict(claims, typ="refresh"),
                               self.key),
            "other iss": jwt({"alg": "HS256", "typ": "JWT"}, dict(claims, iss="x"), self.key),
            "unknown sub": jwt({"alg": "HS256", "typ": "JWT"},
                               dict(claims, sub=str(uuid.uuid4())), self.key),
            "garbage": "abc.def.ghi",
        }
        for what, token in forged.items():
            r, _ = self.problem(401, "unauthorized", "GET", "/me", token=token)
            self.assertEqual(r.getheader("WWW-Authenticate"),
                             'Bearer realm="keryu", error="invalid_token"', what)
        r, _ = self.problem(401, "unauthorized", "GET", "/subjects")
        self.assertEqual(r.getheader("WWW-Authenticate"), 'Bearer realm="keryu"')
        # deactivated: its live access token stops working at once
        self.keryu("custodian", "deactivate", "ana@example.org")
        self.problem(401, "unauthorized", "GET", "/me", token=good)


class Endpoints(Api):
    def setUp(self):
        super().setUp()
        self.start(KERYU_HTTP_API_MAX_BYTES="2048")
        self.cid = self.custodian("ana@example.org")
        self.t = self.login("ana@example.org")["access_token"]

    def test_every_endpoint(self):
        t, cid = self.t, self.cid
        # subjects
        r, s = self.ok(201, "POST", "/subjects", {
            "name": "Ana", "date_of_birth": "2015-01-02", "gender": "F",
            "allergies": "peanuts", "public_fields": ["photo", "first_name"]}, t)
        sid = s["id"]
        self.assertEqual(r.getheader("Location"), f"/api/v1/subjects/{sid}")
        self.assertEqual((s["custodian_id"], s["name"], s["allergies"], s["medications"],
                          s["public_fields"], s["missing"], s["has_photo"]),
                         (cid, "Ana", "peanuts", None, ["photo", "first_name"], False, False))
        self.assert_audited("subject.create", cid, sid)
        self.assertEqual(self.ok(200, "GET", f"/subjects/{sid}", token=t)[1], s)
        _, s2 = self.ok(200, "PATCH", f"/subjects/{sid}", {
            "name": "Ana B", "missing": True, "public_fields": [], "allergies": None}, t)
        self.assertEqual((s2["name"], s2["missing"], s2["public_fields"], s2["allergies"],
                          s2["date_of_birth"]), ("Ana B", True, [], None, "2015-01-02"))
        self.assert_audited("subject.update", cid, sid)
        self.assertEqual(self.pg.scalar("SELECT missing FROM subjects "
                                        "WHERE id = :'a1'", sid), "t")
        _, lst = self.ok(200, "GET", "/subjects?limit=1", token=t)
        self.assertEqual((lst["total"], lst["offset"], lst["limit"]), (1, 0, 1))
        self.assertEqual(lst["items"][0]["id"], sid)
        self.assertEqual(lst["items"][0]["last_alarm_at"], None)
        # contacts
        _, k = self.ok(201, "POST", f"/subjects/{sid}/contacts", {
            "name": "Bo", "phone": "+16505550199", "channel": "log",
            "fallback_channel": "sms"}, t)
        self.assertEqual((k["subject_id"], k["position"], k["verified"], k["fallback_channel"]),
                         (sid, 1, False, "sms"))
        self.assert_audited("contact.create", cid, k["id"])
        _, ks = self.ok(200, "GET", f"/subjects/{sid}/contacts", token=t)
        self.assertEqual(ks["items"], [k])
        _, out = self.problem(400, "validation", "POST", f"/subjects/{sid}/contacts", {
            "name": "", "phone": "6505550199", "channel": "pigeon",
            "fallback_channel": "log"}, t)
        self.assertEqual(self.fields(out), {"name", "phone", "channel"})
        _, out = self.problem(400, "validation", "POST", f"/subjects/{sid}/contacts", {
            "name": "Cy", "phone": "+16505550198", "channel": "log",
            "fallback_channel": "log"}, t)
        self.assertEqual(self.fields(out), {"fallback_channel"})
        status, _, _ = self.call("DELETE", f"/subjects/{sid}/contacts/{k['id']}", token=t)
        self.assertEqual(status, 204)
        self.assert_audited("contact.delete", cid, k["id"])
        self.problem(404, "not-found", "DELETE", f"/subjects/{sid}/contacts/{k['id']}", token=t)
        for i in range(20):
            self.ok(201, "POST", f"/subjects/{sid}/contacts", {
                "name": f"C{i}", "phone": f"+165055501{i:02d}", "channel": "log"}, t)
        self.problem(409, "conflict", "POST", f"/subjects/{sid}/contacts", {
            "name": "One more", "phone": "+16505550300", "channel": "log"}, t)
        # tags
        _, tag = self.ok(201, "POST", f"/subjects/{sid}/tags", token=t)
        self.assertEqual((tag["subject_id"], tag["is_active"], tag["activated_at"],
                          tag["last_used"]), (sid, False, None, None))
        self.assertEqual(tag["scan_url"],
                         f"http://127.0.0.1:{self.http_port}/subjects/qr/{tag['uuid']}/scan/")
        self.assert_audited("tag.create", cid, tag["uuid"])
        self.ok(201, "POST", f"/subjects/{sid}/tags", {}, t)
        self.problem(400, "validation", "POST", f"/subjects/{sid}/tags", {"x": 1}, t)
        _, tags = self.ok(200, "GET", f"/subjects/{sid}/tags", token=t)
        self.assertEqual(len(tags["items"]), 2)
        _, on = self.ok(200, "POST", f"/tags/{tag['uuid']}/activate", token=t)
        self.assertTrue(on["is_active"])
        self.assertIsNotNone(on["activated_at"])
        self.assert_audited("tag.activate", cid, tag["uuid"])
        self.assertTrue(self.ok(200, "GET", f"/tags/{tag['uuid']}", token=t)[1]["is_active"])
        _, off = self.ok(200, "POST", f"/tags/{tag['uuid']}/deactivate", token=t)
        self.assertFalse(off["is_active"])
        self.assert_audited("tag.deactivate", cid, tag["uuid"])
        r, png = self.ok(200, "GET", f"/tags/{tag['uuid']}/qr.png", token=t)
        self.assertEqual(r.getheader("Content-Type"), "image/png")
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        r, svg = self.ok(200, "GET", f"/tags/{tag['uuid']}/qr.svg", token=t)
        self.assertEqual(r.getheader("Content-Type"), "image/svg+xml")
        self.assertIn(b"<svg", svg)
        # alarms
        aid = self.alarm(sid)
        done = self.alarm(sid, resolved=True)
        _, al = self.ok(200, "GET", "/alarms", token=t)
        self.assertEqual({a["id"] for a in al["items"]}, {aid, done})
        self.assertEqual(al["total"], 2)
        _, al = self.ok(200, "GET", f"/alarms?state=open&subject_id={sid}&limit=5", token=t)
        self.assertEqual([a["id"] for a in al["items"]], [aid])
        self.assertEqual((al["items"][0]["custodian_id"], al["items"][0]["subject_name"]),
                         (cid, "Ana B"))
        _, a = self.ok(200, "GET", f"/alarms/{aid}", token=t)
        self.assertEqual((a["acknowledged_at"], a["latitude"], a["resolved_at"],
                          a["timeline"]), (None, None, None, []))
        _, a = self.ok(200, "POST", f"/alarms/{aid}/acknowledge", token=t)
        self.assertIsNotNone(a["acknowledged_at"])
        # an alarm-level step has no notification: nulls, never ""
        step = [x for x in a["timeline"] if x["status"] == "ACKNOWLEDGED"]
        self.assertEqual([(x["notification_id"], x["channel"], x["recipient_hint"])
                          for x in step], [(None, None, None)])
        self.assert_audited("alarm.acknowledge", cid, aid)
        self.problem(409, "conflict", "POST", f"/alarms/{aid}/acknowledge", {}, t)
        _, a = self.ok(200, "POST", f"/alarms/{aid}/resolve", {"notes": "found her"}, t)
        self.assertEqual((a["resolved"], a["resolution_notes"]), (True, "found her"))
        self.assert_audited("alarm.resolve", cid, aid)
        self.problem(409, "conflict", "POST", f"/alarms/{aid}/resolve", token=t)
        _, out = self.problem(400, "validation", "GET", "/alarms?state=closed&from=2024-02-30"
                              "&limit=101&offset=-1&x=1", token=t)
        self.assertEqual(self.fields(out), {"x"})  # unknown parameters first
        _, out = self.problem(400, "validation", "GET",
                              "/alarms?state=closed&from=2024-02-30&limit=101&offset=-1", token=t)
        self.assertEqual(self.fields(out), {"state", "from", "limit", "offset"})
        # delete
        status, _, _ = self.call("DELETE", f"/subjects/{sid}", token=t)
        self.assertEqual(status, 204)
        self.assert_audited("subject.delete", cid, sid)
        self.problem(404, "not-found", "GET", f"/subjects/{sid}", token=t)

    def test_request_checks(self):
        t = self.t
        # validation: every bad field is named
        _, out = self.problem(400, "validation", "POST", "/subjects", {
            "date_of_birth": "2015-02-30", "gender": "X", "allergies": 5,
            "doctor_name": "x" * 101, "public_fields": ["photo", "photo"],
            "medications": None, "nickname": "y"}, t)
        self.assertEqual(self.fields(out), {"name", "date_of_birth", "gender", "allergies",
                                            "doctor_name", "public_fields", "nickname"})
        self.problem(400, "validation", "POST", "/subjects", raw=b"[1,2]", token=t,
                     headers={"Content-Type": "application/json"})
        self.problem(400, "validation", "POST", "/subjects", raw=b"{nope", token=t,
                     headers={"Content-Type": "application/json"})
        self.problem(415, "unsupported-media-type", "POST", "/subjects", raw=b"name=Ana",
                     token=t, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.ok(201, "POST", "/subjects", raw=json.dumps(
            {"name": "Ana", "date_of_birth": "2015-01-02"}).encode(), token=t,
            headers={"Content-Type": "application/json; charset=utf-8"})
        self.problem(413, "payload-too-large", "POST", "/subjects",
                     {"name": "Ana", "care_instructions": "x" * 3000}, t)
        # methods and paths
        r, _ = self.problem(405, "method-not-allowed", "PUT", "/subjects", {}, t)
        self.assertEqual(r.getheader("Allow"), "GET, HEAD, POST")
        r, _ = self.problem(405, "method-not-allowed", "POST", f"/subjects/{ZERO}", {}, t)
        self.assertEqual(r.getheader("Allow"), "GET, HEAD, PATCH, DELETE")
        self.problem(404, "not-found", "GET", "/nothing/here", token=t)
        self.problem(404, "not-found", "GET", "/subjects/not-a-uuid", token=t)
        self.problem(400, "validation", "GET", "/subjects?q=ana", token=t)
        self.problem(400, "validation", "GET", "/me?x=1", token=t)
        status, r, body = self.call("HEAD", "/me", token=t)
        self.assertEqual((status, body), (200, b""))
        # the route classes of /metrics never carry an id
        metrics = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        metrics.request("GET", "/metrics")
        text = metrics.getresponse().read().decode()
        self.assertIn('route="/api/v1/subjects/*"', text)
        self.assertNotIn(ZERO, text)

    def test_unverified_phone_cannot_write(self):
        self.custodian("cy@example.org", verified=False)
        t = self.login("cy@example.org")["access_token"]
        _, out = self.problem(403, "forbidden", "POST", "/subjects",
                              {"name": "Ana", "date_of_birth": "2015-01-02"}, t)
        self.assertIn("phone", out["detail"])
        self.ok(200, "GET", "/subjects", token=t)


class Scope(Api):
    def setUp(self):
        super().setUp()
        self.start()

    def test_other_custodians_rows_are_404_and_staff_sees_all(self):
        a_id = self.custodian("ana@example.org")
        self.custodian("bo@example.org")
        a = self.login("ana@example.org")["access_token"]
        b = self.login("bo@example.org")["access_token"]
        sid = self.subject(a)
        _, k = self.ok(201, "POST", f"/subjects/{sid}/contacts",
                       {"name": "Bo", "phone": "+16505550199", "channel": "log"}, a)
        _, tag = self.ok(201, "POST", f"/subjects/{sid}/tags", token=a)
        aid = self.alarm(sid)
        b_sid = self.subject(b, "Bea")
        single = [
            ("GET", f"/subjects/{sid}", None), ("PATCH", f"/subjects/{sid}", {"name": "X"}),
            ("DELETE", f"/subjects/{sid}", None), ("GET", f"/subjects/{sid}/contacts", None),
            ("POST", f"/subjects/{sid}/contacts",
             {"name": "Cy", "phone": "+16505550198", "channel": "log"}),
            ("DELETE", f"/subjects/{sid}/contacts/{k['id']}", None),
            ("DELETE", f"/subjects/{b_sid}/contacts/{k['id']}", None),
            ("GET", f"/subjects/{sid}/tags", None), ("POST", f"/subjects/{sid}/tags", None),
            ("GET", f"/tags/{tag['uuid']}", None),
            ("POST", f"/tags/{tag['uuid']}/activate", None),
            ("POST", f"/tags/{tag['uuid']}/deactivate", None),
            ("GET", f"/tags/{tag['uuid']}/qr.png", None),
            ("GET", f"/tags/{tag['uuid']}/qr.svg", None),
            ("GET", f"/alarms/{aid}", None), ("POST", f"/alarms/{aid}/acknowledge", None),
            ("POST", f"/alarms/{aid}/resolve", None),
        ]
        missing = {}
        for method, path, body in single:
            _, out = self.problem(404, "not-found", method, path, body, b)
            missing.setdefault(out["detail"], []).append(path)
        self.assertEqual(len(missing), 1)  # one answer: same as a missing row
        self.assertEqual(self.ok(200, "GET", "/alarms", token=b)[1]["total"], 0)
        self.assertEqual([s["id"] for s in self.ok(200, "GET", "/subjects", token=b)[1]["items"]],
                         [b_sid])
        # nothing changed
        self.assertEqual(self.ok(200, "GET", f"/subjects/{sid}", token=a)[1]["name"], "Ana")
        # staff: every row, lists and single ones, and q
        staff_id = self.staff()
        s = self.login(STAFF_EMAIL, STAFF_PW)["access_token"]
        _, lst = self.ok(200, "GET", "/subjects", token=s)
        self.assertEqual({x["id"] for x in lst["items"]}, {sid, b_sid})
        _, lst = self.ok(200, "GET", "/subjects?q=ana%40example", token=s)
        self.assertEqual([(x["id"], x["custodian_id"]) for x in lst["items"]], [(sid, a_id)])
        _, al = self.ok(200, "GET", "/alarms", token=s)
        self.assertEqual([(x["id"], x["custodian_id"]) for x in al["items"]], [(aid, a_id)])
        self.assertEqual(self.ok(200, "GET", f"/subjects/{sid}", token=s)[1]["custodian_id"],
                         a_id)
        self.ok(200, "GET", f"/tags/{tag['uuid']}", token=s)
        self.ok(200, "GET", f"/subjects/{sid}/contacts", token=s)
        _, al = self.ok(200, "POST", f"/alarms/{aid}/acknowledge", token=s)
        self.assert_audited("alarm.acknowledge", staff_id, aid)
        self.problem(404, "not-found", "GET", f"/alarms/{ZERO}", token=s)


class Limits(Api):
    def test_rate_limit_per_client(self):
        self.start(KERYU_HTTP_API_RATE_PER_IP="5")
        self.custodian("ana@example.org")
        # fixed windows: start just after one begins so all fall in it
        if time.time() % 60 > 50:
            time.sleep(60 - time.time() % 60 + 0.1)
        t = self.login("ana@example.org")["access_token"]
        seen = []
        for _ in range(6):
            status, r, _ = self.call("GET", "/me", token=t)
            seen.append(status)
            if status == 429:
                break
        self.assertEqual(seen[-1], 429, seen)
        self.assertEqual(len(seen), 5)  # the token request counted too
        r, _ = self.problem(429, "rate-limited", "GET", "/me", token=t)
        self.assertTrue(1 <= int(r.getheader("Retry-After")) <= 60)

    def test_token_failures_share_the_login_limits(self):
        self.start()
        self.custodian("ana@example.org")
        # five failures for one email from one address: the login page's
        # limit; the fifth answers 429, then the client is blocked there
        statuses = [self.call("POST", "/auth/token", {"email": "ana@example.org",
                                                      "password": "wrong password"})[0]
                    for _ in range(5)]
        self.assertEqual(statuses, [401, 401, 401, 401, 429])
        r, _ = self.problem(429, "rate-limited", "POST", "/auth/token",
                            {"email": "ana@example.org", "password": PASSWORD})
        self.assertGreater(int(r.getheader("Retry-After")), 0)
        b = Browser(self.http_port)
        status, _, _ = b.request("POST", "/account/login", {
            "csrf": b.csrf("/account/login"), "email": "ana@example.org",
            "password": PASSWORD})
        self.assertEqual(status, 429)


if __name__ == "__main__":
    main()
