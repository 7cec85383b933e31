-- Per-user IAM identities, crash-safe in the manner of a write-ahead log: a row is written
-- (state 'creating') BEFORE CreateUser and a key intent BEFORE CreateAccessKey, so a
-- daemon killed in between leaves a record from which start-up rolls back what the cloud
-- holds. No secret is ever stored here.

CREATE TABLE iam_identities (
    user          TEXT PRIMARY KEY,                       -- Unix user name
    iam_user      TEXT NOT NULL UNIQUE COLLATE NOCASE,    -- IAM user names are case-insensitive
    arn           TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL CHECK (state IN ('creating', 'active', 'revoking')),
    created_at    TEXT NOT NULL,
    last_rotated  TEXT NOT NULL DEFAULT '',               -- last key issued with --rotate
    updated_at    TEXT NOT NULL
);

-- One row per CreateAccessKey in flight. prior_keys are the user's keys (id and status)
-- before the call: after a crash every other key of that IAM user is one whose secret
-- nobody received, and is deleted; prior keys get their status back.
CREATE TABLE iam_key_intents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user        TEXT NOT NULL,
    iam_user    TEXT NOT NULL COLLATE NOCASE,
    rotate      INTEGER NOT NULL DEFAULT 0,
    prior_keys  TEXT NOT NULL DEFAULT '[]',               -- JSON [{"id":..,"status":..}]
    new_key     TEXT NOT NULL DEFAULT '',                 -- access key id, once CreateAccessKey returned
    created_at  TEXT NOT NULL
);
CREATE INDEX iam_key_intents_user ON iam_key_intents(iam_user);
