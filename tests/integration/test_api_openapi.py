"""The OpenAPI document (docs/api/openapi.json) against the real API.

A real keryud (storage, qr, http, alarms, log; PostgreSQL, mosquitto)
gets a staff account (keryu createsuperuser), custodians with and without a
verified phone, and data made through the API itself (subjects, contacts,
tags; an alarm from a real scan of the tag). Then every path and method of
the document is called for real: each answer's status must be one the
document lists for that operation, its Content-Type one listed for that
status, its documented headers present and well formed, and its body valid
against the documented schema (JSON Schema 2020-12, references resolved
against the whole document). Every operation must be seen succeeding and
failing with a documented error at least once; the test lists any that
were not. The other way round: undocumented paths under /api/v1/ must be
404 problems and documented paths must answer 405 with the right Allow for
methods the document does not list.

Works with Debian 12's python3-jsonschema (4.10, RefResolver) and with
newer ones (the referencing library)."""
import copy
import datetime
import http.client
import json
import os
import subprocess
import sys
import traceback
import unittest
import urllib.parse
import uuid
import warnings

import jsonschema

from harness import ROOT, Browser, KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,log"
PASSWORD = "correct horse battery"
STAFF_PW = "staff password 123"
BASE = "/api/v1"
DOC_URI = "https://keryu.invalid/openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
with open(os.path.join(ROOT, "docs", "api", "openapi.json"), "rb") as f:
    DOC_BYTES = f.read()
DOC = json.loads(DOC_BYTES)
ZERO = "00000000-0000-4000-8000-000000000000"


def pointer(*parts):
    """A URI fragment (JSON pointer) for parts of DOC."""
    return "#/" + "/".join(urllib.parse.quote(str(p).replace("~", "~0").replace("/", "~1"),
                                              safe="~") for p in parts)


