-- Server-side sessions of the reviewer app, API tokens that expire and can be revoked, login
-- throttling shared by every app process, and the receipts of signed review actions.
-- depends: 0002_users

-- Only the SHA-256 of the session id is kept: a copy of this table opens no session.
CREATE TABLE app_sessions (
    session_hash    text PRIMARY KEY CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    user_name       text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    client_address  text NOT NULL DEFAULT ''
);
CREATE INDEX app_sessions_user_idx ON app_sessions (user_name);

-- A change of role ends the account's sessions, whoever makes it (a password change does too,
-- in storage/accounts.py: a rehash of the same password must not).
CREATE FUNCTION app_sessions_end_on_role_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM app_sessions WHERE user_name = NEW.name;
    RETURN NEW;
END $$;
CREATE TRIGGER users_role_change_ends_sessions
    AFTER UPDATE OF role ON users
    FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role)
    EXECUTE FUNCTION app_sessions_end_on_role_change();

-- Tokens made before this migration expire 90 days from now.
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '90 days',
    ADD COLUMN revoked_at timestamptz;
ALTER TABLE api_tokens ALTER COLUMN expires_at DROP DEFAULT;

-- Failed logins per (account, address) and per address: never per account alone, so nobody
-- can lock a reviewer out from elsewhere. See webapp/throttle.py for the delays.
CREATE TABLE login_throttle (
    throttle_key     text PRIMARY KEY,
    failures         integer NOT NULL CHECK (failures > 0),
    last_failure_at  timestamptz NOT NULL,
    blocked_until    timestamptz
);
CREATE INDEX login_throttle_last_idx ON login_throttle (last_failure_at);

-- Where each signed review action was first read: the same action at another offset is a
-- replay, the same offset a redelivery (pipeline/signatures.py).
CREATE TABLE review_action_receipts (
    action_id         uuid PRIMARY KEY,
    body_sha256       text NOT NULL,
    signed_by         text NOT NULL,
    source_topic      text NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint NOT NULL,
    received_at       timestamptz NOT NULL
);
