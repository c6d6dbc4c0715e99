-- Namespace-wide audit listings, newest first.
CREATE INDEX audit_log_namespace ON audit_log (namespace_id, created_ms DESC, id DESC);