def deref(node, where):
    """Follows a local $ref: (node, its pointer parts)."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        where = [urllib.parse.unquote(p).replace("~1", "/").replace("~0", "~")
                 for p in ref[2:].split("/")]
        node = DOC
        for p in where:
            node = node[p]
    return node, where


def validator(where):
    """A 2020-12 validator for the schema at pointer parts where, whose
    references resolve against the whole document."""
    schema = {"$ref": DOC_URI + pointer(*where)}
    checker = jsonschema.FormatChecker()
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:  # jsonschema < 4.18 (Debian 12 has 4.10)
        resolver = jsonschema.RefResolver(base_uri=DOC_URI, referrer=DOC)
        return jsonschema.Draft202012Validator(schema, resolver=resolver,
                                               format_checker=checker)
    registry = Registry().with_resource(DOC_URI, Resource(contents=DOC, specification=DRAFT202012))
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)


def operations():
    """[(method, path template)] of the document, in its order."""
    return [(m.upper(), p) for p, item in DOC["paths"].items() for m in item if m in METHODS]


class Loose(dict):
    """A JSON object whose missing keys read as None, so that the walk
    goes on (and reports) when an answer is not the one expected."""

    def __missing__(self, key):
        return None


class Answer:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        ctype = headers.get("content-type", "")
        self.ctype = ctype.split(";")[0].strip().lower()
        self.json = Loose()
        if self.ctype.endswith("json") and raw:
            self.json = json.loads(raw, object_hook=Loose)


class ApiOpenapi(KeryuTest):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.migrate()
        self.keryud("--modules", MODULES, env=self.env(
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key",
            # the walk makes a few hundred requests from one address
            KERYU_HTTP_API_RATE_PER_IP="100000",
            KERYU_HTTP_API_RATE_PER_TOKEN="100000"))
        self.mismatches = []
        self.seen = {op: set() for op in operations()}
        self.addCleanup(self.print_mismatches)

    def print_mismatches(self):
        """On any failure, what disagreed so far (the end of the walk
        asserts on the same list)."""
        if self.mismatches:
            print("\n".join(["disagreements:"] + self.mismatches), file=sys.stderr)

    # ---- talking to the API ----

    def request(self, method, path, body=None, token=None, ctype="application/json",
                raw=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and ctype:
            h["Content-Type"] = ctype
        if token:
            h["Authorization"] = "Bearer " + token
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        out = Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        conn.close()
        return out

    def mismatch(self, what, text):
        self.mismatches.append(f"{what}: {text}")

    # Soft assertions: the walk goes on after one, so that a single run
    # lists every disagreement; the end of the walk fails on any.
    @staticmethod
    def where(what):
        """what, or the line of the walk that checked."""
        for frame in reversed(traceback.extract_stack()[:-2]):
            if frame.name not in ("same", "differ", "holds", "holds_in", "holds_not_in"):
                return what or f"check at line {frame.lineno}"
        return what

    def same(self, got, want, what=""):
        if got != want:
            self.mismatch(self.where(what), f"{got!r} != {want!r}")

    def differ(self, got, other, what=""):
        if got == other:
            self.mismatch(self.where(what), f"{got!r} == {other!r}")

    def holds(self, cond, what=""):
        if not cond:
            self.mismatch(self.where(what), "does not hold")

    def holds_in(self, part, whole, what=""):
        self.holds(part in whole, what or f"{part!r} in the answer")

    def holds_not_in(self, part, whole, what=""):
        self.holds(part not in whole, what or f"{part!r} not in the answer")

    def check(self, method, template, a, what):
        """Checks answer a against the document's operation; records it."""
        op = DOC["paths"][template][method.lower()]
        key = (method, template)
        self.seen[key].add(a.status)
        code = str(a.status)
        if code not in op["responses"]:
            self.mismatch(what, f"status {a.status} is not documented (documented: "
                                f"{', '.join(op['responses'])}); body {a.raw[:300]!r}")
            return
        resp, where = deref(op["responses"][code],
                            ["paths", template, method.lower(), "responses", code])
        content = resp.get("content")
        if not content:
            if a.raw:
                self.mismatch(what, f"{a.status} has a body, documented without: {a.raw[:200]!r}")
        elif a.ctype not in content:
            self.mismatch(what, f"{a.status} Content-Type {a.ctype!r}, documented "
                                f"{sorted(content)}")
        else:
            self.check_body(a, where + ["content", a.ctype, "schema"], what)
        for name, hdr in resp.get("headers", {}).items():
            hdr, _ = deref(hdr, [])
            value = a.headers.get(name.lower())
            if value is None:
                self.mismatch(what, f"{a.status} lacks the documented header {name}")
                continue
            schema = hdr.get("schema", {})
            if schema.get("type") == "integer":
                try:
                    value = int(value)
                except ValueError:
                    self.mismatch(what, f"header {name}: {value!r} is not an integer")
                    continue
            errs = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
            if errs:
                self.mismatch(what, f"header {name}: {value!r}: {errs[0].message}")

    def check_body(self, a, where, what):
        if a.ctype == "image/png":
            if not a.raw.startswith(b"\x89PNG\r\n\x1a\n"):
                self.mismatch(what, "not a PNG image")
        elif a.ctype == "image/svg+xml":
            if b"<svg" not in a.raw[:400]:
                self.mismatch(what, "not an SVG image")
        elif a.ctype == "text/html":
            if not a.raw.startswith(b"<!DOCTYPE html>"):
                self.mismatch(what, "not an HTML page")
        elif a.ctype.endswith("json"):
            for e in validator(where).iter_errors(a.json):
                path = "/".join(str(p) for p in e.absolute_path)
                self.mismatch(what, f"{a.status} body at /{path}: {e.message}")
        else:
            self.mismatch(what, f"no check for content type {a.ctype}")

    def call(self, method, template, args=None, query=None, body=None, token=None,
             expect=None, **kw):
        """Calls the operation (method, template) with path args and query,
        checks the answer against the document and, when expect is given,
        that the status is expect (a mismatch otherwise). Returns the
        answer."""
        path = BASE + template.format(**(args or {}))
        if query:
            path += "?" + urllib.parse.urlencode(query)
        a = self.request(method, path, body=body, token=token, **kw)
        what = f"{method} {template}" + (f" ({path})" if args or query else "")
        self.check(method, template, a, what)
        if expect is not None and a.status != expect:
            # kept going, so that one run lists every disagreement
            self.mismatch(what, f"expected {expect}, got {a.status}: {a.raw[:300]!r}")
        return a

    # ---- people ----

    def signup(self, email, phone, verified=True):
        b = Browser(self.http_port)
        status, _, text = b.request("POST", "/account/signup", {
            "csrf": b.csrf("/account/signup"), "name": "Ana Pérez", "email": email,
            "phone": phone, "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303, text)
        if verified:
            self.pg.query("UPDATE custodians SET phone_verified_at = now() WHERE email = :'a1'",
                          email)

    def token(self, email, password=PASSWORD):
        a = self.call("POST", "/auth/token", body={"email": email, "password": password},
                      expect=200)
        return a.json

    # ---- the walk ----

    def test_every_operation_matches_the_document(self):
        self.assertEqual(DOC["openapi"], "3.1.0")
        r = subprocess.run([os.path.join(os.environ["KERYU_BUILD_DIR"], "bin", "keryu"),
                            "createsuperuser", "--email", "staff@example.org",
                            "--phone", "+16505550100", "--password-stdin"],
                           input=STAFF_PW + "\n", env=self.env(), capture_output=True,
                           text=True, cwd=self.work, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.signup("a@example.org", "+16505551234")
        self.signup("c@example.org", "+16505555678")
        self.signup("b@example.org", "+16505559876", verified=False)

        self.auth()
        a = self.token("a@example.org")["access_token"]
        b = self.token("b@example.org")["access_token"]
        c = self.token("c@example.org")["access_token"]
        staff = self.token("staff@example.org", STAFF_PW)["access_token"]
        self.tokens = {"a": a, "b": b, "c": c, "staff": staff}

        me = self.call("GET", "/me", token=a, expect=200).json
        self.same((me["email"], me["phone_verified"], me["is_staff"]),
                         ("a@example.org", True, False))
        self.holds(self.call("GET", "/me", token=staff, expect=200).json["is_staff"])
        self.holds(not self.call("GET", "/me", token=b, expect=200).json["phone_verified"])

        sid = self.subjects(a, staff, c)
        self.contacts(a, c, sid)
        tag = self.tags(a, c, sid)
        self.alarms(a, staff, c, sid, tag)
        self.documents()
        self.generic_errors()
        self.reverse()
        # delete last: the subject takes its contacts, tags and alarms along
        self.call("DELETE", "/subjects/{id}", {"id": sid}, token=c, expect=404)
        self.call("DELETE", "/subjects/{id}", {"id": sid}, token=a, expect=204)
        self.call("GET", "/subjects/{id}", {"id": sid}, token=a, expect=404)
        self.call("DELETE", "/subjects/{id}", {"id": sid}, token=a, expect=404)

        for (m, p), s in self.seen.items():
            if not any(200 <= x < 300 for x in s) or not any(400 <= x < 500 for x in s):
                self.mismatch(f"{m} {p}", f"not seen both succeeding and failing with a"
                                          f" documented error (statuses seen: {sorted(s)})")
        self.assertEqual(self.mismatches, [], "the implementation and the document disagree")

    def auth(self):
        t = self.token("a@example.org")
        first = t["refresh_token"]
        self.same(t["token_type"], "Bearer")
        # wrong password and unknown email: the same 401
        x = self.call("POST", "/auth/token", body={"email": "a@example.org", "password": "nope"},
                      expect=401)
        y = self.call("POST", "/auth/token", body={"email": "who@example.org", "password": "x"},
                      expect=401)
        self.same(x.json, y.json)
        self.call("POST", "/auth/token", body={"email": "a@example.org"}, expect=400)
        self.call("POST", "/auth/token", body={"email": "a@example.org", "password": PASSWORD,
                                                "remember": True}, expect=400)
        self.call("POST", "/auth/token", body={"email": 5, "password": PASSWORD}, expect=400)
        self.call("POST", "/auth/token", body={"email": "a" * 255, "password": PASSWORD},
                  expect=400)
        # rotation: the new pair works once, the old token is dead
        n = self.call("POST", "/auth/refresh", body={"refresh_token": first}, expect=200).json
        self.differ(n["refresh_token"], first)
        n2 = self.call("POST", "/auth/refresh", body={"refresh_token": n["refresh_token"]},
                       expect=200).json
        # reusing a rotated one revokes the family: the newest dies too
        self.call("POST", "/auth/refresh", body={"refresh_token": first}, expect=401)
        self.call("POST", "/auth/refresh", body={"refresh_token": n2["refresh_token"]},
                  expect=401)
        self.call("POST", "/auth/refresh", body={}, expect=400)
        # logout: 204, also for a token nobody has
        t = self.token("a@example.org")
        self.call("POST", "/auth/logout", body={"refresh_token": t["refresh_token"]}, expect=204)
        self.call("POST", "/auth/refresh", body={"refresh_token": t["refresh_token"]},
                  expect=401)
        self.call("POST", "/auth/logout", body={"refresh_token": "A" * 43}, expect=204)
        self.call("POST", "/auth/logout", body={"refresh_token": 1}, expect=400)

    def subjects(self, a, staff, c):
        full = {"name": "Ana María Pérez <b>", "date_of_birth": "2015-01-02", "gender": "F",
                "medical_conditions": "Asthma", "allergies": "Peanuts", "medications": "None",
                "care_instructions": "Speak softly", "doctor_name": "Dr. Who",
                "doctor_speciality": "Paediatrics", "doctor_phone": "+1 650 555 0000",
                "doctor_address": "1 Main St", "public_fields": ["first_name", "allergies"]}
        s = self.call("POST", "/subjects", body=full, token=a, expect=201)
        sid = s.json["id"]
        self.same(s.headers.get("location"), f"{BASE}/subjects/{sid}")
        for k, v in full.items():
            self.same(s.json[k], v, k)
        self.same((s.json["missing"], s.json["has_photo"]), (False, False))
        m = self.call("POST", "/subjects", body={"name": "Minimal", "date_of_birth": "2016-03-04"},
                      token=a, expect=201).json
        self.same((m["gender"], m["allergies"], m["public_fields"]),
                         ("U", None, ["photo", "first_name", "care_instructions", "allergies"]))
        ok = {"name": "x", "date_of_birth": "2016-03-04"}
        tomorrow = (datetime.datetime.now(datetime.timezone.utc).date()
                    + datetime.timedelta(days=1)).isoformat()
        for bad in ({}, {"date_of_birth": "2016-03-04"}, {"name": "x"}, dict(ok, name=""),
                    dict(ok, name="x" * 101), dict(ok, gender="X"), dict(ok, gender=None),
                    dict(ok, date_of_birth="2015-02-30"), dict(ok, date_of_birth=None),
                    dict(ok, date_of_birth=tomorrow), dict(ok, date_of_birth="1899-12-31"),
                    dict(ok, nickname="y"), dict(ok, public_fields=["photo", "photo"]),
                    dict(ok, public_fields=["secrets"]), dict(ok, allergies="x" * 2001),
                    dict(ok, missing=True), dict(ok, name=["x"])):
            a_ = self.call("POST", "/subjects", body=bad, token=a, expect=400)
            self.holds(a_.json.get("errors"), (bad, a_.json))
        self.call("POST", "/subjects", raw=b"[1]", token=a, expect=400)
        self.call("POST", "/subjects", raw=b"{not json", token=a, expect=400)

        lst = self.call("GET", "/subjects", token=a, expect=200).json
        self.same(lst["total"], 2)
        self.same((lst["offset"], lst["limit"]), (0, 20))
        page = self.call("GET", "/subjects", query={"offset": 1, "limit": 1}, token=a,
                         expect=200).json
        self.same([x["id"] for x in page["items"]], [sid])
        for q in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"},
                  {"q": "Ana"}, {"sort": "name"}):
            self.call("GET", "/subjects", query=q, token=a, expect=400)
        self.same(self.call("GET", "/subjects", token=c, expect=200).json["total"], 0)
        everyone = self.call("GET", "/subjects", query={"q": "a@example"}, token=staff,
                             expect=200).json
        self.same(everyone["total"], 2)

        self.call("GET", "/subjects/{id}", {"id": sid}, token=a, expect=200)
        self.call("GET", "/subjects/{id}", {"id": sid}, token=staff, expect=200)
        other = self.call("GET", "/subjects/{id}", {"id": sid}, token=c, expect=404)
        none = self.call("GET", "/subjects/{id}", {"id": str(uuid.uuid4())}, token=a, expect=404)
        self.same(other.json, none.json)
        self.call("GET", "/subjects/{id}", {"id": "not-a-uuid"}, token=a, expect=404)

        p = self.call("PATCH", "/subjects/{id}", {"id": sid},
                      body={"missing": True, "allergies": None,
                            "public_fields": ["photo", "care_instructions"]},
                      token=a, expect=200).json
        self.same((p["missing"], p["allergies"], p["name"]),
                         (True, None, full["name"]))
        self.call("PATCH", "/subjects/{id}", {"id": sid}, body={"name": None}, token=a,
                  expect=400)
        self.call("PATCH", "/subjects/{id}", {"id": sid}, body={"missing": "yes"}, token=a,
                  expect=400)
        self.call("PATCH", "/subjects/{id}", {"id": sid}, body={"missing": False}, token=c,
                  expect=404)
        self.call("PATCH", "/subjects/{id}", {"id": sid}, body={"missing": False},
                  token=self.tokens["b"], expect=403)
        self.call("DELETE", "/subjects/{id}", {"id": m["id"]}, token=self.tokens["b"], expect=403)
        self.call("DELETE", "/subjects/{id}", {"id": m["id"]}, token=a, expect=204)
        return sid

    def contacts(self, a, c, sid):
        args = {"id": sid}
        self.same(self.call("GET", "/subjects/{id}/contacts", args, token=a,
                                   expect=200).json, {"items": []})
        k = self.call("POST", "/subjects/{id}/contacts", args,
                      body={"name": "Bea", "phone": "+16505550001", "channel": "sms",
                            "fallback_channel": "log"}, token=a, expect=201).json
        self.same((k["position"], k["verified"], k["fallback_channel"]), (1, False, "log"))
        for bad in ({"name": "Bea", "phone": "555-1234", "channel": "sms"},
                    {"name": "Bea", "phone": "+16505550001", "channel": "carrier-pigeon"},
                    {"name": "Bea", "phone": "+16505550001", "channel": "sms",
                     "fallback_channel": "sms"},
                    {"name": "Bea", "phone": "+16505550001"},
                    {"name": "Bea", "phone": "+16505550001", "channel": "sms", "email": "x"}):
            self.call("POST", "/subjects/{id}/contacts", args, body=bad, token=a, expect=400)
        self.call("POST", "/subjects/{id}/contacts", args,
                  body={"name": "Bea", "phone": "+16505550001", "channel": "sms"}, token=c,
                  expect=404)
        for i in range(19):
            self.call("POST", "/subjects/{id}/contacts", args,
                      body={"name": f"C{i}", "phone": f"+165055510{i:02d}", "channel": "log",
                            "fallback_channel": None}, token=a, expect=201)
        self.call("POST", "/subjects/{id}/contacts", args,
                  body={"name": "One too many", "phone": "+16505559999", "channel": "log"},
                  token=a, expect=409)
        items = self.call("GET", "/subjects/{id}/contacts", args, token=a, expect=200).json["items"]
        self.same([x["position"] for x in items], list(range(1, 21)))
        self.call("GET", "/subjects/{id}/contacts", args, token=c, expect=404)
        d = {"id": sid, "contact_id": k["id"]}
        self.call("DELETE", "/subjects/{id}/contacts/{contact_id}", d, token=c, expect=404)
        self.call("DELETE", "/subjects/{id}/contacts/{contact_id}", d, token=a, expect=204)
        self.call("DELETE", "/subjects/{id}/contacts/{contact_id}", d, token=a, expect=404)

    def tags(self, a, c, sid):
        args = {"id": sid}
        t = self.call("POST", "/subjects/{id}/tags", args, token=a, expect=201).json
        self.holds(not t["is_active"])
        self.same(t["activated_at"], None)
        self.same(t["last_used"], None)
        t2 = self.call("POST", "/subjects/{id}/tags", args, body={}, token=a, expect=201).json
        self.call("POST", "/subjects/{id}/tags", args, body={"color": "red"}, token=a,
                  expect=400)
        self.call("POST", "/subjects/{id}/tags", args, token=c, expect=404)
        items = self.call("GET", "/subjects/{id}/tags", args, token=a, expect=200).json["items"]
        self.same({x["uuid"] for x in items}, {t["uuid"], t2["uuid"]})
        self.call("GET", "/subjects/{id}/tags", args, token=c, expect=404)
        u = {"uuid": t["uuid"]}
        self.call("GET", "/tags/{uuid}", u, token=a, expect=200)
        self.call("GET", "/tags/{uuid}", u, token=c, expect=404)
        on = self.call("POST", "/tags/{uuid}/activate", u, token=a, expect=200).json
        self.holds(on["is_active"])
        self.differ(on["activated_at"], None)
        self.call("POST", "/tags/{uuid}/activate", {"uuid": t2["uuid"]}, body={}, token=a,
                  expect=200)
        self.holds(not self.call("GET", "/tags/{uuid}", u, token=a, expect=200).json["is_active"])
        self.holds(not self.call("POST", "/tags/{uuid}/deactivate", {"uuid": t2["uuid"]},
                                 token=a, expect=200).json["is_active"])
        self.call("POST", "/tags/{uuid}/activate", u, token=c, expect=404)
        self.call("POST", "/tags/{uuid}/deactivate", u, token=c, expect=404)
        self.call("POST", "/tags/{uuid}/activate", u, token=a, expect=200)
        png = self.call("GET", "/tags/{uuid}/qr.png", u, token=a, expect=200)
        svg = self.call("GET", "/tags/{uuid}/qr.svg", u, token=a, expect=200)
        self.same((png.ctype, svg.ctype), ("image/png", "image/svg+xml"))
        self.call("GET", "/tags/{uuid}/qr.png", u, token=c, expect=404)
        self.call("GET", "/tags/{uuid}/qr.svg", u, token=c, expect=404)
        return t["uuid"]

    def alarms(self, a, staff, c, sid, tag):
        self.same(self.call("GET", "/alarms", token=a, expect=200).json["total"], 0)
        # a real scan of the active tag makes the alarm
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        conn.request("GET", f"/subjects/qr/{tag}/scan/")
        self.same(conn.getresponse().status, 200)
        conn.close()
        aid = wait_for(lambda: self.pg.scalar("SELECT id FROM alarms"), 15, what="the alarm")
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM notification_events e JOIN notifications n"
            " ON n.id = e.notification_id WHERE n.alarm_id = :'a1'", aid) not in (None, "0"),
            15, what="the alarm's timeline")
        # a second, older alarm with the finder's position (as SQL: the
        # finder's pages are not what is tested here)
        located = self.pg.scalar(
            "INSERT INTO alarms (event_id, subject_id, qr_uuid, scanned_at, latitude, longitude,"
            " accuracy_m, escalation_done) VALUES (gen_random_uuid(), :'a1', :'a2',"
            " now() - interval '2 days', 40.4168, -3.7038, 12.5, true) RETURNING id", sid, tag)
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        lst = self.call("GET", "/alarms", token=a, expect=200).json
        self.same([x["id"] for x in lst["items"]], [aid, located])
        f = self.call("GET", "/alarms", query={"subject_id": sid, "state": "open", "from": today,
                                               "to": today, "offset": 0, "limit": 5},
                      token=a, expect=200).json
        self.same([x["id"] for x in f["items"]], [aid])
        for q in ({"state": "closed"}, {"from": "2026-13-01"}, {"to": "yesterday"},
                  {"subject_id": "x"}, {"limit": 1000}, {"custodian": "me"}):
            self.call("GET", "/alarms", query=q, token=a, expect=400)
        self.same(self.call("GET", "/alarms", token=c, expect=200).json["total"], 0)
        self.same(self.call("GET", "/alarms", token=staff, expect=200).json["total"], 2)

        d = self.call("GET", "/alarms/{id}", {"id": aid}, token=a, expect=200).json
        self.holds(d["timeline"], d)
        self.same(d["qr_uuid"], tag)
        loc = self.call("GET", "/alarms/{id}", {"id": located}, token=a, expect=200).json
        self.same((loc["has_location"], loc["latitude"], loc["accuracy_m"]),
                         (True, 40.4168, 12.5))
        self.call("GET", "/alarms/{id}", {"id": aid}, token=staff, expect=200)
        self.call("GET", "/alarms/{id}", {"id": aid}, token=c, expect=404)

        args = {"id": aid}
        self.call("POST", "/alarms/{id}/acknowledge", args, token=c, expect=404)
        ack = self.call("POST", "/alarms/{id}/acknowledge", args, token=a, expect=200).json
        self.differ(ack["acknowledged_at"], None)
        self.call("POST", "/alarms/{id}/acknowledge", args, body={}, token=a, expect=409)
        self.call("POST", "/alarms/{id}/resolve", args, body={"notes": "x" * 2001}, token=a,
                  expect=400)
        self.call("POST", "/alarms/{id}/resolve", args, body={"notes": "Found"}, token=c,
                  expect=404)
        res = self.call("POST", "/alarms/{id}/resolve", args, body={"notes": "Found at the park"},
                        token=a, expect=200).json
        self.same((res["resolved"], res["resolution_notes"]), (True, "Found at the park"))
        self.call("POST", "/alarms/{id}/resolve", args, token=a, expect=409)
        self.call("POST", "/alarms/{id}/resolve", {"id": located}, token=staff, expect=200)
        self.same(self.call("GET", "/alarms", query={"state": "resolved"}, token=a,
                                   expect=200).json["total"], 2)

    def documents(self):
        j = self.call("GET", "/openapi.json", expect=200)
        self.same(j.raw, DOC_BYTES, "the served document is not docs/api/openapi.json")
        page = self.call("GET", "/docs", expect=200).raw.decode()
        for m, p in operations():
            self.holds_in(f"{BASE}{p}", page)
        self.holds_not_in("<script", page)
        self.call("GET", "/openapi.json", query={"v": "2"}, expect=400)
        self.call("GET", "/docs", query={"lang": "es"}, expect=400)

    def sample_args(self, template):
        return {k: str(uuid.uuid4()) for k in ("id", "contact_id", "uuid")
                if "{" + k + "}" in template}

    def generic_errors(self):
        """For every operation: an unknown query parameter (400); without a
        token and with a bad one (401, for those that need one); a body of
        another type (415) or too big (413) where it takes one; a random id
        (404); a write by a custodian whose phone is not verified (403).
        None of these may change anything."""
        a, b = self.tokens["a"], self.tokens["b"]
        for method, template in operations():
            op = DOC["paths"][template][method.lower()]
            args = self.sample_args(template)
            needs_token = op.get("security", DOC["security"]) != []
            token = a if needs_token else None
            self.call(method, template, args, query={"bogus": "1"}, token=token, expect=400)
            if needs_token:
                x = self.call(method, template, args, expect=401)
                self.same(x.headers.get("www-authenticate"), 'Bearer realm="keryu"')
                x = self.call(method, template, args, token="not.a.token", expect=401)
                self.same(x.headers.get("www-authenticate"),
                                 'Bearer realm="keryu", error="invalid_token"')
            writes = method in ("POST", "PATCH", "DELETE") and needs_token
            if "requestBody" in op:
                self.call(method, template, args, raw=b"name=x", ctype="text/plain",
                          token=token, expect=415)
                self.call(method, template, args, raw=b'{"x": "' + b"x" * 70000 + b'"}',
                          token=token, expect=413)
            if args:
                body = {} if "requestBody" in op else None
                if template == "/subjects/{id}/contacts" and method == "POST":
                    body = {"name": "N", "phone": "+16505550002", "channel": "log"}
                self.call(method, template, args, body=body, token=a, expect=404)
            if writes:
                self.call(method, template, args, token=b, expect=403)

    def reverse(self):
        """What the implementation answers that the document does not say."""
        nf = DOC["components"]["responses"]["NotFound"]["content"]["application/problem+json"]
        for path in ("/nothing", "/", "/auth", "/subjects/" + ZERO + "/photos",
                     "/tags", "/alarms/" + ZERO + "/timeline", "/openapi.yaml", "/me/",
                     "/subjects/", "/tags/" + ZERO + "/qr.gif"):
            x = self.request("GET", BASE + path, token=self.tokens["a"])
            what = f"undocumented GET {BASE + path}"
            if x.status != 404 or x.ctype != "application/problem+json":
                self.mismatch(what, f"answered {x.status} {x.ctype}, not a 404 problem")
                continue
            for e in validator(["components", "responses", "NotFound", "content",
                                "application/problem+json", "schema"]).iter_errors(x.json):
                self.mismatch(what, e.message)
        self.holds(nf)
        for template, item in DOC["paths"].items():
            documented = {m.upper() for m in item if m in METHODS}
            args = self.sample_args(template)
            path = BASE + template.format(**args)
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if method in documented:
                    continue
                x = self.request(method, path, token=self.tokens["a"],
                                 body={} if method in ("POST", "PUT", "PATCH") else None)
                what = f"undocumented {method} {template}"
                if x.status != 405:
                    self.mismatch(what, f"answered {x.status}, not 405")
                    continue
                allow = {m.strip() for m in x.headers.get("allow", "").split(",") if m.strip()}
                want = documented | ({"HEAD"} if "GET" in documented else set())
                if allow - {"HEAD"} != documented or not allow <= want:
                    self.mismatch(what, f"Allow: {x.headers.get('allow')!r}, documented "
                                        f"{sorted(documented)}")
                for e in validator(["components", "responses", "MethodNotAllowed", "content",
                                    "application/problem+json", "schema"]).iter_errors(x.json):
                    self.mismatch(what, e.message)


