-- Packs move from acct_packs into the instance row they belong to: a report over a term
-- then reads one row per instance with no per-row lookup into another table (that
-- lookup was a fifth of a report's time). Same format as before, fields separated by
-- ',' and items by ';', in no particular order:
--   pack_periods: start_s,end_s(0 = open),estimated,spot,type,az
--   pack_volumes: start_s,end_s(0 = open),estimated,size_gb,type
-- Triggers keep them equal to acct_periods and acct_volumes in the same transaction as
-- every write, whoever writes.
ALTER TABLE instances ADD COLUMN pack_periods TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN pack_volumes TEXT NOT NULL DEFAULT '';
UPDATE instances SET pack_periods = k.periods, pack_volumes = k.volumes
    FROM acct_packs k WHERE k.instance_id = instances.id;

DROP TRIGGER acct_packs_period_ins;
DROP TRIGGER acct_packs_period_upd;
DROP TRIGGER acct_packs_period_del;
DROP TRIGGER acct_packs_volume_ins;
DROP TRIGGER acct_packs_volume_upd;
DROP TRIGGER acct_packs_volume_del;
DROP TABLE acct_packs;

-- Fewer B-trees for a snapshot to write. Nothing reads periods by start or open periods
-- by region (the collector finds an instance's latest period through its unique
-- (instance_id, start_s) index); volumes live in one B-tree keyed by instance first,
-- which also serves "the volumes of this instance".
DROP INDEX acct_periods_start;
DROP INDEX acct_periods_open;

CREATE TABLE acct_volumes_new (
    volume_id   TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    type        TEXT NOT NULL,
    size_gb     INTEGER NOT NULL,
    start_s     INTEGER NOT NULL,
    end_s       INTEGER,                       -- NULL while the instance exists
    estimated   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, volume_id)
) WITHOUT ROWID;
INSERT INTO acct_volumes_new SELECT volume_id, instance_id, region, type, size_gb, start_s, end_s, estimated
    FROM acct_volumes;
DROP TABLE acct_volumes;
ALTER TABLE acct_volumes_new RENAME TO acct_volumes;
CREATE INDEX acct_volumes_open ON acct_volumes(region) WHERE end_s IS NULL;


-- An insert appends (the collector's first snapshot inserts a period and a volume per
-- instance): ltrim drops the separator in front of a first item, since no item starts
-- with one. An update or delete rebuilds the instance's pack from its rows.
CREATE TRIGGER pack_period_ins AFTER INSERT ON acct_periods BEGIN
    UPDATE instances SET pack_periods = ltrim(pack_periods || ';' || NEW.start_s || ',' || coalesce(NEW.end_s, 0) || ',' ||
        NEW.estimated || ',' || NEW.spot || ',' || NEW.type || ',' || NEW.az, ';')
    WHERE id = NEW.instance_id;
END;
CREATE TRIGGER pack_period_upd AFTER UPDATE ON acct_periods BEGIN
    UPDATE instances SET pack_periods = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
        estimated || ',' || spot || ',' || type || ',' || az, ';') FROM acct_periods WHERE instance_id = instances.id), '')
    WHERE id IN (NEW.instance_id, OLD.instance_id);
END;
CREATE TRIGGER pack_period_del AFTER DELETE ON acct_periods BEGIN
    UPDATE instances SET pack_periods = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
        estimated || ',' || spot || ',' || type || ',' || az, ';') FROM acct_periods WHERE instance_id = instances.id), '')
    WHERE id = OLD.instance_id;
END;

-- Periods or volumes recorded before their instance row: the row picks up what is
-- already there, unless the insert brings its packs. The collector's first sighting of
-- an instance does: it inserts the instance's periods and volumes, then the instance row
-- with them packed, in one transaction, which spares a trigger run per row (a third of
-- a first snapshot's writes); the collector's tests check those packs against the rows.
-- (Instance ids are EC2's and never change, so no update of id needs this.)
CREATE TRIGGER pack_instance_ins AFTER INSERT ON instances
WHEN NEW.pack_periods = '' AND NEW.pack_volumes = ''
  AND (EXISTS (SELECT 1 FROM acct_periods WHERE instance_id = NEW.id)
    OR EXISTS (SELECT 1 FROM acct_volumes WHERE instance_id = NEW.id)) BEGIN
    UPDATE instances SET
        pack_periods = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
            estimated || ',' || spot || ',' || type || ',' || az, ';') FROM acct_periods WHERE instance_id = NEW.id), ''),
        pack_volumes = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
            estimated || ',' || size_gb || ',' || type, ';') FROM acct_volumes WHERE instance_id = NEW.id), '')
    WHERE id = NEW.id;
END;

-- Volume packs: as for periods.
CREATE TRIGGER pack_volume_ins AFTER INSERT ON acct_volumes BEGIN
    UPDATE instances SET pack_volumes = ltrim(pack_volumes || ';' || NEW.start_s || ',' || coalesce(NEW.end_s, 0) || ',' ||
        NEW.estimated || ',' || NEW.size_gb || ',' || NEW.type, ';')
    WHERE id = NEW.instance_id;
END;
CREATE TRIGGER pack_volume_upd AFTER UPDATE ON acct_volumes BEGIN
    UPDATE instances SET pack_volumes = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
        estimated || ',' || size_gb || ',' || type, ';') FROM acct_volumes WHERE instance_id = instances.id), '')
    WHERE id IN (NEW.instance_id, OLD.instance_id);
END;
CREATE TRIGGER pack_volume_del AFTER DELETE ON acct_volumes BEGIN
    UPDATE instances SET pack_volumes = coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' ||
        estimated || ',' || size_gb || ',' || type, ';') FROM acct_volumes WHERE instance_id = instances.id), '')
    WHERE id = OLD.instance_id;
END;
