package accounting

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
)

const region = "us-west-2"

// checkAgainstLedger asserts every instance's cost is within one collector interval's
// compute cost of the simulator's ledger, and returns our total and the ledger's.
func checkAgainstLedger(t *testing.T, e *testEnv, interval time.Duration) (float64, float64) {
	t.Helper()
	ours, total := e.allCosts()
	ledger, ltotal := e.ledgerByID()
	for id, le := range ledger {
		od, _ := awssim.OnDemandPrice(le.Region, le.Type)
		tol := od*interval.Hours() + 1e-9
		if got := ours[id].CostUSD; !near(got, le.CostUSD, tol) {
			t.Errorf("instance %s (%s, spot %v, state %s): cost got %.6f, want %.6f ± %.6f (ledger)",
				id, le.Type, le.Spot, le.State, got, le.CostUSD, tol)
		}
	}
	return total, ltotal
}

func TestCollectScenarios(t *testing.T) {
	tests := []struct {
		name string
		// run drives the simulation; the test collects every 5 minutes around it.
		run func(e *testEnv)
		// check inspects the result beyond the ledger comparison.
		check func(t *testing.T, e *testEnv)
	}{
		{
			name: "stop time from StateTransitionReason",
			run: func(e *testEnv) {
				in := e.launch(region, "alice", "t3.micro", 1, false, 0)
				e.collect()
				e.sim.Advance(time.Hour + 17*time.Second)
				e.stop(region, in[0].ID)
				e.sim.Advance(5 * time.Minute)
				e.collect()
			},
			check: func(t *testing.T, e *testEnv) {
				var how string
				var est bool
				if err := e.db.QueryRowContext(context.Background(), `SELECT end_how, estimated FROM acct_periods`).Scan(&how, &est); err != nil {
					t.Fatal(err)
				}
				if how != endReason || est {
					t.Errorf("period end: got %s estimated=%v, want %s not estimated", how, est, endReason)
				}
			},
		},
		{
			name: "restart between snapshots",
			run: func(e *testEnv) {
				in := e.launch(region, "alice", "m5.large", 1, false, 0)
				e.collect()
				e.advance(2*time.Hour + 2*time.Minute)
				e.stop(region, in[0].ID)
				e.sim.Advance(time.Minute)
				e.start(region, in[0].ID)
				e.sim.Advance(3 * time.Minute)
				e.collect()
				e.sim.Advance(time.Hour)
				e.collect()
			},
			check: func(t *testing.T, e *testEnv) {
				var n, open int
				if err := e.db.QueryRowContext(context.Background(), `SELECT count(*), count(*) - count(end_s) FROM acct_periods`).Scan(&n, &open); err != nil {
					t.Fatal(err)
				}
				if n != 2 || open != 1 {
					t.Errorf("periods: got %d (%d open), want 2 (1 open)", n, open)
				}
			},
		},
		{
			name: "a whole run between two snapshots",
			run: func(e *testEnv) {
				e.collect()
				in := e.launch(region, "bob", "c5.large", 1, false, 0)
				e.sim.Advance(2 * time.Minute)
				e.stop(region, in[0].ID)
				e.sim.Advance(3 * time.Minute)
				e.collect()
			},
		},
		{
			name: "vanished instance is closed, never running forever",
			run: func(e *testEnv) {
				in := e.launch(region, "carol", "r5.large", 1, false, 0)
				e.collect()
				e.sim.Advance(time.Hour)
				e.collect()
				e.sim.Advance(2 * time.Minute)
				e.sim.Forget(in[0].ID)
				e.sim.Advance(3 * time.Minute)
				res := e.collect()
				if res.Closed != 1 {
					e.t.Errorf("closed: got %d, want 1", res.Closed)
				}
				e.sim.Advance(48 * time.Hour)
				e.collect()
			},
			check: func(t *testing.T, e *testEnv) {
				var how string
				var est bool
				if err := e.db.QueryRowContext(context.Background(), `SELECT end_how, estimated FROM acct_periods`).Scan(&how, &est); err != nil {
					t.Fatal(err)
				}
				if how != endVanished || !est {
					t.Errorf("period end: got %s estimated=%v, want %s estimated", how, est, endVanished)
				}
				u, err := e.svc.Usage(context.Background(), "carol")
				if err != nil {
					t.Fatal(err)
				}
				if len(u.Instances) != 1 || !u.Instances[0].Estimated {
					t.Errorf("usage instances: got %+v, want one estimated", u.Instances)
				}
			},
		},
		{
			name: "terminated instance and its volume",
			run: func(e *testEnv) {
				in := e.launch(region, "dave", "t3.small", 1, false, 0)
				e.collect()
				e.advance(30 * time.Minute)
				e.stop(region, in[0].ID)
				e.advance(10 * time.Hour) // stopped: EBS only
				e.collect()
				e.terminate(region, in[0].ID)
				e.sim.Advance(5 * time.Minute)
				e.collect()
				e.sim.Advance(3 * time.Hour) // gone from Describe after an hour
				e.collect()
			},
			check: func(t *testing.T, e *testEnv) {
				var open int
				if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM acct_volumes WHERE end_s IS NULL`).Scan(&open); err != nil {
					t.Fatal(err)
				}
				if open != 0 {
					t.Errorf("open volumes: got %d, want 0", open)
				}
			},
		},
		{
			name: "spot priced from the spot price history",
			run: func(e *testEnv) {
				e.launch(region, "erin", "m5.xlarge", 2, true, 0)
				for range 12 * 11 {
					e.sim.Advance(5 * time.Minute)
					e.collect()
				}
			},
		},
		{
			name: "untracked instance",
			run: func(e *testEnv) {
				e.launch(region, "", "t3.large", 1, false, 0)
				e.sim.Advance(time.Minute)
				res := e.collect()
				if res.Untracked != 1 {
					e.t.Errorf("untracked: got %d, want 1", res.Untracked)
				}
				e.sim.Advance(time.Hour)
				e.collect()
			},
			check: func(t *testing.T, e *testEnv) {
				r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Untracked) != 1 || r.Untracked[0].CostUSD <= 0 {
					t.Errorf("untracked section: got %+v, want one instance with a cost", r.Untracked)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tt.run(e)
			ours, ledger := checkAgainstLedger(t, e, 5*time.Minute)
			if ledger <= 0 {
				t.Fatalf("ledger total %.6f: the scenario cost nothing", ledger)
			}
			t.Logf("ours $%.6f, ledger $%.6f", ours, ledger)
			if tt.check != nil {
				tt.check(t, e)
			}
			checkPacks(t, e.db)
		})
	}
}

func TestUnchangedSnapshotWritesOnlyRegionRows(t *testing.T) {
	regions := []string{"us-west-2", "eu-west-1"}
	e := newEnv(t, envOptions{regions: regions})
	for _, r := range regions {
		e.launch(r, "alice", "t3.micro", 5, false, 0)
		e.launch(r, "", "t3.micro", 2, false, 0)
	}
	e.sim.Advance(time.Minute)
	first := e.collect()
	if first.RowsWritten < 14 {
		t.Errorf("first snapshot rows: got %d, want at least one per instance (14)", first.RowsWritten)
	}
	e.sim.Advance(5 * time.Minute)
	second := e.collect()
	if got, want := second.RowsWritten, len(regions); got != want {
		t.Errorf("unchanged snapshot rows: got %d, want %d (one per region)", got, want)
	}
}

// TestFirstSnapshotVolumesFailure checks a first snapshot whose volume listing fails
// still records every instance, and the next snapshot records their volumes.
func TestFirstSnapshotVolumesFailure(t *testing.T) {
	e := newEnv(t, envOptions{regions: []string{"us-west-2"}})
	e.launch("us-west-2", "", "t3.micro", 3, false, 0)
	e.sim.Advance(time.Minute)
	e.sim.SetFaults(awssim.Faults{ErrorRate: map[string]float64{"DescribeVolumes": 1}})
	first := e.collect()
	if first.Instances != 3 || len(first.Regions) != 1 || !first.Regions[0].OK {
		t.Fatalf("first snapshot: %+v, want 3 instances and the region OK", first)
	}
	volumes := func() int {
		var n int
		if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM acct_volumes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := volumes(); n != 0 {
		t.Fatalf("volumes after a failed listing: got %d, want 0", n)
	}
	e.sim.SetFaults(awssim.Faults{})
	e.sim.Advance(5 * time.Minute)
	e.collect()
	if n := volumes(); n != 3 {
		t.Errorf("volumes after the next snapshot: got %d, want 3", n)
	}
}
