package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
)

func TestValidInstanceID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"i-0123abcd", true},
		{"i-0123456789abcdef0", true},
		{"i-0123", false},
		{"i-0123456789abcdef", false},    // 16 digits
		{"i-0123456789ABCDEF0", false},   // upper case
		{"i-0123456789abcdef0\n", false}, // trailing newline ($ must not let it through)
		{"i-x\n42 forged line", false},
		{"ami-0123456789abcdef0", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := validInstanceID(tt.id); got != tt.want {
				t.Errorf("validInstanceID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

// TestHostileIDsAreRefusedQuoted is the review's finding #3: ids are validated before
// anything else, and neither the answer nor the audit log carries them raw.
func TestHostileIDsAreRefusedQuoted(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	hostile := "i-x\n42  2030-01-01 00:00:00  bob  launch  i-0  allowed  -\x1b[31mRED" + strings.Repeat("A", 60<<10)
	calls := map[string]func() error{
		"stop":      func() error { _, err := h.c.Stop(h.ctx, []string{hostile}); return err },
		"start":     func() error { _, err := h.c.Start(h.ctx, []string{hostile}); return err },
		"terminate": func() error { _, err := h.c.Terminate(h.ctx, []string{"i-0123abcd", hostile}); return err },
		"extend":    func() error { _, err := h.c.Extend(h.ctx, hostile, "1h"); return err },
		"instances": func() error { _, err := h.c.Instances(h.ctx, hostile); return err },
		"admin terminate": func() error {
			h.users.as("ops")
			defer h.users.as("alice")
			_, err := h.c.AdminTerminate(h.ctx, []string{hostile})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			e := wantCode(t, call(), api.CodeInvalidRequest)
			if strings.ContainsAny(e.Message, "\n\x1b") || len(e.Message) > 200 {
				t.Errorf("got message %q (%d bytes), want it escaped and short", e.Message, len(e.Message))
			}
			if !strings.Contains(e.Message, `"i-x\n42`) {
				t.Errorf("got %q, want the id quoted", e.Message)
			}
		})
	}
	entries, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.ContainsAny(e.Target+e.Reason, "\n\x1b") || len(e.Target) > db.MaxAuditTarget || len(e.Reason) > db.MaxAuditReason {
			t.Errorf("audit %s: got target %q reason %q, want them escaped and bounded", e.Action, e.Target, e.Reason)
		}
	}
}

func TestMutationsAreRateLimited(t *testing.T) {
	h := newHarnessOpts(t, func(o *Options) { o.MutationRate = 1; o.MutationBurst = 5 })
	h.enrol("alice", "alice") // one key upload as alice: 4 tokens left
	stop := func() error { _, err := h.c.Stop(h.ctx, []string{"i-0123abcd"}); return err }
	for i := range 4 {
		if err := stop(); api.ErrorCode(err) != api.CodeNotOwner {
			t.Fatalf("request %d: got %v, want not_owner (not yet limited)", i+1, err)
		}
	}
	e := wantCode(t, stop(), api.CodeUnavailable)
	if !strings.Contains(e.Message, "too many requests") || e.Hint == "" {
		t.Errorf("got %q hint %q, want the limit named with a hint", e.Message, e.Hint)
	}
	t.Run("reads are not limited", func(t *testing.T) {
		if _, err := h.c.Quota(h.ctx); err != nil {
			t.Errorf("got %v, want quota served", err)
		}
	})
	t.Run("other users have their own bucket", func(t *testing.T) {
		h.users.as("carol")
		defer h.users.as("alice")
		if err := stop(); api.ErrorCode(err) != api.CodeNotOwner {
			t.Errorf("got %v, want not_owner", err)
		}
	})
	t.Run("admins are exempt", func(t *testing.T) {
		h.users.as("ops")
		defer h.users.as("alice")
		for range 10 {
			if _, err := h.c.AdminTerminate(h.ctx, []string{"i-0123abcd"}); api.ErrorCode(err) != api.CodeNotFound {
				t.Fatalf("got %v, want not_found", err)
			}
		}
	})
	t.Run("refills with the clock", func(t *testing.T) {
		h.sim.Advance(time.Second)
		if err := stop(); api.ErrorCode(err) != api.CodeNotOwner {
			t.Errorf("got %v, want not_owner after a second", err)
		}
	})
}
