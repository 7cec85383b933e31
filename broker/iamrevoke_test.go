package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/iamusers"
)

// TestIAMRevokeAllReportsFailures: revoke --all answers with the users revoked and each
// failure by user and step, not with one error for the whole run.
func TestIAMRevokeAllReportsFailures(t *testing.T) {
	h := newHarness(t)
	h.iam.revokeAll = iamusers.RevokeResult{
		Revoked: []string{"tollgate-alice", "tollgate-carol"},
		Failures: []iamusers.RevokeFailure{
			{IAMUser: "tollgate-bob", User: "bob", Step: "list service_credentials", Err: errors.New("AccessDenied: no")},
		},
	}
	h.users.as("ops")
	resp, err := h.c.IAMRevoke(h.ctx, api.IAMRevokeRequest{All: true})
	if err != nil {
		t.Fatalf("IAMRevoke(all): %v", err)
	}
	if got, want := fmt.Sprint(resp.Revoked), "[tollgate-alice tollgate-carol]"; got != want {
		t.Errorf("revoked %s, want %s", got, want)
	}
	want := []api.IAMRevokeFailure{{IAMUser: "tollgate-bob", User: "bob", Step: "list service_credentials", Error: "AccessDenied: no"}}
	if fmt.Sprint(resp.Failures) != fmt.Sprint(want) {
		t.Errorf("failures %+v, want %+v", resp.Failures, want)
	}
}
