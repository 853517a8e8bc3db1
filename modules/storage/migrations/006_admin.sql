-- 006: administration (issue 6, keryu/admin.h): the audit log, message
-- templates and settings kept in the database, the API's refresh tokens,
-- and "retry now" for a notification that failed. The runner applies this
-- file in one transaction.

-- ---- audit log ----
-- Who did what to which row. actor_email is kept as typed (a failed login
-- names no custodian) and outlives a deleted actor. ip_hash is the HMAC
-- of the client address, never the address.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor_id uuid REFERENCES custodians (id) ON DELETE SET NULL,
	actor_email text NOT NULL DEFAULT ''
		CHECK (octet_length(actor_email) < 255),
	source text NOT NULL CHECK (source IN ('web', 'api', 'cli', 'system')),
	action text NOT NULL CHECK (action ~ '^[a-z0-9._]{1,47}$'),
	target_type text NOT NULL DEFAULT ''
		CHECK (target_type ~ '^[a-z0-9_]{0,23}$'),
	target_id text NOT NULL DEFAULT ''
		CHECK (octet_length(target_id) < 64),
	summary text NOT NULL DEFAULT '' CHECK (octet_length(summary) < 512),
	ip_hash text NOT NULL DEFAULT '' CHECK (ip_hash ~ '^([0-9a-f]{64})?$')
);
-- the viewer's filters: newest first, by actor, by action prefix
-- (text_pattern_ops: LIKE 'prefix%' whatever the database's collation),
-- by target; the retention purge walks "at" too
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC)
	WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_action_idx ON audit_log (action text_pattern_ops);
CREATE INDEX audit_log_target_idx ON audit_log (target_id)
	WHERE target_id <> '';

-- ---- message templates ----
-- The provider's template for an event, per channel; channel '' applies
-- to every channel without its own row. A row that is not approved is
-- kept (e.g. while Meta reviews it) and the configured default is used.
CREATE TABLE message_templates (
	event text NOT NULL
		CHECK (event IN ('alert', 'location', 'report', 'code')),
	channel text NOT NULL CHECK (channel ~ '^([a-z0-9_-]{1,31})?$'),
	name text NOT NULL CHECK (name ~ '^[a-z0-9_]{1,127}$'),
	language text NOT NULL CHECK (language ~ '^[A-Za-z0-9_-]{1,15}$'),
	parameters text NOT NULL DEFAULT ''
		CHECK (parameters ~ '^([a-z]+(,[a-z]+){0,7})?$'),
	approved boolean NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by uuid REFERENCES custodians (id) ON DELETE SET NULL,
	PRIMARY KEY (event, channel)
);

-- ---- settings ----
-- Overrides of keryu.conf options that staff change at run time; a key
-- with no row takes the option's value. The service checks each value's
-- kind and range (admin.h); the schema only the key.
CREATE TABLE settings (
	key text PRIMARY KEY CHECK (key IN ('default_channel',
		'fallback_channel', 'cooldown_s', 'escalate_after_s',
		'ack_timeout_s', 'finder_retention_days',
		'alarm_retention_days', 'audit_retention_days')),
	value text NOT NULL CHECK (octet_length(value) < 64),
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by uuid REFERENCES custodians (id) ON DELETE SET NULL
);

-- ---- API refresh tokens ----
-- Only the digest of a token is kept. A rotated token is revoked and names
-- its successor (replaced_by); presenting it again is a replay, and every
-- token of the custodian is revoked.
CREATE TABLE api_refresh_tokens (
	token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	custodian_id uuid NOT NULL REFERENCES custodians (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,
	replaced_by text CHECK (replaced_by ~ '^[0-9a-f]{64}$'),
	CHECK (replaced_by IS NULL OR revoked_at IS NOT NULL)
);
CREATE INDEX api_refresh_tokens_custodian_idx
	ON api_refresh_tokens (custodian_id);

-- ---- notifications: "retry now" ----
-- retried_as: the new notification staff made for this failed one. The
-- failed row is set first, then the retry inserted with that id, so the
-- key is checked at commit (DEFERRABLE INITIALLY DEFERRED).
ALTER TABLE notifications ADD COLUMN retried_as uuid
	REFERENCES notifications (id) ON DELETE SET NULL
	DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX notifications_retried_as_idx ON notifications (retried_as)
	WHERE retried_as IS NOT NULL;
-- One live notification per (alarm, phone, channel) and kind: a retried
-- one leaves the rule to its retry, which takes its place.
DROP INDEX notifications_alarm_recipient_channel_kind_key;
CREATE UNIQUE INDEX notifications_alarm_recipient_channel_kind_key
	ON notifications (alarm_id, recipient, channel, kind)
	WHERE alarm_id IS NOT NULL AND retried_as IS NULL;
-- the staff page of failed deliveries, newest first
CREATE INDEX notifications_failed_list_idx ON notifications (updated_at DESC)
	WHERE status IN ('FAILED', 'ERROR');

-- ---- the alarm-level steps of the timeline ----
-- RETRIED: staff retried a failed notification (notification_id: the
-- retry).
ALTER TABLE alarm_events DROP CONSTRAINT alarm_events_kind_check;
ALTER TABLE alarm_events ADD CONSTRAINT alarm_events_kind_check
	CHECK (kind IN ('ESCALATED', 'FALLBACK', 'EXHAUSTED', 'ACKNOWLEDGED',
		'RETRIED'));
