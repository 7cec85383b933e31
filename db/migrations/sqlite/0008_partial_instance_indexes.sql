-- Untracked instances (no owner, no launch) are most rows of an account that tollgate
-- did not launch, and a first snapshot inserts them all: index only the instances
-- these indexes are for. Lookups by owner = ? or launch_id = ? imply NOT NULL, so the
-- planner still uses them.
DROP INDEX instances_owner;
CREATE INDEX instances_owner ON instances(owner, state) WHERE owner IS NOT NULL;
DROP INDEX instances_launch;
CREATE INDEX instances_launch ON instances(launch_id) WHERE launch_id IS NOT NULL;
