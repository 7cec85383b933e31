-- warned_at and expired_at were written and never read: lease warnings are de-duplicated
-- by the notices table (user, kind, instance@expiry) and reaper actions are in the audit
-- log.
ALTER TABLE instances DROP COLUMN warned_at;
ALTER TABLE instances DROP COLUMN expired_at;
