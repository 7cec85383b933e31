-- Per-instance packs of running periods and volumes, so a report over a term reads one
-- row per instance instead of every period and volume: the SQLite driver's cost is per
-- row and column, and a term holds several periods and a volume per instance.
-- Triggers keep a pack equal to its rows in the same transaction as every write (the
-- collector's, or anyone's), so it can never disagree with acct_periods/acct_volumes.
-- Format, fields separated by ',' and items by ';', in no particular order:
--   periods: start_s,end_s(0 = open),estimated,spot,type,az
--   volumes: start_s,end_s(0 = open),estimated,size_gb,type
CREATE TABLE acct_packs (
    instance_id TEXT PRIMARY KEY,
    periods     TEXT NOT NULL DEFAULT '',
    volumes     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- An insert appends (the collector's first snapshot inserts a period and a volume per
-- instance); an update or delete rebuilds the instance's pack.
CREATE TRIGGER acct_packs_period_ins AFTER INSERT ON acct_periods BEGIN
    INSERT INTO acct_packs(instance_id, periods) VALUES (NEW.instance_id,
        NEW.start_s || ',' || coalesce(NEW.end_s, 0) || ',' || NEW.estimated || ',' || NEW.spot || ',' || NEW.type || ',' || NEW.az)
    ON CONFLICT(instance_id) DO UPDATE SET periods = CASE WHEN periods = '' THEN excluded.periods
        ELSE periods || ';' || excluded.periods END;
END;
CREATE TRIGGER acct_packs_period_upd AFTER UPDATE ON acct_periods BEGIN
    INSERT INTO acct_packs(instance_id, periods) VALUES (NEW.instance_id,
        (SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || spot || ',' || type || ',' || az, ';')
         FROM acct_periods WHERE instance_id = NEW.instance_id))
    ON CONFLICT(instance_id) DO UPDATE SET periods = excluded.periods;
    UPDATE acct_packs SET periods = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || spot || ',' || type || ',' || az, ';')
         FROM acct_periods WHERE instance_id = OLD.instance_id), '')
    WHERE instance_id = OLD.instance_id AND OLD.instance_id != NEW.instance_id;
END;
CREATE TRIGGER acct_packs_period_del AFTER DELETE ON acct_periods BEGIN
    UPDATE acct_packs SET periods = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || spot || ',' || type || ',' || az, ';')
         FROM acct_periods WHERE instance_id = OLD.instance_id), '')
    WHERE instance_id = OLD.instance_id;
END;

CREATE TRIGGER acct_packs_volume_ins AFTER INSERT ON acct_volumes BEGIN
    INSERT INTO acct_packs(instance_id, volumes) VALUES (NEW.instance_id,
        NEW.start_s || ',' || coalesce(NEW.end_s, 0) || ',' || NEW.estimated || ',' || NEW.size_gb || ',' || NEW.type)
    ON CONFLICT(instance_id) DO UPDATE SET volumes = CASE WHEN volumes = '' THEN excluded.volumes
        ELSE volumes || ';' || excluded.volumes END;
END;
CREATE TRIGGER acct_packs_volume_upd AFTER UPDATE ON acct_volumes BEGIN
    INSERT INTO acct_packs(instance_id, volumes) VALUES (NEW.instance_id,
        (SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || size_gb || ',' || type, ';')
         FROM acct_volumes WHERE instance_id = NEW.instance_id))
    ON CONFLICT(instance_id) DO UPDATE SET volumes = excluded.volumes;
    UPDATE acct_packs SET volumes = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || size_gb || ',' || type, ';')
         FROM acct_volumes WHERE instance_id = OLD.instance_id), '')
    WHERE instance_id = OLD.instance_id AND OLD.instance_id != NEW.instance_id;
END;
CREATE TRIGGER acct_packs_volume_del AFTER DELETE ON acct_volumes BEGIN
    UPDATE acct_packs SET volumes = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || size_gb || ',' || type, ';')
         FROM acct_volumes WHERE instance_id = OLD.instance_id), '')
    WHERE instance_id = OLD.instance_id;
END;

-- Existing databases: pack what is already there.
INSERT INTO acct_packs(instance_id, periods)
    SELECT instance_id, group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || spot || ',' || type || ',' || az, ';')
    FROM acct_periods GROUP BY instance_id;
INSERT INTO acct_packs(instance_id, volumes)
    SELECT instance_id, group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || size_gb || ',' || type, ';')
    FROM acct_volumes WHERE true GROUP BY instance_id
    ON CONFLICT(instance_id) DO UPDATE SET volumes = excluded.volumes;
