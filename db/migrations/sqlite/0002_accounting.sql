-- Accounting: running periods, EBS volumes, spot prices, collector runs and notices.
-- Owned by package accounting. Times that cost arithmetic needs are INTEGER Unix seconds
-- (UTC), so windowed sums are plain integer arithmetic; times shown to people are TEXT in
-- db.Time format as elsewhere.

-- One row per running period of an instance: from a LaunchTime (each start) to the stop or
-- terminate time. Storage grows with state changes, never with snapshots.
CREATE TABLE acct_periods (
    id          INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    az          TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL,
    spot        INTEGER NOT NULL DEFAULT 0,
    start_s     INTEGER NOT NULL,              -- LaunchTime of this start
    end_s       INTEGER,                       -- NULL while running
    end_how     TEXT NOT NULL DEFAULT '' CHECK (end_how IN ('', 'reason', 'observed', 'restart', 'vanished')),
    estimated   INTEGER NOT NULL DEFAULT 0,    -- end_s estimated (missed transition, vanished)
    UNIQUE (instance_id, start_s)
);
-- The collector loads one region's live instances per snapshot.
CREATE INDEX acct_instances_region ON instances(region, gone_at);

CREATE INDEX acct_periods_open ON acct_periods(region) WHERE end_s IS NULL;
CREATE INDEX acct_periods_start ON acct_periods(start_s);

-- EBS volumes, costed from creation until their instance is gone (running or stopped).
CREATE TABLE acct_volumes (
    volume_id   TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    type        TEXT NOT NULL,
    size_gb     INTEGER NOT NULL,
    start_s     INTEGER NOT NULL,
    end_s       INTEGER,                       -- NULL while the instance exists
    estimated   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (volume_id, instance_id)
);
CREATE INDEX acct_volumes_instance ON acct_volumes(instance_id);
CREATE INDEX acct_volumes_open ON acct_volumes(region) WHERE end_s IS NULL;

-- Spot price history as collected: a price is in force from at_s until the next point of
-- the same (region, type, az).
CREATE TABLE acct_spot_prices (
    region  TEXT NOT NULL,
    type    TEXT NOT NULL,
    az      TEXT NOT NULL,
    at_s    INTEGER NOT NULL,
    price   REAL NOT NULL,
    PRIMARY KEY (region, type, az, at_s)
) WITHOUT ROWID;

-- Collector runs per region, run-length encoded: a run of snapshots with the same
-- outcome is one row whose last_s and runs move, so an unchanged snapshot writes one row
-- per region. A live instance was last seen at its region's latest successful snapshot.
CREATE TABLE acct_region_runs (
    id        INTEGER PRIMARY KEY,
    region    TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    error     TEXT NOT NULL DEFAULT '',
    first_s   INTEGER NOT NULL,
    last_s    INTEGER NOT NULL,
    runs      INTEGER NOT NULL DEFAULT 1,
    instances INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX acct_region_runs_region ON acct_region_runs(region, id);

-- Live instances a successful snapshot did not return (just launched, or a failed
-- lookup): they were last seen before that snapshot, which the region's run record alone
-- would no longer tell. Rows exist only while the anomaly lasts.
CREATE TABLE acct_missing (
    instance_id TEXT PRIMARY KEY,
    region      TEXT NOT NULL,
    last_seen_s INTEGER NOT NULL
);
CREATE INDEX acct_missing_region ON acct_missing(region);

-- Notices for users: lease warnings, reaper and budget actions, adoptions. ref makes
-- sending idempotent when a cron collector and the daemon act at once.
CREATE TABLE notices (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user    TEXT NOT NULL,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    ref     TEXT NOT NULL,
    message TEXT NOT NULL,
    read    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user, kind, ref)
);
CREATE INDEX notices_unread ON notices(user, read);
