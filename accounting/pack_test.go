package accounting

import (
	"context"
	"database/sql"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
)

// checkPacks fails t unless every instance's packed periods and volumes (what reports
// read) equal its rows in acct_periods and acct_volumes.
func checkPacks(t *testing.T, d *db.DB) {
	t.Helper()
	ctx := context.Background()
	var packed []*instInfo
	if err := d.Read(ctx, func(tx *db.Tx) error {
		parts, err := rowidParts(ctx, tx)
		for _, r := range parts {
			if err != nil {
				break
			}
			var insts []*instInfo
			insts, err = loadPacked(ctx, tx, 0, r)
			packed = append(packed, insts...)
		}
		return err
	}); err != nil {
		t.Fatalf("load packed: %v", err)
	}
	slices.SortFunc(packed, launchOrder)
	want := tableRows(t, d)
	if got, want := len(packed), len(want); got != want {
		t.Fatalf("instances: got %d packed, want %d", got, want)
	}
	byStart := func(a, b costPeriod) int { return int(a.Start - b.Start) }
	for i, in := range packed {
		if i > 0 && launchOrder(packed[i-1], in) > 0 {
			t.Fatalf("instance %d (%s) out of launch order", i, in.ID)
		}
		w := want[in.ID]
		if w == nil {
			t.Fatalf("instance %s: packed but not in the table", in.ID)
		}
		wp := slices.SortedFunc(slices.Values(w.Periods), byStart)
		if !reflect.DeepEqual(in.Periods, wp) && len(in.Periods)+len(wp) > 0 {
			t.Errorf("%s periods: got %+v, want %+v", in.ID, in.Periods, wp)
		}
		wv := slices.SortedFunc(slices.Values(w.Volumes), func(a, b costVolume) int { return int(a.Start - b.Start) })
		if !reflect.DeepEqual(in.Volumes, wv) && len(in.Volumes)+len(wv) > 0 {
			t.Errorf("%s volumes: got %+v, want %+v", in.ID, in.Volumes, wv)
		}
	}
}

// tableRows reads every instance with its periods and volumes straight from
// acct_periods and acct_volumes, not from the packs: the oracle the packs must equal.
func tableRows(t *testing.T, d *db.DB) map[string]*instInfo {
	t.Helper()
	ctx := context.Background()
	out := map[string]*instInfo{}
	q := func(query string, scan func(*sql.Rows) error) {
		t.Helper()
		rows, err := d.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	q(`SELECT id, region FROM instances`, func(r *sql.Rows) error {
		in := &instInfo{}
		if err := r.Scan(&in.ID, &in.Region); err != nil {
			return err
		}
		out[in.ID] = in
		return nil
	})
	q(`SELECT instance_id, type, CASE WHEN spot = 1 THEN az ELSE '' END, spot, start_s, coalesce(end_s, 0), estimated
		FROM acct_periods`, func(r *sql.Rows) error {
		var p costPeriod
		if err := r.Scan(&p.InstanceID, &p.Type, &p.AZ, &p.Spot, &p.Start, &p.End, &p.Estimated); err != nil {
			return err
		}
		if in := out[p.InstanceID]; in != nil {
			p.Region = in.Region
			in.Periods = append(in.Periods, p)
		}
		return nil
	})
	q(`SELECT instance_id, type, size_gb, start_s, coalesce(end_s, 0), estimated FROM acct_volumes`, func(r *sql.Rows) error {
		var v costVolume
		if err := r.Scan(&v.InstanceID, &v.Type, &v.SizeGB, &v.Start, &v.End, &v.Estimated); err != nil {
			return err
		}
		if in := out[v.InstanceID]; in != nil {
			v.Region = in.Region
			in.Volumes = append(in.Volumes, v)
		}
		return nil
	})
	return out
}

// TestPacksFollowRows writes periods and volumes the ways the collector does (insert,
// close, reopen, a conflicting insert) and one it does not (delete), and checks the
// packs after each.
func TestPacksFollowRows(t *testing.T) {
	ctx := context.Background()
	d := dbtest.OpenRun(t, "")
	steps := []struct {
		name string
		sql  string
	}{
		{"instances", `INSERT INTO instances(id, region, type, image, tracked, state, launched_at, last_seen) VALUES
			('i-1', 'us-west-2', 't3.micro', 'ami-1', 0, 'running', '2026-01-05T00:00:00Z', '2026-01-05T00:00:00Z'),
			('i-2', 'eu-west-1', 'm5.large', 'ami-1', 0, 'running', '2026-01-05T01:00:00Z', '2026-01-05T01:00:00Z')`},
		{"open periods", `INSERT INTO acct_periods(instance_id, region, az, type, spot, start_s) VALUES
			('i-1', 'us-west-2', 'us-west-2a', 't3.micro', 0, 1000), ('i-2', 'eu-west-1', 'eu-west-1b', 'm5.large', 1, 2000)`},
		{"volumes", `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s) VALUES
			('vol-1', 'i-1', 'us-west-2', 'gp3', 8, 1000), ('vol-2', 'i-1', 'us-west-2', 'gp2', 100, 1500),
			('vol-3', 'i-2', 'eu-west-1', 'gp3', 30, 2000)`},
		{"close", `UPDATE acct_periods SET end_s = 4000, end_how = 'reason' WHERE instance_id = 'i-1'`},
		{"second period", `INSERT INTO acct_periods(instance_id, region, az, type, spot, start_s, end_s, end_how, estimated)
			VALUES ('i-1', 'us-west-2', 'us-west-2a', 't3.small', 0, 5000, 6000, 'restart', 1)`},
		{"duplicate ignored", `INSERT INTO acct_periods(instance_id, region, type, start_s) VALUES ('i-1', 'us-west-2', 'x', 5000)
			ON CONFLICT(instance_id, start_s) DO NOTHING`},
		{"reopen", `UPDATE acct_periods SET end_s = NULL, end_how = '', estimated = 0 WHERE instance_id = 'i-1' AND start_s = 5000`},
		{"gone", `UPDATE acct_volumes SET end_s = 7000, estimated = 1 WHERE instance_id = 'i-2'`},
		{"delete", `DELETE FROM acct_periods WHERE instance_id = 'i-2'`},
		{"delete volume", `DELETE FROM acct_volumes WHERE volume_id = 'vol-2'`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if _, err := d.ExecContext(ctx, st.sql); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			checkPacks(t, d)
		})
	}
}

