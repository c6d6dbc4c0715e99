-- Blobs, uploads in progress, manifest references (for /v2 and garbage collection), referrers.
CREATE TABLE blob (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE repository_blob (
    repository_id  BIGINT NOT NULL REFERENCES repository(id),
    digest         TEXT NOT NULL REFERENCES blob(digest),
    created_ms     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);

CREATE TABLE manifest_blob (
    manifest_id  BIGINT NOT NULL REFERENCES manifest(id),
    digest       TEXT NOT NULL REFERENCES blob(digest),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blob_digest ON manifest_blob (digest);

CREATE TABLE blob_upload (
    uuid           TEXT PRIMARY KEY,
    repository_id  BIGINT NOT NULL REFERENCES repository(id),
    created_ms     BIGINT NOT NULL
);

ALTER TABLE manifest ADD COLUMN subject_digest TEXT;
ALTER TABLE manifest ADD COLUMN artifact_type TEXT;
CREATE INDEX manifest_subject ON manifest (repository_id, subject_digest);
