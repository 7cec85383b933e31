-- The balancer's durable state per pool: what an admin set (pause, drain, a min/max
-- override with its expiry) and the managed security group found or created for it.
-- The slaves themselves are instances (purpose 'balancer', tag tollgate:pool) and
-- launches like any other; the load history and readiness are rebuilt after a restart.
CREATE TABLE balancer_pools (
    name           TEXT PRIMARY KEY,
    region         TEXT NOT NULL DEFAULT '',
    paused         INTEGER NOT NULL DEFAULT 0,
    draining       INTEGER NOT NULL DEFAULT 0,
    override_min   INTEGER NOT NULL DEFAULT -1,
    override_max   INTEGER NOT NULL DEFAULT -1,
    override_until TEXT NOT NULL DEFAULT '',
    security_group TEXT NOT NULL DEFAULT '',
    removed        INTEGER NOT NULL DEFAULT 0, -- gone from the config: being wound down
    updated_at     TEXT NOT NULL DEFAULT ''
);
