package broker

import (
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/quota"
)

// TestUserRowCacheForgetsAdminChanges: users rows are cached across requests, and an
// admin's change shows at the caller's very next request (the clock does not move).
func TestUserRowCacheForgetsAdminChanges(t *testing.T) {
	h := newHarness(t)
	h.enrol("bob", "bob")
	if _, err := h.c.Quota(h.ctx); err != nil { // bob's row is now cached
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		admin func() error
		check func() error
		code  string
	}{
		{"disable", func() error { _, err := h.c.DisableUser(h.ctx, "bob", false); return err },
			func() error { _, err := h.c.Quota(h.ctx); return err }, api.CodeDisabled},
		{"enable", func() error { _, err := h.c.DisableUser(h.ctx, "bob", true); return err },
			func() error { _, err := h.c.Quota(h.ctx); return err }, ""},
		{"override", func() error {
			five := 5
			_, err := h.c.SetUser(h.ctx, api.UserSetRequest{User: "bob", Set: quota.Override{MaxInstances: &five}})
			return err
		}, func() error {
			q, err := h.c.Quota(h.ctx)
			if err == nil && q.Policy.MaxInstances != 5 {
				t.Errorf("got max_instances %d, want the new override 5", q.Policy.MaxInstances)
			}
			return err
		}, ""},
		{"remove", func() error { return h.c.RemoveUser(h.ctx, "bob") },
			func() error { _, err := h.c.Quota(h.ctx); return err }, api.CodeNotEnrolled},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.users.as("ops")
			if err := st.admin(); err != nil {
				t.Fatalf("admin: %v", err)
			}
			h.users.as("bob")
			err := st.check()
			if st.code == "" {
				if err != nil {
					t.Errorf("got %v, want served", err)
				}
				return
			}
			wantCode(t, err, st.code)
		})
	}
}
