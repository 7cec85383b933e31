package audit

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
)

func open(t *testing.T, now *time.Time) (*db.DB, *Writer) {
	t.Helper()
	d := dbtest.OpenRun(t, "")
	return d, &Writer{DB: d, Now: func() time.Time { return *now }}
}

// TestRefusalsAggregated: a flood of identical refusals from one user is one entry with
// its count and first and last times; a different refusal, another user's, or the same
// one after the window is its own entry; what was allowed is never aggregated.
func TestRefusalsAggregated(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d, w := open(t, &now)
	ctx := context.Background()
	mallory := tollgate.UserActor(2001, "mallory")
	refuse := func(a tollgate.Actor, reason string) {
		t.Helper()
		if err := w.Record(ctx, nil, a, Entry{Action: Launch, Decision: Refused, Reason: reason,
			Detail: map[string]any{"limit": "max_instances"}}); err != nil {
			t.Fatal(err)
		}
	}
	first := now
	for range 1000 {
		refuse(mallory, "max_instances is 2")
		now = now.Add(time.Second)
	}
	last := now.Add(-time.Second)
	refuse(mallory, "max_vcpus is 4")                             // another refusal
	refuse(tollgate.UserActor(2002, "bob"), "max_instances is 2") // another user
	now = now.Add(2 * db.RefusalWindow)
	refuse(mallory, "max_vcpus is 4") // the same, past the window
	for range 3 {
		if err := w.Record(ctx, nil, mallory, Entry{Action: Stop, Target: "i-1", Decision: Allowed}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.ListAudit(ctx, db.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("got %d entries, want 7 (1 aggregated + 3 refusals + 3 allowed): %+v", len(got), got)
	}
	if e := got[0]; e.Count != 1000 || !e.At.Equal(first) || !e.LastAt.Equal(last) {
		t.Errorf("aggregated entry: count %d, first %v, last %v; want 1000, %v, %v", e.Count, e.At, e.LastAt, first, last)
	}
	for _, e := range got[1:] {
		if e.Count != 1 {
			t.Errorf("entry %+v: count %d, want 1", e, e.Count)
		}
	}
}

// TestRefusalRetention: pruning deletes refusals last seen before the retention, keeps
// newer ones, and never deletes anything that was allowed; the schema refuses to change
// or delete such entries whatever the caller does.
func TestRefusalRetention(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d, w := open(t, &now)
	ctx := context.Background()
	a := tollgate.UserActor(2001, "ann")
	w.Record(ctx, nil, a, Entry{Action: Launch, Decision: Refused, Reason: "old"})
	w.Record(ctx, nil, a, Entry{Action: Launch, Decision: Allowed, Target: "r-1"})
	now = now.Add(40 * 24 * time.Hour)
	w.Record(ctx, nil, a, Entry{Action: Launch, Decision: Refused, Reason: "new"})
	p := &Pruner{DB: d, Retention: 30 * 24 * time.Hour, Now: func() time.Time { return now }}
	n, err := p.Prune(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Prune: %d, %v; want 1 deleted", n, err)
	}
	got, _ := d.ListAudit(ctx, db.AuditFilter{})
	if len(got) != 2 || got[0].Decision != Allowed || got[1].Reason != "new" {
		t.Errorf("after pruning: %+v, want the allowed launch and the new refusal", got)
	}
	for _, q := range []string{`DELETE FROM audit WHERE decision = 'allowed'`,
		`UPDATE audit SET count = count + 1 WHERE decision = 'allowed'`,
		`UPDATE audit SET reason = 'forged' WHERE decision = 'refused'`} {
		if _, err := d.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: accepted, want the append-only triggers to refuse it", q)
		}
	}
}
