-- Alive-tag listings (/v2 tags/list, the tags page) read only names and ends of visible rows:
-- a covering partial index answers them without touching the table.
CREATE INDEX tag_visible_names ON tag (repository_id, name, lifetime_end_ms) WHERE NOT hidden;
