-- Repeated identical refusals from one actor are one entry with a count and the time of
-- the last (a user at the rate limit no longer writes a row per request), and refusals
-- may be deleted once past [broker] audit_refusal_retention. Everything else in the
-- audit log stays append-only, as the triggers enforce.
ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit ADD COLUMN last_at TEXT NOT NULL DEFAULT '';

DROP TRIGGER audit_no_update;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
WHEN NOT (OLD.decision = 'refused' AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
    AND NEW.uid = OLD.uid AND NEW.action = OLD.action AND NEW.target = OLD.target
    AND NEW.decision = OLD.decision AND NEW.reason = OLD.reason AND NEW.detail = OLD.detail
    AND NEW.count > OLD.count)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only (a refusal may only be counted again)'); END;

DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit WHEN OLD.decision != 'refused'
BEGIN SELECT RAISE(ABORT, 'audit log is append-only (only refusals past their retention may be deleted)'); END;

CREATE INDEX audit_refused ON audit(at) WHERE decision = 'refused';
