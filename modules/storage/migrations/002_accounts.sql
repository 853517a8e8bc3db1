-- 002: accounts: server-side sessions, emergency contacts, one-time codes
-- sent to a phone, fixed-window rate limits, and notifications that carry a
-- code instead of an alarm. The runner applies this file in one transaction.

-- A session per browser. token_hash is the hex HMAC-SHA-256 of the cookie
-- value, so a copy of this table opens no session. custodian_id is NULL
-- for a logged-out visitor, whose forms still need a CSRF token.
CREATE TABLE sessions (
	token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	custodian_id uuid REFERENCES custodians (id) ON DELETE CASCADE,
	csrf text NOT NULL CHECK (csrf <> ''),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	-- the absolute expiry; the idle one is the caller's, from last_seen_at
	expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_custodian_idx ON sessions (custodian_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- The people told when a subject's tag is scanned, besides the custodian.
CREATE TABLE contacts (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	subject_id uuid NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
	name varchar(100) NOT NULL CHECK (btrim(name) <> ''),
	phone_e164 text NOT NULL CHECK (phone_e164 ~ '^\+[1-9][0-9]{7,14}$'),
	channel text NOT NULL
		CHECK (channel IN ('whatsapp', 'twilio', 'sms', 'log')),
	position integer NOT NULL DEFAULT 0,
	verified_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_subject_idx ON contacts (subject_id, position);

-- Notifications now also carry one-time codes, which belong to no alarm.
-- The unique (alarm_id, custodian_id, channel) keeps holding for alarm
-- rows; NULL alarm_ids are distinct from each other, so code rows never
-- collide.
ALTER TABLE notifications ALTER COLUMN alarm_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN purpose text NOT NULL DEFAULT 'alarm'
	CHECK (purpose IN ('alarm', 'code'));
ALTER TABLE notifications ADD CONSTRAINT notifications_purpose_alarm_check
	CHECK ((purpose = 'alarm') = (alarm_id IS NOT NULL));

-- A code sent to a phone (1 verify own phone, 2 reset password, 3 verify a
-- contact). Only its hash is kept. consumed_at is set when it is used and
-- when a newer code replaces it; either way it is dead. recipient is the
-- phone it went to, so that a phone changed in the meantime is not marked
-- verified by a code that went elsewhere.
CREATE TABLE one_time_codes (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	custodian_id uuid NOT NULL REFERENCES custodians (id) ON DELETE CASCADE,
	purpose smallint NOT NULL CHECK (purpose IN (1, 2, 3)),
	contact_id uuid REFERENCES contacts (id) ON DELETE CASCADE,
	code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
	recipient text NOT NULL CHECK (recipient ~ '^\+[1-9][0-9]{7,14}$'),
	tries integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
	max_tries integer NOT NULL CHECK (max_tries >= 1),
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	consumed_at timestamptz,
	notification_id uuid REFERENCES notifications (id) ON DELETE SET NULL,
	CHECK ((purpose = 3) = (contact_id IS NOT NULL))
);
-- the resend throttle looks at every code, used or not
CREATE INDEX one_time_codes_custodian_idx
	ON one_time_codes (custodian_id, purpose, created_at DESC);
CREATE INDEX one_time_codes_live_idx
	ON one_time_codes (custodian_id, purpose, contact_id, created_at DESC)
	WHERE consumed_at IS NULL;
-- for the foreign keys' cascades
CREATE INDEX one_time_codes_contact_idx ON one_time_codes (contact_id)
	WHERE contact_id IS NOT NULL;
CREATE INDEX one_time_codes_notification_idx
	ON one_time_codes (notification_id) WHERE notification_id IS NOT NULL;

-- Fixed-window counters shared by every process (login and code entry,
-- per account and per IP). Windows older than a day are purged by the
-- storage module from time to time.
CREATE TABLE rate_limits (
	key text NOT NULL CHECK (key <> ''),
	window_start timestamptz NOT NULL,
	hits integer NOT NULL CHECK (hits >= 0),
	PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
