"""Subjects, photos, privacy and emergency contacts end to end: the real
http, storage and whatsapp modules, PostgreSQL, mosquitto and the fake
WhatsApp server. Photos are checked on disk under keryud's photo_dir
(var/photos in its working folder); contact codes are read back from the
fake's record of the request it received."""
import http.client
import json
import time
import os
import re
import stat
import urllib.parse
import uuid

from harness import Browser, FakeWhatsApp, KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,whatsapp"
PASSWORD = "correct horse battery"
EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TEXT_FIELDS = ("name", "care_instructions", "medical_conditions", "allergies",
               "medications", "doctor_name", "doctor_phone", "doctor_address",
               "doctor_speciality")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + os.urandom(2000)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2000)
GIF = b"GIF89a\x01\x00\x01\x00" + os.urandom(100)
PHOTO_MAX = 8192


def full_subject(**over):
    f = {"name": "Ana Pérez", "date_of_birth": "2015-04-30", "gender": "F",
         "care_instructions": "Speak slowly.\r\nShe likes music.",
         "medical_conditions": "Autism", "allergies": "Peanuts",
         "medications": "None", "doctor_name": "Dr Who",
         "doctor_phone": "+1 650 555 0000", "doctor_address": "1 Main St",
         "doctor_speciality": "Paediatrics", "is_active": "1"}
    f.update(over)
    return f


