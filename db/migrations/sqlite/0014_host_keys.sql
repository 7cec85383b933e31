-- SSH host keys pinned per instance for the regional services' SSH runner: taken from
-- the console output (cloud-init's host-key block) or, failing that, on first use. A
-- later connection presenting another key is refused. Keyed by instance id, so a
-- replaced instance starts unpinned.
CREATE TABLE host_keys (
    instance_id TEXT PRIMARY KEY,
    keys        TEXT NOT NULL,  -- authorized_keys lines, one per key
    source      TEXT NOT NULL CHECK (source IN ('console', 'first-use')),
    pinned_at   TEXT NOT NULL
);
