-- Bumped by every change to a repository's tag rows, so listings can be cached safely across
-- instances: a cached list is valid while the version (and the next expiration) holds.
ALTER TABLE repository ADD COLUMN tag_version BIGINT NOT NULL DEFAULT 0;
