package broker

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

func TestPeerCredentialsAreRead(t *testing.T) {
	h := newHarness(t)
	h.users.as("carol")
	got, err := h.c.WhoAmI(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.users.mu.Lock()
	real := h.users.realUID
	h.users.mu.Unlock()
	if real != os.Getuid() {
		t.Errorf("got kernel peer uid %d, want the test process's uid %d", real, os.Getuid())
	}
	if got.User != "carol" || got.UID != 2003 || !got.Enrolled || got.Admin {
		t.Errorf("got %+v, want carol (2003), enrolled through %s, not admin", got, enrolGroup)
	}
}

func TestPeerCredentialsWithoutMapping(t *testing.T) {
	h := newHarness(t)
	h.users.mu.Lock()
	h.users.passthrough = true
	h.users.mu.Unlock()
	got, err := h.c.WhoAmI(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != os.Getuid() {
		t.Errorf("got uid %d, want the peer's real uid %d", got.UID, os.Getuid())
	}
	if got.UID == 0 && !got.Admin {
		t.Errorf("got %+v: uid 0 must be an admin", got)
	}
}

func TestEnrolment(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		as   string
		code string
	}{
		{"not enrolled", "dave", api.CodeNotEnrolled},
		{"enrol group member", "carol", ""},
		{"admin is not a user by default", "ops", api.CodeNotEnrolled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.users.as(tt.as)
			_, err := h.c.Instances(h.ctx)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
	t.Run("group member recorded on first use", func(t *testing.T) {
		u, ok, err := h.d.DB().GetUser(h.ctx, "carol")
		if err != nil || !ok || u.Source != db.SourceGroup {
			t.Fatalf("got %+v, %v, %v; want a group-source row for carol", u, ok, err)
		}
	})
	t.Run("unknown uid", func(t *testing.T) {
		h.users.mu.Lock()
		h.users.cur = 4242
		h.users.mu.Unlock()
		defer h.users.as("alice")
		_, err := h.c.Instances(h.ctx)
		wantCode(t, err, api.CodeNotEnrolled)
	})
}

func TestLaunchAndOwnership(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice", "bob")
	res, err := h.c.Launch(h.ctx, api.LaunchRequest{Name: "lab1"})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Instances) != 1 {
		t.Fatalf("got %d instances, want 1", len(res.Instances))
	}
	in := res.Instances[0]
	if in.Owner != "alice" || in.Name != "lab1" || in.RequestID != res.RequestID || in.ExpiresAt.IsZero() {
		t.Errorf("got %+v, want alice's lab1 with an expiry", in)
	}
	ci := h.cloudInstances()[in.ID]
	for k, want := range map[string]string{
		cloud.TagOwner: "alice", cloud.TagUID: "2001", cloud.TagRequest: res.RequestID,
		cloud.TagPurpose: "user", cloud.TagName: "lab1",
		cloud.TagExpires: in.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
	} {
		if got := ci.Tags[k]; got != want {
			t.Errorf("tag %s: got %q, want %q", k, got, want)
		}
	}
	if ci.KeyName != "alice" {
		t.Errorf("got key name %q, want alice", ci.KeyName)
	}

	t.Run("not_owner for someone else", func(t *testing.T) {
		h.users.as("bob")
		defer h.users.as("alice")
		for name, call := range map[string]func() error{
			"stop":      func() error { _, err := h.c.Stop(h.ctx, []string{in.ID}); return err },
			"start":     func() error { _, err := h.c.Start(h.ctx, []string{in.ID}); return err },
			"terminate": func() error { _, err := h.c.Terminate(h.ctx, []string{in.ID}); return err },
			"extend":    func() error { _, err := h.c.Extend(h.ctx, in.ID, "1h"); return err },
		} {
			if err := call(); err == nil {
				t.Errorf("%s: got success, want not_owner", name)
			} else if api.ErrorCode(err) != api.CodeNotOwner {
				t.Errorf("%s: got %v, want not_owner", name, err)
			}
		}
		list, err := h.c.Instances(h.ctx)
		if err != nil || len(list) != 0 {
			t.Errorf("bob's list: got %v, %v; want empty", list, err)
		}
		if st := h.cloudInstances()[in.ID].State; st == "stopping" || st == "stopped" || st == "terminated" {
			t.Errorf("got cloud state %s, want it untouched", st)
		}
	})

	t.Run("all or nothing", func(t *testing.T) {
		_, err := h.c.Stop(h.ctx, []string{in.ID, "i-0000000000000dead"})
		e := wantCode(t, err, api.CodeNotOwner)
		if !strings.Contains(e.Message, "i-0000000000000dead") {
			t.Errorf("got %q, want it to name the unknown id", e.Message)
		}
		if st := h.cloudInstances()[in.ID].State; st != "pending" && st != "running" {
			t.Errorf("got cloud state %s, want alice's instance untouched", st)
		}
	})

	t.Run("admin sees all", func(t *testing.T) {
		h.users.as("bob")
		if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
			t.Fatalf("bob's launch: %v", err)
		}
		h.users.as("alice")
		_, err := h.c.AdminInstances(h.ctx, "", false)
		wantCode(t, err, api.CodeForbidden)
		h.users.as("ops")
		defer h.users.as("alice")
		all, err := h.c.AdminInstances(h.ctx, "", false)
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]int{}
		for _, in := range all {
			owners[in.Owner]++
		}
		if owners["alice"] != 1 || owners["bob"] != 1 {
			t.Errorf("got owners %v, want one instance each of alice and bob", owners)
		}
	})

	t.Run("stop and terminate own", func(t *testing.T) {
		h.sim.Advance(60e9)
		res, err := h.c.Stop(h.ctx, []string{in.ID})
		if err != nil || len(res.Results) != 1 || res.Results[0].State != "stopping" {
			t.Fatalf("got %+v, %v; want stopping", res, err)
		}
		res, err = h.c.Terminate(h.ctx, []string{in.ID})
		if err != nil || res.Results[0].Error != nil {
			t.Fatalf("got %+v, %v", res, err)
		}
		list, err := h.c.Instances(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if l.ID == in.ID && l.State != "shutting-down" && l.State != "terminated" {
				t.Errorf("got state %s, want shutting-down or terminated", l.State)
			}
		}
	})
}

func TestConcurrentLaunchesRespectMaxInstances(t *testing.T) {
	// 200 launches at once from one user: above the default rate limit's burst.
	h := newHarnessOpts(t, func(o *Options) { o.MutationBurst = 1000 })
	h.enrol("alice", "alice")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.c.Launch(h.ctx, api.LaunchRequest{})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case api.ErrorCode(err) != api.CodeQuotaExceeded:
			t.Errorf("got %v, want success or quota_exceeded", err)
		case !strings.Contains(err.Error(), "max_instances is 2"):
			t.Errorf("got %q, want the refusal to name max_instances", err)
		}
	}
	if ok != 2 {
		t.Errorf("got %d launches admitted, want 2", ok)
	}
	if got := len(h.cloudInstances()); got != 2 {
		t.Errorf("got %d instances in the cloud, want 2", got)
	}
	rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Errorf("got %d instances in the database, want 2", len(rows))
	}
	refused, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Action: "launch", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range refused {
		count[e.Action+"/"+e.Decision] += e.Count // identical refusals are one entry
	}
	if count["launch/refused"] != n-2 || count["launch/allowed"] != 2 || count["launch.admit/allowed"] != 2 {
		t.Errorf("got audit counts %v, want 198 refused launches and 2 allowed", count)
	}
}
