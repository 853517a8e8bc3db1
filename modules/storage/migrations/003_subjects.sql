-- 003: what a custodian manages from the web pages (keryu/subjects.h):
-- which fields the public scan page shows, a short code per tag for typing
-- in by hand, the resolution of an alarm, and length limits on free text.
-- The runner applies this file in one transaction.

-- KERYU_PUB_DEFAULT = photo | first_name | care | allergies = 1|2|8|32 = 43;
-- KERYU_PUB_ALL = 511.
ALTER TABLE subjects ADD COLUMN public_fields integer NOT NULL DEFAULT 43
	CHECK (public_fields BETWEEN 0 AND 511);

-- Long free text is at most 2000 bytes (KERYU_TEXT_MAX - 1): the service
-- checks first, these are the second line. NOT VALID: rows from before
-- this migration are not re-checked (they would make the upgrade fail),
-- every row inserted or updated from now on is.
ALTER TABLE subjects
	ADD CONSTRAINT subjects_medical_conditions_len
		CHECK (octet_length(medical_conditions) <= 2000) NOT VALID,
	ADD CONSTRAINT subjects_allergies_len
		CHECK (octet_length(allergies) <= 2000) NOT VALID,
	ADD CONSTRAINT subjects_medications_len
		CHECK (octet_length(medications) <= 2000) NOT VALID,
	ADD CONSTRAINT subjects_doctor_address_len
		CHECK (octet_length(doctor_address) <= 2000) NOT VALID,
	ADD CONSTRAINT subjects_care_instructions_len
		CHECK (octet_length(care_instructions) <= 2000) NOT VALID,
	-- struct keryu_subject's photo[80]
	ADD CONSTRAINT subjects_photo_len
		CHECK (octet_length(photo) < 80) NOT VALID;

-- A random short code from KERYU_SHORT_CODE_ALPHABET (no 0/O, 1/I/L, U/V).
-- The service is given its codes by the caller; this is the default for
-- rows inserted by anything else (scripts, seeds, older tests), and the
-- backfill below.
CREATE FUNCTION keryu_short_code() RETURNS char(8) LANGUAGE sql VOLATILE
AS $$
	SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTWXYZ',
		1 + floor(random() * 29)::int, 1), '')::char(8)
	FROM generate_series(1, 8)
$$;

ALTER TABLE subject_qr_codes ADD COLUMN short_code char(8)
	CHECK (short_code ~ '^[23456789ABCDEFGHJKMNPQRSTWXYZ]{8}$');
UPDATE subject_qr_codes SET short_code = keryu_short_code();
-- 29^8 codes make a repeat unlikely, not impossible: draw again until
-- every code is unique, so that the unique constraint below holds.
DO $$
BEGIN
	LOOP
		UPDATE subject_qr_codes q SET short_code = keryu_short_code()
		WHERE EXISTS (SELECT 1 FROM subject_qr_codes o
			WHERE o.short_code = q.short_code AND o.uuid < q.uuid);
		EXIT WHEN NOT FOUND;
	END LOOP;
END
$$;
ALTER TABLE subject_qr_codes ALTER COLUMN short_code SET DEFAULT keryu_short_code();
ALTER TABLE subject_qr_codes ALTER COLUMN short_code SET NOT NULL;
ALTER TABLE subject_qr_codes ADD CONSTRAINT subject_qr_codes_short_code_key
	UNIQUE (short_code);

-- An alarm is open until its custodian marks it resolved.
ALTER TABLE alarms ADD COLUMN resolved_at timestamptz;
ALTER TABLE alarms ADD COLUMN resolution_notes text
	CHECK (octet_length(resolution_notes) <= 2000);
-- the alarm list of a custodian is newest first across their subjects
CREATE INDEX alarms_scanned_idx ON alarms (scanned_at DESC);
-- the open-alarm counts of the dashboard and the subject list
CREATE INDEX alarms_open_idx ON alarms (subject_id) WHERE resolved_at IS NULL;
