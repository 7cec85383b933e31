-- Every launch carries its purpose (user, balancer, service): reconcile adopts by it and
-- the reaper and budgets act only on the purposes their policy covers. Launches recorded
-- before purposes existed were all users'.
ALTER TABLE launches ADD COLUMN purpose TEXT NOT NULL DEFAULT 'user'
    CHECK (purpose IN ('user', 'balancer', 'service'));

-- The intent of a stop, start or terminate, written (with its audit entry and the
-- instance's transitional state) before the cloud call and settled after it, as a launch
-- is: a daemon killed between the call and the record, or refused the record's write,
-- leaves a 'requested' row that reconcile settles from what the cloud says.
CREATE TABLE instance_actions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL,
    region       TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('stop', 'start', 'terminate')),
    audit_action TEXT NOT NULL,                 -- e.g. stop, admin.terminate, reap.stop
    actor        TEXT NOT NULL,
    uid          INTEGER NOT NULL,
    prev_state   TEXT NOT NULL,                 -- the state before the intent
    state        TEXT NOT NULL DEFAULT 'requested' CHECK (state IN ('requested', 'done', 'failed')),
    result       TEXT NOT NULL DEFAULT '',      -- the instance's state, or the failure
    created_at   TEXT NOT NULL,
    settled_at   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instance_actions_open ON instance_actions(created_at) WHERE state = 'requested';
