-- Whether a row's end is an expiration (set through the expiration API or an expires-after label)
-- rather than a delete or a move: the history reads the row's end as "expired" or "deleted" by it.
ALTER TABLE tag ADD COLUMN expiring INTEGER NOT NULL DEFAULT 0 CHECK (expiring IN (0, 1));

-- The history reads a row's neighbours (the same tag's rows starting near its end) by it.
CREATE INDEX tag_repo_name_start ON tag (repository_id, name, lifetime_start_ms);

-- An end still ahead at the upgrade can only be a set expiration (deletes and moves end rows now).
UPDATE tag SET expiring = 1 WHERE lifetime_end_ms > CAST(strftime('%s', 'now') AS INTEGER) * 1000;
