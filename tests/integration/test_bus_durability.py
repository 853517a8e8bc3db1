"""At-least-once delivery: duplicates make one alarm; nothing published while
keryud is down is lost."""
import time
import uuid

from harness import KeryuTest, main, wait_for

MODULES = "storage,qr,http,alarms,log"


class BusDurability(KeryuTest):
    def setUp(self):
        super().setUp()
        self.migrate()
        self.tag = self.seed()

    def env(self, **extra):
        # every scan here is a separate alarm with its own notification,
        # not one joining the last within the cooldown
        return super().env(**{"KERYU_ALARMS_COOLDOWN_S": "0", **extra})

    def alarms(self):
        return int(self.pg.scalar("SELECT count(*) FROM alarms"))

    def test_same_scan_event_twice_makes_one_alarm(self):
        self.keryud("--modules", MODULES)
        event_id = str(uuid.uuid4())
        payload = self.scan_event(self.tag, event_id)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", payload)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", payload)
        wait_for(lambda: self.alarms() == 1, 5, what="one alarm")
        # and a different event still makes a second one, which also proves
        # the duplicate was processed by now (per-client ordering)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag))
        wait_for(lambda: self.alarms() == 2, 5, what="the second alarm")
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM alarms WHERE event_id = :'a1'", event_id), "1")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM notifications"), "2")

    def test_scans_published_while_keryud_is_down_all_become_alarms(self):
        k = self.keryud("--modules", MODULES)
        self.assertEqual(k.stop(), 0)  # clean exit on SIGTERM
        ids = [str(uuid.uuid4()) for _ in range(20)]
        for e in ids:
            self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag, e))
        self.assertEqual(self.alarms(), 0)
        self.keryud("--modules", MODULES, log="keryud2.log")
        wait_for(lambda: self.alarms() == 20, 10, what="20 alarms")
        got = {r[0] for r in self.pg.query("SELECT event_id FROM alarms")}
        self.assertEqual(got, set(ids))
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM notifications WHERE status = 'DELIVERED'") == "20", 10,
            what="20 delivered notifications")

    def crashed_alarm(self, event_id, status):
        """The rows a keryud that died right after storage's commit leaves
        behind: the scan's alarm and its notification, in status."""
        return self.pg.scalar(
            "WITH a AS (INSERT INTO alarms (event_id, subject_id, qr_uuid, scanned_at)"
            "  SELECT :'a1', q.subject_id, q.uuid, now() FROM subject_qr_codes q"
            "  WHERE q.uuid = :'a2' RETURNING id, subject_id)"
            " INSERT INTO notifications (alarm_id, custodian_id, channel, recipient, status)"
            " SELECT a.id, s.custodian_id, 'log', c.phone_e164, :'a3'"
            " FROM a JOIN subjects s ON s.id = a.subject_id"
            " JOIN custodians c ON c.id = s.custodian_id RETURNING id",
            event_id, self.tag, status)

    def test_redelivered_scan_sends_a_notification_left_pending(self):
        event_id = str(uuid.uuid4())
        nid = self.crashed_alarm(event_id, "PENDING")
        k = self.keryud("--modules", MODULES)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag, event_id))
        wait_for(lambda: self.pg.scalar(
            "SELECT status FROM notifications WHERE id = :'a1'", nid) == "DELIVERED", 10,
            what="the pending notification delivered")
        self.assertEqual(self.alarms(), 1)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM notifications"), "1")
        self.assertIn("alarms.scan.republish", k.text())

    def test_redelivered_scan_leaves_a_queued_notification_alone(self):
        event_id = str(uuid.uuid4())
        nid = self.crashed_alarm(event_id, "QUEUED")
        k = self.keryud("--modules", MODULES)
        watch = self.broker.watch("keryu/v1/notify/#")
        self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag, event_id))
        # a later scan is handled after the duplicate (per-client ordering)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag))
        wait_for(lambda: self.alarms() == 2, 5, what="the second alarm")
        wait_for(lambda: len(watch.on("keryu/v1/notify/")) >= 1, 5, what="its request")
        time.sleep(0.3)
        sent = [p["notification_id"] for _, p in watch.on("keryu/v1/notify/")]
        watch.stop()
        watch.proc.stdout.close()
        self.assertEqual(len(sent), 1)
        self.assertNotIn(nid, sent)
        self.assertEqual(self.pg.scalar(
            "SELECT status FROM notifications WHERE id = :'a1'", nid), "QUEUED")
        self.assertNotIn("alarms.scan.republish", k.text())

    def test_malformed_scan_events_change_nothing(self):
        k = self.keryud("--modules", MODULES)
        for bad in ["not json", "{}", '{"v":1}', '{"v":2,"event_id":"x"}',
                    self.scan_event(str(uuid.uuid4()))]:  # unknown tag
            self.broker.publish(f"keryu/v1/scan/{self.tag}", bad)
        self.broker.publish(f"keryu/v1/scan/{self.tag}", self.scan_event(self.tag))
        wait_for(lambda: self.alarms() == 1, 5, what="the one good alarm")
        self.assertIn("alarms.scan.malformed", k.text())


if __name__ == "__main__":
    main()
