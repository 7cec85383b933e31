-- Core schema: enrolment, SSH keys, crash-safe launch records, instances, audit.

CREATE TABLE users (
    name        TEXT PRIMARY KEY,               -- Unix user name (resolved through NSS)
    uid         INTEGER,                        -- uid at enrolment time, informative
    source      TEXT NOT NULL CHECK (source IN ('admin', 'roster', 'group')),
    grp         TEXT NOT NULL DEFAULT '',       -- roster group (course section, team)
    disabled    INTEGER NOT NULL DEFAULT 0,
    overrides   TEXT NOT NULL DEFAULT '{}',     -- JSON quota.Override, per-user policy
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE ssh_keys (
    user        TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    public_key  TEXT NOT NULL,                  -- authorized_keys line
    fingerprint TEXT NOT NULL,                  -- SHA256:...
    updated_at  TEXT NOT NULL
);

-- Which regions hold the user's keypair, and with which key: a new key re-imports lazily.
CREATE TABLE ssh_key_imports (
    user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    region      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (user, region)
);

-- One row per launch request, written (state 'requested') in the admission transaction
-- BEFORE RunInstances is called. The client token makes the cloud call idempotent and lets
-- reconcile find what a crashed daemon launched.
CREATE TABLE launches (
    id            TEXT PRIMARY KEY,             -- request id, e.g. r-20261122-abcdef
    client_token  TEXT NOT NULL UNIQUE,
    owner         TEXT NOT NULL,
    uid           INTEGER NOT NULL,
    region        TEXT NOT NULL,
    type          TEXT NOT NULL,
    image         TEXT NOT NULL,
    count         INTEGER NOT NULL CHECK (count >= 1),
    name          TEXT NOT NULL DEFAULT '',
    spot          INTEGER NOT NULL DEFAULT 0,
    vcpus_each    INTEGER NOT NULL,
    price_hourly  REAL NOT NULL,                -- on-demand USD/h per instance at admission
    lifetime_s    INTEGER NOT NULL,
    expires_at    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('requested', 'launched', 'failed')),
    error         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX launches_state ON launches(state);
CREATE INDEX launches_owner ON launches(owner, state);

-- Every instance tollgate knows: launched through the gate (owner set, launch_id set),
-- adopted from tags, or seen by the collector outside the gate (tracked = 0).
-- Owner and launch facts are recorded at launch: tags fade from terminated instances.
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    launch_id     TEXT REFERENCES launches(id),
    owner         TEXT,                         -- NULL for untracked instances
    uid           INTEGER,
    region        TEXT NOT NULL,
    type          TEXT NOT NULL,
    image         TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL DEFAULT '',
    purpose       TEXT NOT NULL DEFAULT '',
    spot          INTEGER NOT NULL DEFAULT 0,
    tracked       INTEGER NOT NULL DEFAULT 1,   -- 0: launched outside the gate
    adopted       INTEGER NOT NULL DEFAULT 0,   -- 1: found by reconcile, not recorded at launch
    state         TEXT NOT NULL,                -- last known EC2 state name
    public_ip     TEXT NOT NULL DEFAULT '',
    private_ip    TEXT NOT NULL DEFAULT '',
    launched_at   TEXT NOT NULL,
    expires_at    TEXT NOT NULL DEFAULT '',     -- '' for untracked
    warned_at     TEXT NOT NULL DEFAULT '',     -- expiry warning notice sent
    expired_at    TEXT NOT NULL DEFAULT '',     -- reaper acted
    last_seen     TEXT NOT NULL,
    gone_at       TEXT NOT NULL DEFAULT '',     -- terminated / vanished
    tags          TEXT NOT NULL DEFAULT '{}'    -- JSON tags as last seen
);
CREATE INDEX instances_owner ON instances(owner, state);
CREATE INDEX instances_launch ON instances(launch_id);

-- Append-only audit log: the schema itself refuses UPDATE and DELETE.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,                    -- user name, or 'tollgated' for the daemon
    uid       INTEGER NOT NULL,                 -- peer uid; -1 for the daemon itself
    action    TEXT NOT NULL,                    -- e.g. launch, stop, users.add, reap.stop
    target    TEXT NOT NULL DEFAULT '',         -- instance ids, user name, ...
    decision  TEXT NOT NULL CHECK (decision IN ('allowed', 'refused', 'failed', 'done')),
    reason    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}'        -- JSON, never a secret
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_actor ON audit(actor, at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