// TestUnpackRejectsGarbage checks a malformed pack is an error, not a zero cost.
func TestUnpackRejectsGarbage(t *testing.T) {
	in := &instInfo{ID: "i-1", Region: "us-west-2"}
	tests := []struct {
		name    string
		periods string
		volumes string
	}{
		{"period fields", "1,2,0,0,t3.micro", ""},
		{"period number", "x,2,0,0,t3.micro,az", ""},
		{"volume fields", "", "1,2,0,8"},
		{"volume size", "", "1,2,0,big,gp3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u unpacker
			_, perr := u.unpackPeriods(in, tt.periods, 0)
			_, verr := u.unpackVolumes(in, tt.volumes, 0)
			if perr == nil && verr == nil {
				t.Errorf("unpack(%q, %q): got no error, want one", tt.periods, tt.volumes)
			}
		})
	}
}

// TestPackedPurposeIsFreeText checks a purpose tag holding every separator a packed row
// uses (it comes from tags, so anyone who can tag an instance chooses it) reads back
// intact, and leaves the other fields alone.
func TestPackedPurposeIsFreeText(t *testing.T) {
	ctx := context.Background()
	d := dbtest.OpenRun(t, "")
	purpose := "lab\x1f3,b;c\x1f\x1f"
	if _, err := d.ExecContext(ctx, `INSERT INTO instances(id, region, type, image, purpose, tracked, state, launched_at, last_seen)
		VALUES ('i-1', 'us-west-2', 't3.micro', 'ami-1', ?, 0, 'running', '2026-01-05T00:00:00Z', '2026-01-05T00:00:00Z')`, purpose); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO acct_periods(instance_id, region, az, type, start_s) VALUES ('i-1', 'us-west-2', 'us-west-2a', 't3.micro', 1000)`); err != nil {
		t.Fatal(err)
	}
	var insts []*instInfo
	if err := d.Read(ctx, func(tx *db.Tx) (err error) {
		insts, err = loadPacked(ctx, tx, 0, [2]int64{0, 1 << 62})
		return err
	}); err != nil {
		t.Fatalf("load packed: %v", err)
	}
	if len(insts) != 1 {
		t.Fatalf("got %d instances, want 1", len(insts))
	}
	in := insts[0]
	if in.Purpose != purpose || in.ID != "i-1" || in.Region != "us-west-2" || in.State != "running" || len(in.Periods) != 1 {
		t.Errorf("got %+v, want purpose %q and the other fields intact", in, purpose)
	}
}

// TestFirstSightingPacks checks the packs the collector writes itself for instances it
// sees for the first time (running, spot, stopped, terminated, each with a volume) equal
// their period and volume rows, and stay equal through the next snapshot's changes.
func TestFirstSightingPacks(t *testing.T) {
	const region = "us-west-2"
	e := newEnv(t, envOptions{regions: []string{region}})
	e.launch(region, "", "t3.micro", 2, false, 0)
	spot := e.launch(region, "", "t3.micro", 2, true, 0)
	stopped := e.launch(region, "", "m5.large", 1, false, 0)
	gone := e.launch(region, "", "t3.micro", 1, true, 0)
	e.sim.Advance(10 * time.Minute)
	e.stop(region, stopped[0].ID)
	e.terminate(region, gone[0].ID)
	e.sim.Advance(time.Minute)
	res := e.collect()
	if res.Untracked != 6 {
		t.Fatalf("first snapshot: %d untracked instances, want 6", res.Untracked)
	}
	var spotPacks int
	if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM instances WHERE pack_periods LIKE '%,0,1,t3.micro,%'`).Scan(&spotPacks); err != nil {
		t.Fatal(err)
	}
	if spotPacks != 3 {
		t.Errorf("spot packs after the first snapshot: got %d, want 3", spotPacks)
	}
	checkPacks(t, e.db)
	e.start(region, stopped[0].ID)
	e.terminate(region, spot[0].ID)
	e.sim.Advance(5 * time.Minute)
	e.collect()
	checkPacks(t, e.db)
}
