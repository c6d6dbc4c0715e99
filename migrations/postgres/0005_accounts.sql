-- Accounts, organizations, repository permissions and API tokens (shared/SPEC.md §4). PostgreSQL flavour.
CREATE TABLE app_user (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    superuser      BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms     BIGINT NOT NULL
);

-- A user's own namespace has an owner; an organization's has none (its admins are members).
ALTER TABLE namespace ADD COLUMN owner_user_id BIGINT REFERENCES app_user(id);

CREATE TABLE org_member (
    namespace_id  BIGINT NOT NULL REFERENCES namespace(id),
    user_id       BIGINT NOT NULL REFERENCES app_user(id),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    PRIMARY KEY (namespace_id, user_id)
);
CREATE INDEX org_member_user ON org_member (user_id);

CREATE TABLE repository_permission (
    repository_id  BIGINT NOT NULL REFERENCES repository(id),
    user_id        BIGINT NOT NULL REFERENCES app_user(id),
    role           TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (repository_id, user_id)
);
CREATE INDEX repository_permission_user ON repository_permission (user_id);

-- Only the SHA-256 of a token is kept; the token is shown once.
CREATE TABLE api_token (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES app_user(id),
    name          TEXT NOT NULL,
    token_digest  TEXT NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL
);

-- Server-wide secrets every instance sharing the database uses (the registry token key).
CREATE TABLE server_secret (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
