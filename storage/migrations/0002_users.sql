-- Accounts of the reviewer app (argon2 password hashes) and their API tokens (sha256 only).
-- depends: 0001_initial

CREATE TABLE users (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role           text NOT NULL CHECK (role IN ('reviewer', 'auditor', 'admin')),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The token itself is shown once; only its sha256 is kept, so a leaked table grants nothing.
CREATE TABLE api_tokens (
    token_hash    text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_name     text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    label         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (user_name);