class Document(unittest.TestCase):
    """The document on its own: every reference resolves, every schema is
    a valid 2020-12 schema, operation ids are unique, every path
    parameter is declared, and every operation lists a 2xx and the errors
    every operation can give (400 for an unknown query parameter, 429)."""

    def test_document_is_consistent(self):
        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    deref(node, where)  # raises when it dangles
                for k, v in node.items():
                    walk(v, where + [k])
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, where + [i])

        walk(DOC, [])
        for name, schema in DOC["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)
        ids = []
        for method, template in operations():
            item = DOC["paths"][template]
            op = item[method.lower()]
            ids.append(op["operationId"])
            params = [deref(p, [])[0] for p in item.get("parameters", []) +
                      op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            wanted = {part[1:-1] for part in template.split("/") if part.startswith("{")}
            self.assertEqual(declared, wanted, f"{method} {template}")
            codes = set(op["responses"])
            self.assertTrue(any(c.startswith("2") for c in codes), f"{method} {template}")
            self.assertLessEqual({"400", "429"}, codes, f"{method} {template}")
            if op.get("security", DOC["security"]) != []:
                self.assertIn("401", codes, f"{method} {template}")
            if "requestBody" in op:
                self.assertLessEqual({"413", "415"}, codes, f"{method} {template}")
            if wanted:
                self.assertIn("404", codes, f"{method} {template}")
        self.assertEqual(len(ids), len(set(ids)))


class ApiRateLimit(KeryuTest):
    """429 with Retry-After, as documented, once the per-address limit of
    the window is used up (a keryud of its own with a limit of 5)."""

    def test_rate_limited_answers_match_the_document(self):
        self.migrate()
        self.keryud("--modules", "storage,qr,http", env=self.env(
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key",
            KERYU_HTTP_API_RATE_PER_IP="5"))
        t = ApiOpenapi("test_every_operation_matches_the_document")
        t.http_port, t.mismatches = self.http_port, []
        t.seen = {op: set() for op in operations()}
        statuses = [t.call("GET", "/openapi.json").status for _ in range(7)]
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(statuses[5:], [429, 429])
        x = t.call("POST", "/auth/token", body={"email": "a@example.org", "password": "x"},
                   expect=429)
        self.assertGreaterEqual(int(x.headers["retry-after"]), 1)
        self.assertEqual(t.mismatches, [])


if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)  # RefResolver on newer jsonschema
    main()
