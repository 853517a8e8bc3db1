-- Demo data for a first run: one custodian, one subject and one active tag,
-- so that http://127.0.0.1:8000/subjects/qr/00000000-0000-4000-8000-0000000000a1/scan/
-- shows the whole flow. Idempotent: running it again changes nothing.
-- Apply after the storage migrations, e.g.
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f config/demo-seed.sql
BEGIN;

-- The demo custodian logs in with demo@keryu.local / keryu-demo (an argon2id
-- hash made with libsodium's crypto_pwhash_str). Delete or change it before
-- the instance is reachable by anyone else.
INSERT INTO custodians (id, email, name, phone_e164, phone_verified_at,
	password_hash)
VALUES ('00000000-0000-4000-8000-000000000001', 'demo@keryu.local',
	'Demo Custodian', '+15550100001', now(),
	'$argon2id$v=19$m=65536,t=2,p=1$8VMNmKGRDmcneucsbLCT7w$VpG1Sv2bl2U5Y9YQ5pX8dtAI+I29LBbVJDoOU7k+0sM')
ON CONFLICT DO NOTHING;

INSERT INTO subjects (id, custodian_id, name, date_of_birth, gender,
	care_instructions, allergies)
VALUES ('00000000-0000-4000-8000-000000000002',
	'00000000-0000-4000-8000-000000000001', 'Ana Demo', '2018-04-02', 'F',
	'Speak softly; she likes dinosaurs.', 'Peanuts')
ON CONFLICT DO NOTHING;

INSERT INTO subject_qr_codes (uuid, subject_id, activated_at, is_active)
VALUES ('00000000-0000-4000-8000-0000000000a1',
	'00000000-0000-4000-8000-000000000002', now(), true)
ON CONFLICT DO NOTHING;

COMMIT;
