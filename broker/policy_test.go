package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

func TestLaunchRefusalsNameTheLimit(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{Count: 2}); err != nil {
		t.Fatalf("first launch: %v", err)
	}
	tests := []struct {
		name  string
		req   api.LaunchRequest
		spent float64
		code  string
		msg   string
	}{
		{"max_instances", api.LaunchRequest{}, 0, api.CodeQuotaExceeded, "max_instances is 2: you have 2 non-terminated instances and asked for 1 more"},
		{"instance type", api.LaunchRequest{Type: "m5.large"}, 0, api.CodeInvalidRequest, `instance type "m5.large" is not allowed`},
		{"region", api.LaunchRequest{Region: "eu-west-1"}, 0, api.CodeInvalidRequest, `region "eu-west-1" is not allowed`},
		{"lifetime", api.LaunchRequest{Lifetime: "13h"}, 0, api.CodeQuotaExceeded, "max_lifetime is 12h"},
		{"bad lifetime", api.LaunchRequest{Lifetime: "soon"}, 0, api.CodeInvalidRequest, "lifetime"},
		{"image not allowed", api.LaunchRequest{Image: "debian-12-amd64-20250112-1990"}, 0, api.CodeInvalidRequest, `(named "debian-12-amd64-20250112-1990") is not allowed`},
		{"image missing", api.LaunchRequest{Image: "ami-00000000000000000"}, 0, api.CodeInvalidRequest, "does not exist"},
		{"user-data", api.LaunchRequest{UserData: make([]byte, 16<<10+1)}, 0, api.CodeQuotaExceeded, "user-data is limited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.Launch(h.ctx, tt.req)
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %q, want it to contain %q", e.Message, tt.msg)
			}
		})
	}
	t.Run("budget", func(t *testing.T) {
		h.users.as("bob")
		defer h.users.as("alice")
		h.enrol("bob", "bob")
		h.acct.mu.Lock()
		h.acct.spent["bob"] = 49.99
		h.acct.mu.Unlock()
		_, err := h.c.Launch(h.ctx, api.LaunchRequest{})
		e := wantCode(t, err, api.CodeBudgetExhausted)
		if !strings.Contains(e.Message, "budget_usd is $50.00") || !strings.Contains(e.Message, "spent $49.99") {
			t.Errorf("got %q, want the budget and the spend named", e.Message)
		}
	})
	t.Run("audited", func(t *testing.T) {
		entries, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Actor: "alice", Action: "launch"})
		if err != nil {
			t.Fatal(err)
		}
		var allowed, refusedMax int
		for _, e := range entries {
			switch {
			case e.Decision == db.Allowed && e.Action == "launch":
				allowed++
			case e.Decision == db.Refused && strings.Contains(e.Reason, "max_instances"):
				refusedMax++
			}
			if e.UID != 2001 {
				t.Errorf("got audit uid %d, want alice's 2001", e.UID)
			}
		}
		if allowed != 1 || refusedMax != 1 {
			t.Errorf("got %d allowed and %d max_instances refusals in the audit, want 1 and 1", allowed, refusedMax)
		}
	})
}

