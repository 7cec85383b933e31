package broker

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/roster"
)

// TestUsersLabelValidated: a group label with ESC sequences or newlines is refused by
// the daemon, whether it comes from users add or a roster import sent straight to the
// socket (the CLI's roster parser is not a trust boundary).
func TestUsersLabelValidated(t *testing.T) {
	h := newHarness(t)
	h.users.as("ops")
	for _, bad := range []string{"s1\x1b[31m", "s1\nbob,admins"} {
		_, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}, Group: bad})
		e := wantCode(t, err, api.CodeInvalidRequest)
		if !strings.Contains(e.Message, "group") || !strings.Contains(e.Message, "not printable") || strings.ContainsAny(e.Message, "\x1b\n") {
			t.Errorf("add --group %q: got %q, want a refusal naming the group, escaped", bad, e.Message)
		}
		_, err = h.c.ImportUsers(h.ctx, []roster.Entry{{Line: 3, User: "alice", Group: bad}})
		e = wantCode(t, err, api.CodeInvalidRequest)
		if !strings.Contains(e.Message, "line 3") || !strings.Contains(e.Message, "group") {
			t.Errorf("import group %q: got %q, want a refusal naming line 3 and the group", bad, e.Message)
		}
		if _, ok, _ := h.d.DB().GetUser(h.ctx, "alice"); ok {
			t.Fatalf("alice was enrolled with group %q", bad)
		}
	}
	if _, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}, Group: "CS 61C, Lab 1"}); err != nil {
		t.Errorf("a printable label: got %v, want it accepted", err)
	}
}
