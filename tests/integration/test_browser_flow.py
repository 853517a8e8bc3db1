"""Issue 3's end-to-end flow in Chromium (tests/browser/custodian_flow.mjs),
against the real stack with the fake WhatsApp provider; then the database
is checked for what the pages claimed."""
import os
import struct
import subprocess
import zlib

from harness import BUILD, ROOT, FakeWhatsApp, KeryuTest, main, wait_for


def png(path, w=64, h=64):
    """A real (small, striped) PNG, made here so no file is checked in."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 4 % 256, y * 4 % 256, 128))
                                        for x in range(w)) for y in range(h))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class BrowserFlow(KeryuTest):
    def test_custodian_flow_in_chromium(self):
        fake = FakeWhatsApp(self.work)
        self.addCleanup(fake.stop)
        self.migrate()
        self.keryud("--modules", "storage,qr,http,alarms,whatsapp", env=self.env(
            KERYU_ALARMS_CHANNEL="whatsapp",
            KERYU_HTTP_VERIFY_CHANNEL="whatsapp",
            KERYU_HTTP_PHOTO_DIR=os.path.join(self.work, "photos"),
            KERYU_WHATSAPP_API_BASE=fake.base,
            KERYU_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
            KERYU_WHATSAPP_TOKEN="test-token-123"))
        photo = os.path.join(self.work, "photo.png")
        png(photo)
        artifacts = os.path.join(BUILD, "artifacts")
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "custodian_flow.mjs"),
                            f"http://127.0.0.1:{self.http_port}", fake.record, photo, self.work],
                           env=dict(os.environ, KERYU_ARTIFACTS=artifacts),
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # what the pages showed is what the database holds
        self.assertEqual(self.pg.query(
            "SELECT c.phone_verified_at IS NOT NULL, s.name, s.photo <> '', k.name,"
            " k.verified_at IS NOT NULL FROM custodians c JOIN subjects s ON s.custodian_id = c.id"
            " JOIN contacts k ON k.subject_id = s.id"), [["t", "Tomás Díaz", "t", "Luis Díaz", "t"]])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM subject_qr_codes WHERE is_active"), "1")
        wait_for(lambda: self.pg.scalar("SELECT notification_status FROM alarms") == "SENT", 5,
                 what="the alarm's notification SENT")
        sends = [s for s in fake.requests() if '"qr_template_on_m"' in s["body"]]
        self.assertEqual(len(sends), 1)
        self.assertIn('"to":"+56987654321"', sends[0]["body"].replace(" ", ""))
        for name in ["flow-subject-new", "flow-subject-view", "flow-contacts", "flow-tags",
                     "flow-tag-print", "flow-scan-page", "flow-alarms", "flow-alarm-detail",
                     "flow-dashboard", "flow-subject-list"]:
            self.assertGreater(os.path.getsize(os.path.join(artifacts, name + ".png")), 1000, name)


if __name__ == "__main__":
    main()
