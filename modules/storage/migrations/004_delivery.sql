-- 004: delivery (issue 4): leases and re-drives of delivery requests,
-- several recipients per alarm (escalation to contacts, fallback channels),
-- acknowledgement, joining scans within a cooldown, and the alarm-level
-- steps of the timeline. The runner applies this file in one transaction.

-- ---- notifications ----
-- lease_until: a request handed to the bus (or a notification born PENDING)
--   unanswered by then is re-driven by notify_due; NULL: nothing to wait for.
-- redrives: how many times notify_due re-published it.
-- retry_hint: the last ERROR said the channel retries by itself.
-- contact_id: the emergency contact it went to (NULL: the custodian).
-- step: the alarm's step it belongs to (0 first recipient, then one per
--   escalation or fallback).
-- fallback_of: the FAILED notification this one replaces on another channel.
-- followed_up: for a FAILED one, its fallback or escalation was decided.
ALTER TABLE notifications
	ADD COLUMN lease_until timestamptz,
	ADD COLUMN redrives integer NOT NULL DEFAULT 0 CHECK (redrives >= 0),
	ADD COLUMN retry_hint boolean,
	ADD COLUMN contact_id uuid REFERENCES contacts (id) ON DELETE SET NULL,
	ADD COLUMN step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
	-- (both go together, with their alarm)
	ADD COLUMN fallback_of uuid REFERENCES notifications (id)
		ON DELETE CASCADE,
	-- rows from before this migration were never meant to be followed up
	ADD COLUMN followed_up boolean NOT NULL DEFAULT true;
ALTER TABLE notifications ALTER COLUMN followed_up SET DEFAULT false;

-- An alarm now reaches several people, each on one or two channels: one
-- notification per (alarm, phone, channel). Code notifications (no alarm)
-- are outside the rule as before.
ALTER TABLE notifications
	DROP CONSTRAINT notifications_alarm_id_custodian_id_channel_key;
CREATE UNIQUE INDEX notifications_alarm_recipient_channel_key
	ON notifications (alarm_id, recipient, channel)
	WHERE alarm_id IS NOT NULL;

-- notify_due's work lists: leases that may run out, FAILED ones not yet
-- followed up.
CREATE INDEX notifications_lease_idx ON notifications (lease_until)
	WHERE status IN ('PENDING', 'QUEUED', 'ERROR')
	AND lease_until IS NOT NULL;
CREATE INDEX notifications_failed_idx ON notifications (alarm_id)
	WHERE status = 'FAILED' AND NOT followed_up AND alarm_id IS NOT NULL;
CREATE INDEX notifications_contact_idx ON notifications (contact_id)
	WHERE contact_id IS NOT NULL;
CREATE INDEX notifications_fallback_idx ON notifications (fallback_of)
	WHERE fallback_of IS NOT NULL;

-- ---- alarms ----
-- step / step_started_at: the current recipient's step and when it began
--   (the escalation deadlines run from it; NULL: never escalates).
-- escalation_done: nobody is left to alert (or, for rows from before this
--   migration and joined scans, escalation never applied).
-- joined_alarm_id: this scan came within the cooldown of that open alarm.
ALTER TABLE alarms
	ADD COLUMN acknowledged_at timestamptz,
	ADD COLUMN acknowledged_via text
		CHECK (acknowledged_via IN ('link', 'page')),
	ADD COLUMN step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
	ADD COLUMN step_started_at timestamptz,
	ADD COLUMN escalation_done boolean NOT NULL DEFAULT true,
	ADD COLUMN joined_alarm_id uuid REFERENCES alarms (id)
		ON DELETE SET NULL;
ALTER TABLE alarms ALTER COLUMN escalation_done SET DEFAULT false;
ALTER TABLE alarms ADD CONSTRAINT alarms_acknowledged_check
	CHECK ((acknowledged_at IS NULL) = (acknowledged_via IS NULL));

CREATE INDEX alarms_escalation_idx ON alarms (step_started_at)
	WHERE NOT escalation_done AND acknowledged_at IS NULL
	AND resolved_at IS NULL AND joined_alarm_id IS NULL;
CREATE INDEX alarms_joined_idx ON alarms (joined_alarm_id)
	WHERE joined_alarm_id IS NOT NULL;

-- ---- contacts ----
-- A channel is whatever module subscribes to keryu/v1/notify/<name>: the
-- schema checks only that it can be one topic level.
ALTER TABLE contacts DROP CONSTRAINT contacts_channel_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_channel_check
	CHECK (channel ~ '^[a-z0-9_-]{1,31}$');
ALTER TABLE contacts ADD COLUMN fallback_channel text
	CHECK (fallback_channel ~ '^[a-z0-9_-]{1,31}$');

-- ---- the alarm-level steps of the timeline ----
CREATE TABLE alarm_events (
	id bigserial PRIMARY KEY,
	alarm_id uuid NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
	at timestamptz NOT NULL DEFAULT now(),
	kind text NOT NULL CHECK (kind IN ('ESCALATED', 'FALLBACK',
		'EXHAUSTED', 'ACKNOWLEDGED')),
	notification_id uuid REFERENCES notifications (id) ON DELETE CASCADE,
	detail text CHECK (octet_length(detail) <= 500)
);
CREATE INDEX alarm_events_alarm_idx ON alarm_events (alarm_id, at, id);
CREATE INDEX alarm_events_notification_idx ON alarm_events (notification_id)
	WHERE notification_id IS NOT NULL;