func TestLaunchByImageName(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	res, err := h.c.Launch(h.ctx, api.LaunchRequest{Image: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115"})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if img := res.Instances[0].Image; !strings.HasPrefix(img, "ami-") || img == "ubuntu" {
		t.Errorf("got image %q, want the resolved ami id", img)
	}
}

func TestLaunchNeedsSSHKey(t *testing.T) {
	h := newHarness(t)
	h.users.as("carol")
	_, err := h.c.Launch(h.ctx, api.LaunchRequest{})
	e := wantCode(t, err, api.CodeInvalidRequest)
	if !strings.Contains(e.Hint, "tollgate keys ssh") {
		t.Errorf("got hint %q, want it to point at tollgate keys ssh", e.Hint)
	}
	if n := len(h.cloudInstances()); n != 0 {
		t.Errorf("got %d instances, want none", n)
	}
}

func TestKeypairReimportedWhenKeyChanges(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	kp1, ok, err := h.cloud.DescribeKeyPair(h.ctx, region, "alice")
	if err != nil || !ok {
		t.Fatalf("got %v, %v; want alice's keypair imported", ok, err)
	}
	if _, err := h.c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	kp2, ok, err := h.cloud.DescribeKeyPair(h.ctx, region, "alice")
	if err != nil || !ok || kp2.Fingerprint == kp1.Fingerprint {
		t.Errorf("got %+v then %+v, want a re-imported keypair with a new fingerprint", kp1, kp2)
	}
}

func TestExtend(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	res, err := h.c.Launch(h.ctx, api.LaunchRequest{Lifetime: "4h"})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Instances[0]
	tests := []struct {
		name string
		d    string
		code string
		want time.Duration // total lease from launch
	}{
		{"within max", "4h", "", 8 * time.Hour},
		{"up to max", "4h", "", 12 * time.Hour},
		{"beyond max", "1m", api.CodeQuotaExceeded, 0},
		{"not a duration", "later", api.CodeInvalidRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.c.Extend(h.ctx, in.ID, tt.d)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lease := got.ExpiresAt.Sub(in.LaunchedAt); lease != tt.want {
				t.Errorf("got lease %v, want %v", lease, tt.want)
			}
			tag := h.cloudInstances()[in.ID].Tags[cloud.TagExpires]
			if tag != got.ExpiresAt.UTC().Format(time.RFC3339) {
				t.Errorf("got expiry tag %q, want %s", tag, got.ExpiresAt.UTC().Format(time.RFC3339))
			}
		})
	}
}

func TestAdminOnly(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	calls := map[string]func() error{
		"users":     func() error { _, err := h.c.Users(h.ctx); return err },
		"users add": func() error { _, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"dave"}}); return err },
		"instances": func() error { _, err := h.c.AdminInstances(h.ctx, "", true); return err },
		"terminate": func() error { _, err := h.c.AdminTerminate(h.ctx, []string{"i-0123"}); return err },
		"audit":     func() error { _, err := h.c.Audit(h.ctx, api.AuditQuery{}); return err },
		"reconcile": func() error { _, err := h.c.Reconcile(h.ctx); return err },
		"iam":       func() error { _, err := h.c.IAMIdentities(h.ctx); return err },
		"collect":   func() error { _, err := h.c.Collect(h.ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			wantCode(t, call(), api.CodeForbidden)
		})
	}
	t.Run("admin terminate of anyone's", func(t *testing.T) {
		res, err := h.c.Launch(h.ctx, api.LaunchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		h.users.as("ops")
		defer h.users.as("alice")
		out, err := h.c.AdminTerminate(h.ctx, []string{res.Instances[0].ID})
		if err != nil || out.Results[0].Error != nil {
			t.Fatalf("got %+v, %v", out, err)
		}
		entries, _ := h.c.Audit(h.ctx, api.AuditQuery{Action: "admin.terminate"})
		if len(entries) != 1 || entries[0].Actor != "ops" || entries[0].Decision != db.Allowed {
			t.Errorf("got audit %+v, want ops's allowed admin.terminate", entries)
		}
	})
}

func TestNoticesHeader(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	h.acct.mu.Lock()
	h.acct.unread["alice"] = 3
	h.acct.mu.Unlock()
	var got int
	h.c.OnNotices = func(n int) { got = n }
	if _, err := h.c.Quota(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Errorf("got %d unread notices reported, want 3", got)
	}
}

func TestQuota(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{Lifetime: "2h"}); err != nil {
		t.Fatal(err)
	}
	q, err := h.c.Quota(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.User != "alice" || q.Policy.MaxInstances != 2 || q.Usage.Instances != 1 || q.Usage.VCPUs != 2 {
		t.Errorf("got %+v, want alice with 1 instance of 2 vCPUs under max_instances 2", q)
	}
	if want := 0.0104 * 2; q.Usage.CommittedUSD < want-1e-9 || q.Usage.CommittedUSD > want+1e-9 {
		t.Errorf("got committed $%v, want $%v (2h of t3.micro)", q.Usage.CommittedUSD, want)
	}
}
