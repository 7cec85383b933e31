package db

import (
	"context"
	"testing"
	"time"
)

func TestHoldings(t *testing.T) { eachEngine(t, testHoldings) }

func testHoldings(t *testing.T, engine Engine) {
	ctx := context.Background()
	d := openOn(t, engine)
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	exp := now.Add(4 * time.Hour)
	launch := func(id, owner, state string, count int) {
		t.Helper()
		if err := InsertLaunch(ctx, d, Launch{ID: id, ClientToken: "tok-" + id, Owner: owner, UID: 1, Region: "us-west-2",
			Type: "t3.micro", Image: "ami-0123456789abcdef0", Count: count, VCPUsEach: 2, PriceHourly: 0.0104,
			Lifetime: 4 * time.Hour, ExpiresAt: exp, State: state, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	instance := func(id, owner, launchID, state string, gone bool) {
		t.Helper()
		in := Instance{ID: id, LaunchID: launchID, Owner: owner, UID: 1, Region: "us-west-2", Type: "t3.micro",
			Purpose: "user", State: state, LaunchedAt: now, ExpiresAt: exp, LastSeen: now, Tags: map[string]string{"k": "v"}}
		if _, err := InsertInstance(ctx, d, in); err != nil {
			t.Fatal(err)
		}
		if gone {
			if err := UpdateInstanceState(ctx, d, id, "terminated", "", "", now); err != nil {
				t.Fatal(err)
			}
		}
	}
	launch("r-1", "alice", LaunchLaunched, 3)
	launch("r-2", "alice", LaunchRequested, 2)
	launch("r-3", "alice", LaunchFailed, 1)
	launch("r-4", "bob", LaunchRequested, 1)
	instance("i-00000001", "alice", "r-1", "running", false)
	instance("i-00000002", "alice", "r-1", "stopped", false)
	instance("i-00000003", "alice", "r-1", "shutting-down", false)
	instance("i-00000004", "alice", "", "pending", false) // adopted: no launch record
	instance("i-00000005", "alice", "r-1", "terminated", true)
	instance("i-00000006", "bob", "", "running", false)

	got, err := Holdings(ctx, d, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Holding{
		"i-00000001": {InstanceID: "i-00000001", State: "running", Count: 1, PriceHourly: 0.0104, VCPUsEach: 2},
		"i-00000002": {InstanceID: "i-00000002", State: "stopped", Count: 1, PriceHourly: 0.0104, VCPUsEach: 2},
		"i-00000004": {InstanceID: "i-00000004", State: "pending", Count: 1},
		"":           {State: "requested", Count: 2, PriceHourly: 0.0104, VCPUsEach: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d holdings %+v, want %d", len(got), got, len(want))
	}
	for _, h := range got {
		w, ok := want[h.InstanceID]
		if !ok {
			t.Errorf("got unexpected holding %+v", h)
			continue
		}
		w.Type, w.Region, w.ExpiresAt = "t3.micro", "us-west-2", exp
		if h != w {
			t.Errorf("got %+v, want %+v", h, w)
		}
	}
	t.Run("inside a transaction", func(t *testing.T) {
		err := d.Read(ctx, func(tx *Tx) error {
			got, err := Holdings(ctx, tx, "bob")
			if err != nil || len(got) != 2 {
				t.Errorf("got %+v, %v; want bob's instance and requested launch", got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
