package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
)

// TestIAMRevokeAllFailures: `admin iam revoke --all` prints what was revoked, then each
// failure by user and step on stderr, and exits 1 when any failed (with --json too).
func TestIAMRevokeAllFailures(t *testing.T) {
	resp := api.IAMRevokeResponse{
		Revoked: []string{"tollgate-alice", "tollgate-carol"},
		Failures: []api.IAMRevokeFailure{
			{IAMUser: "tollgate-bob", User: "bob", Step: "list service_credentials", Error: "api error AccessDenied:\ninjected"},
			{IAMUser: "tollgate-ghost", Step: "delete user", Error: "DeleteConflict"},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathAdminIAMRevoke, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(resp)
	})
	sock := serveSocket(t, mux)

	tests := []struct {
		name       string
		args       []string
		wantStdout []string
	}{
		{"table", nil, []string{"revoked tollgate-alice\n", "revoked tollgate-carol\n"}},
		{"json", []string{"--json"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--socket", sock}, tt.args...)
			code, stdout, stderr := runMain(t, "", append(args, "admin", "iam", "revoke", "--all")...)
			if code != ExitFailure {
				t.Errorf("exit = %d, want %d", code, ExitFailure)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout = %q, want it to contain %q", stdout, w)
				}
			}
			if tt.name == "json" {
				var got api.IAMRevokeResponse
				if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Revoked) != 2 || len(got.Failures) != 2 ||
					got.Failures[0].Step != "list service_credentials" {
					t.Errorf("json stdout %q (%v): want both revoked and both failures", stdout, err)
				}
			}
			for _, w := range []string{
				"not revoked tollgate-bob (bob): list service_credentials: api error AccessDenied:; injected\n",
				"not revoked tollgate-ghost: delete user: DeleteConflict\n",
				"tollgate: 2 of 4 IAM users not revoked",
			} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, w)
				}
			}
		})
	}

	resp = api.IAMRevokeResponse{Revoked: []string{"tollgate-alice"}}
	code, stdout, stderr := runMain(t, "", "--socket", sock, "admin", "iam", "revoke", "--all")
	if code != ExitOK || stdout != "revoked tollgate-alice\n" || stderr != "" {
		t.Errorf("all revoked: exit %d, stdout %q, stderr %q; want 0, the user, nothing", code, stdout, stderr)
	}
}
