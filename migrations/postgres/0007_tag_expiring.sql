-- Whether a row's end is an expiration (set through the expiration API or an expires-after label)
-- rather than a delete or a move: the history reads the row's end as "expired" or "deleted" by it.
ALTER TABLE tag ADD COLUMN expiring BOOLEAN NOT NULL DEFAULT FALSE;

-- The history reads a row's neighbours (the same tag's rows starting near its end) by it.
CREATE INDEX tag_repo_name_start ON tag (repository_id, name, lifetime_start_ms);

-- An end still ahead at the upgrade can only be a set expiration (deletes and moves end rows now).
UPDATE tag SET expiring = TRUE WHERE lifetime_end_ms > (EXTRACT(EPOCH FROM now()) * 1000)::bigint;
