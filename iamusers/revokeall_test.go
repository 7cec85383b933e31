package iamusers_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/awssim/iamsim/iamsimtest"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

const listServiceCreds = "ListServiceSpecificCredentials"

// addServiceCredential gives IAM user name a service-specific credential out of band.
func (e *env) addServiceCredential(name string) {
	e.t.Helper()
	for _, a := range iamsimtest.Attachments {
		if a.Kind == "service-specific-credential" {
			if err := a.Add(context.Background(), e.admin, name); err != nil {
				e.t.Fatalf("add service credential to %s: %v", name, err)
			}
			return
		}
	}
	e.t.Fatal("iamsimtest has no service-specific-credential attachment")
}

// TestRevokeAllReportsFailuresAndGoesOn: one user's listing failing with a non-retryable
// error stops that user only; every other user is revoked, and the result names the
// failed one with its step and cause. The failing call is sent once, not retried.
func TestRevokeAllReportsFailuresAndGoesOn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		e.issue(u, false)
	}
	e.faults.answer(listServiceCreds, "tollgate-bob", http.StatusForbidden, "AccessDenied")
	e.faults.answer("DeleteUser", "tollgate-dave", http.StatusConflict, "DeleteConflict")

	res, err := e.svc.RevokeAll(ctx)
	if err != nil {
		t.Fatalf("RevokeAll: %v", err)
	}
	if got, want := fmt.Sprint(res.Revoked), "[tollgate-alice tollgate-carol]"; got != want {
		t.Errorf("revoked %s, want %s", got, want)
	}
	want := []struct{ iamUser, user, step, code string }{
		{"tollgate-bob", "bob", "list service_credentials", "AccessDenied"},
		{"tollgate-dave", "dave", iamusers.StepDeleteUser, "DeleteConflict"},
	}
	if len(res.Failures) != len(want) {
		t.Fatalf("failures %v, want %d", res.Failures, len(want))
	}
	for i, w := range want {
		f := res.Failures[i]
		if f.IAMUser != w.iamUser || f.User != w.user || f.Step != w.step || cloud.Code(f.Err) != w.code {
			t.Errorf("failure %d = {%s %s %s %v}, want {%s %s %s %s}", i, f.IAMUser, f.User, f.Step, f.Err, w.iamUser, w.user, w.step, w.code)
		}
	}
	for _, n := range []string{"tollgate-alice", "tollgate-carol"} {
		e.requireGone(n)
	}
	e.simUser("tollgate-bob")
	e.simUser("tollgate-dave")
	if got := e.faults.count(listServiceCreds, "tollgate-bob"); got != 1 {
		t.Errorf("%s for bob sent %d times, want once (AccessDenied is not retryable)", listServiceCreds, got)
	}
	// bob and dave keep their records, so a second run retries them.
	for _, u := range []string{"bob", "dave"} {
		if _, found, _ := e.db.GetIAMIdentity(ctx, nil, u); !found {
			t.Errorf("identity record of %s, not revoked, is gone", u)
		}
	}
	failed := 0
	for _, a := range e.audit(iamusers.ActionRevoke) {
		if a.Decision == db.Failed {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failed revoke audit entries, want 2", failed)
	}
}

// TestRevokeNotImplementedListing: a listing the endpoint does not implement counts as
// empty, however the endpoint says so, and is not retried; DeleteUser then decides. A user
// with nothing of that kind is revoked; one who has some is refused by DeleteUser
// (DeleteConflict) and reported, not silently left behind.
func TestRevokeNotImplementedListing(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
	}{
		{"501 NotImplemented", http.StatusNotImplemented, "NotImplemented"},
		{"500 NotImplemented", http.StatusInternalServerError, "NotImplemented"},
		{"400 InvalidAction", http.StatusBadRequest, "InvalidAction"},
		{"400 UnknownOperation", http.StatusBadRequest, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.issue("alice", false)
			e.issue("bob", false)
			e.addServiceCredential("tollgate-bob")
			e.faults.answer(listServiceCreds, "", tt.status, tt.code)

			res, err := e.svc.RevokeAll(ctx)
			if err != nil {
				t.Fatalf("RevokeAll: %v", err)
			}
			if got, want := fmt.Sprint(res.Revoked), "[tollgate-alice]"; got != want {
				t.Errorf("revoked %s, want %s", got, want)
			}
			e.requireGone("tollgate-alice")
			if len(res.Failures) != 1 || res.Failures[0].IAMUser != "tollgate-bob" ||
				res.Failures[0].Step != iamusers.StepDeleteUser || cloud.Code(res.Failures[0].Err) != "DeleteConflict" {
				t.Fatalf("failures %v, want tollgate-bob refused by DeleteUser with DeleteConflict", res.Failures)
			}
			e.simUser("tollgate-bob")
			for _, u := range []string{"tollgate-alice", "tollgate-bob"} {
				if got := e.faults.count(listServiceCreds, u); got != 1 {
					t.Errorf("%s for %s sent %d times, want once", listServiceCreds, u, got)
				}
			}
			es := e.audit(iamusers.ActionRevoke)
			i := slices.IndexFunc(es, func(a db.AuditEntry) bool { return a.Target == "alice" && a.Decision == db.Allowed })
			if i < 0 {
				t.Fatalf("no allowed revoke audit entry for alice in %+v", es)
			}
			if got := fmt.Sprint(es[i].Detail["not_listable"]); got != "[service_credentials]" {
				t.Errorf("alice's audit not_listable = %s, want [service_credentials]", got)
			}
		})
	}
}