class Web(Browser):
    def upload(self, page, action, filename, data, fields=None):
        """Posts a multipart form with one file part named photo."""
        token = self.csrf(page)
        boundary = "----keryu" + uuid.uuid4().hex
        parts = []
        for k, v in dict(fields or {}, csrf=token).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; '
                         f'name="{k}"\r\n\r\n{v}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
                     f'filename="{filename}"\r\nContent-Type: image/gif\r\n\r\n'.encode()
                     + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        body = b"".join(parts)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        conn.request("POST", action, body=body, headers={
            "Cookie": self.cookie,
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
        conn.close()
        return r.status, r, text

    def get_bytes(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        conn.request("GET", path, headers={"Cookie": self.cookie})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, r, data

    def post(self, action, fields, token_page="/subjects/"):
        """Posts with a CSRF token taken from one of our own pages."""
        token = self.csrf(token_page)
        return self.request("POST", action, dict(fields, csrf=token))


class Subjects(KeryuTest):
    def setUp(self):
        super().setUp()
        self.fake = FakeWhatsApp(self.work)
        self.addCleanup(self.fake.stop)
        self.migrate()
        self.keryud("--modules", MODULES, env=self.env(
            KERYU_HTTP_VERIFY_CHANNEL="whatsapp",
            KERYU_HTTP_PHOTO_MAX_BYTES=str(PHOTO_MAX),
            KERYU_ALARMS_CHANNEL="whatsapp",
            KERYU_KERNEL_SECRET_KEY="integration-test-secret-key",
            KERYU_WHATSAPP_API_BASE=self.fake.base,
            KERYU_WHATSAPP_API_VERSION="v23.0",
            KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="test-token-123"))
        self.photos = os.path.join(self.work, "var", "photos")

    def custodian(self, email, name, phone, verified=True):
        b = Web(self.http_port)
        status, r, _ = b.submit("/account/signup", "/account/signup", {
            "name": name, "email": email, "phone": phone,
            "password": PASSWORD, "password2": PASSWORD})
        self.assertEqual(status, 303)
        if verified:  # the phone code is not what is tested here
            self.pg.query("UPDATE custodians SET phone_verified_at = now() "
                          "WHERE email = :'a1'", email)
        return b

    def create(self, b, **over):
        status, r, page = b.submit("/subjects/new", "/subjects/new", full_subject(**over))
        self.assertEqual(status, 303, page)
        m = re.match(r"^/subjects/([0-9a-f-]{36})/\?notice=created$", r.getheader("Location"))
        self.assertTrue(m, r.getheader("Location"))
        return m.group(1)

    def files(self):
        return sorted(os.listdir(self.photos))

    def codes_to(self, phone):
        out = []
        for r in self.fake.requests():
            sent = json.loads(r["body"])
            if sent["to"] == phone:
                out.append(sent["template"]["components"][0]["parameters"][0]["text"])
        return out

    def test_create_view_edit_privacy_photo_delete(self):
        b = self.custodian("ana@example.org", "Ana", "+16505551234")
        status, r, _ = b.get("/subjects/")
        self.assertEqual(status, 200)
        self.assertIn("no subjects yet", _)

        # a bad form saves nothing and says why next to each field
        status, _, page = b.submit("/subjects/new", "/subjects/new", full_subject(
            name=" ", date_of_birth="2015-02-30", gender="Z"))
        self.assertEqual(status, 400)
        self.assertIn('id="f-name-error"', page)
        self.assertIn("That date does not exist.", page)
        self.assertIn('id="f-gender-error"', page)
        self.assertIn("Peanuts", page)  # the rest refilled
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM subjects"), "0")

        sid = self.create(b)
        row = self.pg.query(
            "SELECT s.name, date_of_birth, gender, replace(care_instructions, E'\\n', '|'), "
            "doctor_phone, "
            "public_fields, s.is_active, c.email FROM subjects s "
            "JOIN custodians c ON c.id = s.custodian_id WHERE s.id = :'a1'", sid)
        self.assertEqual(row, [["Ana Pérez", "2015-04-30", "F",
                                "Speak slowly.|She likes music.", "+1 650 555 0000",
                                "43", "t", "ana@example.org"]])

        status, _, page = b.get(f"/subjects/{sid}/")
        self.assertEqual(status, 200)
        for text in ("Ana Pérez", "2015-04-30", "Female", "Speak slowly.", "Autism",
                     "Peanuts", "Dr Who", "+1 650 555 0000", "1 Main St", "Paediatrics",
                     f"/subjects/{sid}/tags/", f"/subjects/{sid}/contacts/",
                     f"/subjects/{sid}/privacy"):
            self.assertIn(text, page)
        status, _, page = b.get("/subjects/")
        self.assertIn(f'href="/subjects/{sid}/"', page)

        # edit
        status, r, _ = b.submit(f"/subjects/{sid}/edit", f"/subjects/{sid}/edit",
                                full_subject(name="Ana María", gender="U", allergies="",
                                             is_active=""))
        self.assertEqual(status, 303)
        self.assertEqual(self.pg.query(
            "SELECT name, gender, allergies, is_active, public_fields FROM subjects"),
            [["Ana María", "U", None, "f", "43"]])

        # privacy
        status, r, _ = b.submit(f"/subjects/{sid}/privacy", f"/subjects/{sid}/privacy",
                                {"pub_full_name": "1", "pub_doctor": "1",
                                 "pub_custodian_phone": "1"})
        self.assertEqual(status, 303)
        self.assertEqual(self.pg.scalar("SELECT public_fields FROM subjects"),
                         str(4 | 128 | 256))
        status, _, page = b.get(f"/subjects/{sid}/privacy")
        self.assertIn('name="pub_doctor" value="1" checked', page)
        self.assertNotIn('name="pub_photo" value="1" checked', page)

        # photos: content decides, not the name
        status, _, page = b.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                   "cat.jpg", GIF)
        self.assertEqual(status, 400)
        self.assertIn("Only JPEG and PNG", page)
        status, _, page = b.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                   "big.jpg", JPEG + b"\0" * PHOTO_MAX)
        self.assertEqual(status, 413)
        self.assertEqual(self.files(), [])
        self.assertIsNone(self.pg.scalar("SELECT photo FROM subjects"))
        self.assertEqual(stat.S_IMODE(os.stat(self.photos).st_mode), 0o700)

        status, r, _ = b.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                "../../etc/me.png", JPEG)
        self.assertEqual(status, 303)
        first = self.pg.scalar("SELECT photo FROM subjects")
        self.assertRegex(first, r"^[0-9a-f]{32}\.jpg$")
        self.assertEqual(self.files(), [first])
        path = os.path.join(self.photos, first)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), JPEG)
        status, r, data = b.get_bytes(f"/subjects/{sid}/photo/image")
        self.assertEqual(status, 200)
        self.assertEqual(data, JPEG)
        self.assertEqual(r.getheader("Content-Type"), "image/jpeg")
        self.assertEqual(r.getheader("X-Content-Type-Options"), "nosniff")
        self.assertIn("no-store", r.getheader("Cache-Control"))
        status, _, page = b.get(f"/subjects/{sid}/")
        self.assertIn(f'src="/subjects/{sid}/photo/image"', page)

        # replaced: the old file goes
        status, r, _ = b.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                "x.jpg", PNG)
        self.assertEqual(status, 303)
        second = self.pg.scalar("SELECT photo FROM subjects")
        self.assertRegex(second, r"^[0-9a-f]{32}\.png$")
        self.assertEqual(self.files(), [second])
        status, r, data = b.get_bytes(f"/subjects/{sid}/photo/image")
        self.assertEqual((status, r.getheader("Content-Type"), data), (200, "image/png", PNG))

        # removed
        status, r, _ = b.submit(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                {"action": "remove"})
        self.assertEqual(status, 303)
        self.assertIsNone(self.pg.scalar("SELECT photo FROM subjects"))
        self.assertEqual(self.files(), [])
        status, _, _ = b.get_bytes(f"/subjects/{sid}/photo/image")
        self.assertEqual(status, 404)

        # deleted with its photo, after a confirmation
        status, r, _ = b.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                "again.jpg", JPEG)
        self.assertEqual(status, 303)
        self.assertEqual(len(self.files()), 1)
        status, _, page = b.submit(f"/subjects/{sid}/delete", f"/subjects/{sid}/delete", {})
        self.assertEqual(status, 400)
        self.assertIn("Tick the box to confirm.", page)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM subjects"), "1")
        status, r, _ = b.submit(f"/subjects/{sid}/delete", f"/subjects/{sid}/delete",
                                {"confirm": "1"})
        self.assertEqual(status, 303)
        self.assertEqual(r.getheader("Location"), "/subjects/?notice=deleted")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM subjects"), "0")
        self.assertEqual(self.files(), [])
        status, _, _ = b.get(f"/subjects/{sid}/")
        self.assertEqual(status, 404)

    def test_contacts_add_verify_reorder_delete(self):
        b = self.custodian("ana@example.org", "Ana", "+16505551234")
        sid = self.create(b)
        contacts = f"/subjects/{sid}/contacts/"
        status, _, page = b.get(contacts)
        self.assertEqual(status, 200)
        self.assertIn("Ana</strong> (you)", page)
        self.assertIn("+16505551234", page)

        status, _, page = b.submit(contacts, contacts + "new", {
            "name": "Carl", "phone": "650 555 0001", "channel": "whatsapp"})
        self.assertEqual(status, 400)
        self.assertIn("Start the number with +", page)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM contacts"), "0")

        status, r, _ = b.submit(contacts, contacts + "new", {
            "name": "Carl", "phone": "+44 (20) 7946-0000", "channel": "whatsapp"})
        self.assertEqual(status, 303)
        cid, phone, verified = self.pg.query(
            "SELECT id, phone_e164, verified_at FROM contacts")[0]
        self.assertEqual((phone, verified), ("+442079460000", None))
        self.assertEqual(r.getheader("Location"), f"{contacts}{cid}/verify?sent=1")
        code = wait_for(lambda: self.codes_to("+442079460000"), 10,
                        what="the contact's code at the fake")[-1]
        self.assertRegex(code, r"^\d{6}$")
        self.assertEqual(self.pg.scalar(
            "SELECT purpose FROM one_time_codes WHERE contact_id = :'a1'", cid), "3")

        verify = f"{contacts}{cid}/verify"
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        status, _, page = b.submit(verify, verify, {"code": wrong})
        self.assertEqual(status, 400)
        self.assertIn("That code is not right", page)
        self.assertIsNone(self.pg.scalar("SELECT verified_at FROM contacts"))
        status, r, _ = b.submit(verify, verify, {"code": code})
        self.assertEqual(status, 303)
        self.assertIsNotNone(self.pg.scalar("SELECT verified_at FROM contacts"))

        # a fallback the same as the channel, or not offered: refused
        for fallback in ("sms", "email"):
            status, _, page = b.submit(contacts, contacts + "new", {
                "name": "Dan", "phone": "+16505550002", "channel": "sms",
                "fallback_channel": fallback})
            self.assertEqual(status, 400)
            self.assertIn("Choose a fallback channel", page)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM contacts"), "1")
        for name, phone, channel, fallback in (
                ("Dan", "+16505550002", "sms", "whatsapp"),
                ("Eve", "+16505550003", "log", "")):
            status, _, _ = b.submit(contacts, contacts + "new",
                                    {"name": name, "phone": phone, "channel": channel,
                                     "fallback_channel": fallback})
            self.assertEqual(status, 303)
        order = lambda: [r[0] for r in self.pg.query(
            "SELECT name FROM contacts ORDER BY position")]
        self.assertEqual(order(), ["Carl", "Dan", "Eve"])
        # stored as the channel tried when the first fails for good; none is NULL
        self.assertEqual(self.pg.query(
            "SELECT name, channel, fallback_channel FROM contacts ORDER BY position"),
            [["Carl", "whatsapp", None], ["Dan", "sms", "whatsapp"], ["Eve", "log", None]])
        status, _, page = b.get(contacts)
        self.assertIn("+16505550002 · SMS · if that fails: WhatsApp", page)
        eve = self.pg.scalar("SELECT id FROM contacts WHERE name = 'Eve'")
        status, _, _ = b.post(f"{contacts}{eve}/up", {}, contacts)
        self.assertEqual(status, 303)
        self.assertEqual(order(), ["Carl", "Eve", "Dan"])
        status, _, _ = b.post(f"{contacts}{cid}/down", {}, contacts)
        self.assertEqual(order(), ["Eve", "Carl", "Dan"])
        status, _, page = b.get(contacts)
        self.assertLess(page.index("Eve"), page.index("Carl"))
        self.assertLess(page.index("Ana</strong> (you)"), page.index("Eve"))

        status, r, _ = b.post(f"{contacts}{cid}/delete", {}, contacts)
        self.assertEqual(status, 303)
        self.assertEqual(order(), ["Eve", "Dan"])

    def test_contact_codes_need_a_verified_phone_and_are_capped(self):
        victim = "+442079460000"
        b = self.custodian("ana@example.org", "Ana", "+16505551234", verified=False)
        sid = self.create(b)
        contacts = f"/subjects/{sid}/contacts/"
        new = {"name": "Vic", "phone": victim, "channel": "whatsapp"}
        status, _, page = b.submit(contacts, contacts + "new", new)
        self.assertEqual(status, 403)
        self.assertIn('href="/account/verify"', page)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM contacts"), "0")

        # add, delete, add again: the signup's code and 9 more, then none
        self.pg.query("UPDATE custodians SET phone_verified_at = now()")
        sent = []
        for _ in range(11):
            status, r, _ = b.submit(contacts, contacts + "new", new)
            self.assertEqual(status, 303)
            sent.append(r.getheader("Location").endswith("verify?sent=1"))
            cid = self.pg.scalar("SELECT id FROM contacts")
            status, _, _ = b.post(f"{contacts}{cid}/delete", {}, contacts)
            self.assertEqual(status, 303)
        self.assertEqual(sent, [True] * 9 + [False] * 2)
        wait_for(lambda: len(self.codes_to(victim)) == 9, 10, what="9 codes")
        status, r, _ = b.submit(contacts, contacts + "new", new)
        self.assertTrue(r.getheader("Location").endswith("verify?sent=wait"))
        cid = self.pg.scalar("SELECT id FROM contacts")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM one_time_codes"
                                        " WHERE purpose = 3"), "0")
        resend = f"{contacts}{cid}/verify/resend"
        status, r, _ = b.post(resend, {}, f"{contacts}{cid}/verify")
        self.assertEqual(status, 429)
        self.assertGreater(int(r.getheader("Retry-After")), 0)
        time.sleep(0.5)
        self.assertEqual(len(self.codes_to(victim)), 9)

    def test_script_in_every_field_comes_back_escaped(self):
        b = self.custodian("ana@example.org", "Ana", "+16505551234")
        sid = self.create(b, **{f: EVIL for f in TEXT_FIELDS})
        self.assertEqual(self.pg.scalar("SELECT doctor_address FROM subjects"), EVIL)
        for path, least in (("/subjects/", 1), (f"/subjects/{sid}/", len(TEXT_FIELDS)),
                            (f"/subjects/{sid}/edit", len(TEXT_FIELDS))):
            status, _, page = b.get(path)
            self.assertEqual(status, 200)
            self.assertNotIn("<script>", page, path)
            self.assertGreaterEqual(page.count(EVIL_ESCAPED), least, path)
        status, _, page = b.submit(f"/subjects/{sid}/contacts/", f"/subjects/{sid}/contacts/new",
                                   {"name": EVIL, "phone": "+16505550009", "channel": "sms"})
        self.assertEqual(status, 303)
        status, _, page = b.get(f"/subjects/{sid}/contacts/")
        self.assertNotIn("<script>", page)
        self.assertIn(EVIL_ESCAPED, page)

    def snapshot(self):
        return (self.pg.query("SELECT * FROM subjects ORDER BY id"),
                self.pg.query("SELECT * FROM contacts ORDER BY id"),
                self.pg.query("SELECT id, purpose, contact_id FROM one_time_codes ORDER BY id"),
                self.files())

    def test_another_custodian_gets_404_and_changes_nothing(self):
        a = self.custodian("ana@example.org", "Ana", "+16505551234")
        sid = self.create(a)
        status, _, _ = a.upload(f"/subjects/{sid}/photo", f"/subjects/{sid}/photo",
                                "me.jpg", JPEG)
        self.assertEqual(status, 303)
        status, _, _ = a.submit(f"/subjects/{sid}/contacts/", f"/subjects/{sid}/contacts/new",
                                {"name": "Carl", "phone": "+16505550001", "channel": "sms"})
        self.assertEqual(status, 303)
        cid = self.pg.scalar("SELECT id FROM contacts")

        b = self.custodian("bea@example.org", "Bea", "+16505559999")
        own = self.create(b, name="Bea's own")
        before = self.snapshot()
        base = f"/subjects/{sid}/"
        gets = ["", "edit", "delete", "privacy", "photo", "photo/image", "contacts/",
                f"contacts/{cid}/verify"]
        posts = ["edit", "delete", "privacy", "photo", "contacts/new",
                 f"contacts/{cid}/delete", f"contacts/{cid}/up", f"contacts/{cid}/down",
                 f"contacts/{cid}/verify", f"contacts/{cid}/verify/resend"]
        every = dict(full_subject(name="Taken"), confirm="1", action="remove",
                     phone="+16505550009", channel="sms", code="123456", pub_doctor="1")
        for rest in gets:
            status, _, page = b.get(base + rest)
            self.assertEqual(status, 404, base + rest)
            self.assertNotIn("Ana", page)
        for rest in posts:
            status, _, _ = b.post(base + rest, every)
            self.assertEqual(status, 404, base + rest)
        # A's contact reached through B's own subject: still 404
        for rest in ("delete", "up", "down", "verify", "verify/resend"):
            status, _, _ = b.post(f"/subjects/{own}/contacts/{cid}/{rest}", every)
            self.assertEqual(status, 404, rest)
        self.assertEqual(self.snapshot(), before)
        # and A still has it all
        status, _, data = a.get_bytes(f"/subjects/{sid}/photo/image")
        self.assertEqual((status, data), (200, JPEG))
        status, _, page = b.get("/subjects/")
        self.assertNotIn(sid, page)


if __name__ == "__main__":
    main()
