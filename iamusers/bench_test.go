package iamusers_test

import (
	"context"
	"testing"
)

// BenchmarkRotate measures one key rotation end to end (list, create, STS check,
// deactivate and delete the old key, record and audit) against iamsim over HTTP.
func BenchmarkRotate(b *testing.B) {
	e := newEnv(b)
	e.issue("bench", false)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.svc.Issue(ctx, "bench", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueRevoke measures creating and revoking an identity.
func BenchmarkIssueRevoke(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for b.Loop() {
		e.issue("bench", false)
		if err := e.svc.Revoke(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
