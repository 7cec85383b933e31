-- Regional services: one instance per (service, region), set up step by step (each
-- step's result recorded, so a killed setup resumes where it was), and every run with
-- its outcome. Runs are written 'running' before the instance is started, so a daemon
-- killed mid-run finds the run at start-up, stops the instance and records it
-- 'interrupted'.
CREATE TABLE service_regions (
    service     TEXT NOT NULL,
    region      TEXT NOT NULL,
    image_id    TEXT NOT NULL DEFAULT '',
    group_id    TEXT NOT NULL DEFAULT '',
    keypair     TEXT NOT NULL DEFAULT '',
    launch_id   TEXT NOT NULL DEFAULT '',
    instance_id TEXT NOT NULL DEFAULT '',
    step        TEXT NOT NULL DEFAULT '',  -- the last step done
    updated_at  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service, region)
);

CREATE TABLE service_runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    service          TEXT NOT NULL,
    region           TEXT NOT NULL,
    instance_id      TEXT NOT NULL DEFAULT '',
    started_at       TEXT NOT NULL,
    ended_at         TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'interrupted', 'refused')),
    exit_code        INTEGER NOT NULL DEFAULT -1,
    command_id       TEXT NOT NULL DEFAULT '',
    stdout           TEXT NOT NULL DEFAULT '',
    stderr           TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    instance_seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX service_runs_by_service ON service_runs(service, region, id);
CREATE INDEX service_runs_running ON service_runs(status) WHERE status = 'running';
