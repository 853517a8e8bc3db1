-- 005: the finder's side (issue 5): lost mode, the finder's location and
-- report attached to an alarm, test alarms, and follow-up notifications
-- that carry them to the people already alerted. The runner applies this
-- file in one transaction.

-- ---- subjects: lost mode ----
-- missing: the custodian reported them missing; every scan alerts (no
-- cooldown). missing_since: when, NULL when not missing.
ALTER TABLE subjects
	ADD COLUMN missing boolean NOT NULL DEFAULT false,
	ADD COLUMN missing_since timestamptz;
ALTER TABLE subjects ADD CONSTRAINT subjects_missing_since_check
	CHECK (missing OR missing_since IS NULL);

-- ---- alarms: what the finder posted ----
-- location_at: when the finder shared a location (latitude, longitude,
--   accuracy_m hold it; cleared by retention, location_at stays so that a
--   second post is still a replay).
-- report_situation / report_text / report_at: the finder's report
--   (report_text cleared by retention).
-- is_test: the finder said "just testing"; a test alarm never escalates.
ALTER TABLE alarms
	ADD COLUMN location_at timestamptz,
	ADD COLUMN report_situation text
		CHECK (report_situation IN ('injured', 'lost', 'contact',
			'test')),
	ADD COLUMN report_text text CHECK (octet_length(report_text) <= 500),
	ADD COLUMN report_at timestamptz,
	ADD COLUMN is_test boolean NOT NULL DEFAULT false;
ALTER TABLE alarms ADD CONSTRAINT alarms_report_check
	CHECK ((report_situation IS NULL) = (report_at IS NULL)
	AND (report_text IS NULL OR report_at IS NOT NULL));

-- Retention: the alarms whose finder data is still there, by scan time, so
-- the daily purge does not walk every alarm ever purged.
CREATE INDEX alarms_finder_data_idx ON alarms (scanned_at)
	WHERE latitude IS NOT NULL OR longitude IS NOT NULL
	OR accuracy_m IS NOT NULL OR location IS NOT NULL
	OR ip_hash IS NOT NULL OR user_agent IS NOT NULL
	OR report_text IS NOT NULL;

-- ---- notifications: follow-ups ----
-- kind: 'alert' (the alarm itself: routing, escalation, fallback and the
--   alarm's summary look at these only), or a follow-up to someone already
--   alerted: 'location', 'report'.
-- detail: the follow-up's data ("<lat>,<lng>[,<m>]", "<situation>[: text]").
ALTER TABLE notifications
	ADD COLUMN kind text NOT NULL DEFAULT 'alert'
		CHECK (kind IN ('alert', 'location', 'report')),
	ADD COLUMN detail text CHECK (octet_length(detail) <= 599);
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_purpose_check
	CHECK (kind = 'alert' OR purpose = 'alarm');

-- One notification per (alarm, phone, channel) and kind: a person alerted
-- gets each kind of follow-up once.
DROP INDEX notifications_alarm_recipient_channel_key;
CREATE UNIQUE INDEX notifications_alarm_recipient_channel_kind_key
	ON notifications (alarm_id, recipient, channel, kind)
	WHERE alarm_id IS NOT NULL;

-- A failed follow-up is not followed up (no fallback, no escalation).
DROP INDEX notifications_failed_idx;
CREATE INDEX notifications_failed_idx ON notifications (alarm_id)
	WHERE status = 'FAILED' AND NOT followed_up AND alarm_id IS NOT NULL
	AND kind = 'alert';
