-- The registry data model (shared/SPEC.md §1). SQLite flavour (booleans are 0/1 integers: sqlx's Any driver reads no SQLite BOOLEAN); migrations/postgres has the same version.
CREATE TABLE namespace (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    time_machine_s  BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL
);

CREATE TABLE repository (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id    BIGINT NOT NULL REFERENCES namespace(id),
    name            TEXT NOT NULL,
    visibility      TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    state           TEXT NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'read_only', 'mirror')),
    description     TEXT NOT NULL DEFAULT '',
    created_ms      BIGINT NOT NULL,
    UNIQUE (namespace_id, name)
);

CREATE TABLE manifest (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id           BIGINT NOT NULL REFERENCES repository(id),
    digest                  TEXT NOT NULL,
    media_type              TEXT NOT NULL,
    bytes                   BLOB NOT NULL,
    config_media_type       TEXT,
    layers_compressed_size  BIGINT,
    created_ms              BIGINT NOT NULL,
    UNIQUE (repository_id, digest)
);

CREATE TABLE manifest_child (
    manifest_id        BIGINT NOT NULL REFERENCES manifest(id),
    child_manifest_id  BIGINT NOT NULL REFERENCES manifest(id),
    PRIMARY KEY (manifest_id, child_manifest_id)
);
CREATE INDEX manifest_child_child ON manifest_child (child_manifest_id);

CREATE TABLE tag (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id      BIGINT NOT NULL REFERENCES repository(id),
    name               TEXT NOT NULL,
    manifest_id        BIGINT NOT NULL REFERENCES manifest(id),
    lifetime_start_ms  BIGINT NOT NULL,
    lifetime_end_ms    BIGINT,
    reversion          INTEGER NOT NULL DEFAULT 0 CHECK (reversion IN (0, 1)),
    immutable          INTEGER NOT NULL DEFAULT 0 CHECK (immutable IN (0, 1)),
    hidden             INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1))
);
CREATE INDEX tag_repo_name ON tag (repository_id, name, lifetime_end_ms);
CREATE INDEX tag_repo_start ON tag (repository_id, lifetime_start_ms DESC, name);
CREATE INDEX tag_manifest ON tag (manifest_id);
-- A safety net under the per-repository lock: never two open-ended rows for one tag.
CREATE UNIQUE INDEX tag_one_open_row ON tag (repository_id, name) WHERE lifetime_end_ms IS NULL AND NOT hidden;

CREATE TABLE label (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    manifest_id  BIGINT NOT NULL REFERENCES manifest(id),
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    source_type  TEXT NOT NULL CHECK (source_type IN ('manifest', 'api', 'internal')),
    created_ms   BIGINT NOT NULL
);
CREATE INDEX label_manifest ON label (manifest_id);

CREATE TABLE immutability_policy (
    id                 TEXT PRIMARY KEY,
    namespace_id       BIGINT NOT NULL REFERENCES namespace(id),
    repository_id      BIGINT REFERENCES repository(id),
    pattern            TEXT NOT NULL,
    matches_immutable  INTEGER NOT NULL CHECK (matches_immutable IN (0, 1))
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id   BIGINT REFERENCES namespace(id),
    repository_id  BIGINT REFERENCES repository(id),
    actor          TEXT NOT NULL,
    address        TEXT,
    action         TEXT NOT NULL,
    data           TEXT NOT NULL,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX audit_log_repo ON audit_log (repository_id, created_ms DESC, id DESC);
