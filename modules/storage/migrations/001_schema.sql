-- 001: the core schema: custodians, subjects, their QR tags, alarms raised
-- by scans, and the notifications (with their delivery timeline) sent for
-- each alarm. Enum-like columns are text with CHECK constraints so that a
-- new value is a migration, not a type rewrite.

CREATE TABLE custodians (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- stored lower-cased so that the unique index below is the whole rule
	email text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
	name text,
	password_hash text,
	phone_e164 text NOT NULL CHECK (phone_e164 ~ '^\+[1-9][0-9]{7,14}$'),
	phone_verified_at timestamptz,
	whatsapp_opt_in boolean NOT NULL DEFAULT true,
	is_staff boolean NOT NULL DEFAULT false,
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX custodians_email_lower_key ON custodians (lower(email));

CREATE TABLE subjects (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	custodian_id uuid NOT NULL REFERENCES custodians (id) ON DELETE CASCADE,
	name varchar(100) NOT NULL CHECK (btrim(name) <> ''),
	date_of_birth date NOT NULL,
	gender varchar(1) NOT NULL CHECK (gender IN ('M', 'F', 'O', 'U')),
	medical_conditions text,
	allergies text,
	medications text,
	doctor_name varchar(100),
	doctor_phone varchar(128),
	doctor_address text,
	doctor_speciality varchar(100),
	care_instructions text,
	photo text,
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subjects_custodian_idx ON subjects (custodian_id);

CREATE TABLE subject_qr_codes (
	uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	subject_id uuid NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	activated_at timestamptz,
	last_used timestamptz,
	is_active boolean NOT NULL DEFAULT false
);
CREATE INDEX subject_qr_codes_subject_idx ON subject_qr_codes (subject_id);

CREATE TABLE alarms (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- the scan event's id: a scan delivered twice makes one alarm
	event_id uuid NOT NULL UNIQUE,
	subject_id uuid NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
	-- kept when the tag is later deleted: the alarm still happened
	qr_uuid uuid REFERENCES subject_qr_codes (uuid) ON DELETE SET NULL,
	scanned_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	location varchar(100),
	user_agent text,
	ip_hash text,
	latitude double precision CHECK (latitude BETWEEN -90 AND 90),
	longitude double precision CHECK (longitude BETWEEN -180 AND 180),
	accuracy_m double precision CHECK (accuracy_m >= 0),
	-- the spec's summary of the alarm's notification
	notification_sent boolean NOT NULL DEFAULT false,
	notification_error text,
	notification_attempts integer NOT NULL DEFAULT 0,
	last_attempt timestamptz,
	whatsapp_message_id varchar(255),
	notification_status varchar(20) NOT NULL DEFAULT 'PENDING'
		CHECK (notification_status IN ('PENDING', 'QUEUED', 'SENT',
			'DELIVERED', 'READ', 'FAILED', 'ERROR'))
);
CREATE INDEX alarms_subject_scanned_idx ON alarms (subject_id, scanned_at DESC);

CREATE TABLE notifications (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	alarm_id uuid NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
	custodian_id uuid NOT NULL REFERENCES custodians (id) ON DELETE CASCADE,
	channel text NOT NULL CHECK (channel <> ''),
	recipient text NOT NULL,
	status text NOT NULL DEFAULT 'PENDING'
		CHECK (status IN ('PENDING', 'QUEUED', 'SENT', 'DELIVERED',
			'READ', 'FAILED', 'ERROR')),
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	provider_message_id text,
	last_error_code text,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	queued_at timestamptz,
	sent_at timestamptz,
	delivered_at timestamptz,
	read_at timestamptz,
	failed_at timestamptz,
	UNIQUE (alarm_id, custodian_id, channel)
);
CREATE INDEX notifications_alarm_idx ON notifications (alarm_id);
CREATE INDEX notifications_provider_message_idx
	ON notifications (provider_message_id)
	WHERE provider_message_id IS NOT NULL;

-- Every status change that reached a notification, in arrival order; its
-- event_id makes a delivery result seen twice a no-op.
CREATE TABLE notification_events (
	id bigserial PRIMARY KEY,
	notification_id uuid NOT NULL
		REFERENCES notifications (id) ON DELETE CASCADE,
	at timestamptz NOT NULL DEFAULT now(),
	status text NOT NULL
		CHECK (status IN ('PENDING', 'QUEUED', 'SENT', 'DELIVERED',
			'READ', 'FAILED', 'ERROR')),
	attempt integer NOT NULL DEFAULT 0,
	provider_message_id text,
	error_code text,
	error_text text,
	event_id uuid UNIQUE
);
CREATE INDEX notification_events_notification_idx
	ON notification_events (notification_id, id);
