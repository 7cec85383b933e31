package iamusers_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/tollgate/tollgate/awssim/iamsim/iamsimtest"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

// clutter adds, directly in IAM, one of everything that makes DeleteUser fail with
// DeleteConflict: login profile, access key, MFA device, SSH public key, signing
// certificate, service-specific credential, inline and attached policy, group.
func (e *env) clutter(name string) {
	e.t.Helper()
	if err := iamsimtest.AddAll(context.Background(), e.admin, name); err != nil {
		e.t.Fatalf("clutter: %v", err)
	}
}

// requireGone fails unless IAM user name is gone with nothing of it left behind: no
// virtual MFA device survives it.
func (e *env) requireGone(name string) {
	e.t.Helper()
	if _, ok := e.sim.LookupUser(name); ok {
		e.t.Errorf("%s still exists in IAM", name)
	}
	if left := e.sim.VirtualMFADevices(); len(left) != 0 {
		e.t.Errorf("virtual MFA devices left: %v", left)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cr := e.issue("alice", false)
	e.clutter("tollgate-alice") // with a second access key
	e.issue("bob", false)
	if err := e.svc.Revoke(ctx, "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	e.requireGone("tollgate-alice")
	e.simUser("tollgate-bob")
	if _, err := e.cloud.CallerIdentityOf(ctx, cr.AccessKeyID, cr.SecretAccessKey); err == nil {
		t.Errorf("revoked key still accepted by STS")
	}
	if _, found, _ := e.db.GetIAMIdentity(ctx, nil, "alice"); found {
		t.Errorf("identity record of alice survived revocation")
	}
	es := e.audit(iamusers.ActionRevoke)
	if len(es) != 1 || es[0].Decision != db.Allowed || es[0].Target != "alice" || len(es[0].Detail["keys"].([]any)) != 2 {
		t.Fatalf("revoke audit = %+v, want one allowed entry for alice naming 2 keys", es)
	}
	// One of each added out of band, and tollgate's own inline policy.
	want := map[string]int{"mfa_devices": 1, "ssh_public_keys": 1, "signing_certificates": 1, "service_credentials": 1,
		"inline_policies": 2, "attached_policies": 1, "groups": 1}
	for k, n := range want {
		if ids, _ := es[0].Detail[k].([]any); len(ids) != n {
			t.Errorf("revoke audit %s = %v, want %d", k, es[0].Detail[k], n)
		}
	}
	if err := e.svc.Revoke(ctx, "alice"); !errors.Is(err, iamusers.ErrNotFound) {
		t.Errorf("second Revoke err = %v, want ErrNotFound", err)
	}
	// A user revoked can get a fresh identity.
	if cr2 := e.issue("alice", false); cr2.AccessKeyID == cr.AccessKeyID {
		t.Errorf("fresh identity reused key %s", cr.AccessKeyID)
	}
}

func TestRevokeAll(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol"} {
		e.issue(u, false)
	}
	e.clutter("tollgate-alice")
	e.clutter("tollgate-bob")
	e.createKey("tollgate-carol")
	// Out of band: an IAM user under our path tollgate never recorded, and one outside it.
	for _, u := range []struct{ name, path string }{{"tollgate-ghost", "/tollgate/"}, {"course-admin", "/"}} {
		if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Path: aws.String(u.path)}); err != nil {
			t.Fatal(err)
		}
	}
	e.clutter("tollgate-ghost")
	e.createKey("tollgate-ghost")
	// Many users: ListUsers pages.
	for i := 0; i < 120; i++ {
		if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tollgate-bulk" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + itoa(i)), Path: aws.String("/tollgate/")}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.svc.RevokeAll(ctx)
	if err != nil || len(res.Failures) != 0 {
		t.Fatalf("RevokeAll = %v, failures %v; want none", err, res.Failures)
	}
	revoked := res.Revoked
	if left := e.sim.Users("/tollgate/"); len(left) != 0 {
		t.Errorf("%d IAM users left under /tollgate/, first %s", len(left), left[0].Name)
	}
	if left := e.sim.VirtualMFADevices(); len(left) != 0 {
		t.Errorf("virtual MFA devices left: %v", left)
	}
	if got, want := len(revoked), 124; got != want {
		t.Errorf("revoked %d users, want %d", got, want)
	}
	sort.Strings(revoked)
	if i := sort.SearchStrings(revoked, "tollgate-ghost"); i == len(revoked) || revoked[i] != "tollgate-ghost" {
		t.Errorf("revoked list lacks tollgate-ghost")
	}
	e.simUser("course-admin")
	ids, err := e.svc.List(ctx)
	if err != nil || len(ids) != 0 {
		t.Errorf("List after RevokeAll = %v, %v; want none", ids, err)
	}
}

// TestRevokeEachKind: for every kind of thing IAM's DeleteUser refuses a user with, a user
// holding just that one is refused by DeleteUser (DeleteConflict) and fully revoked by
// Revoke. A revoke that skipped a kind would fail its subtest.
func TestRevokeEachKind(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, a := range iamsimtest.Attachments {
		t.Run(a.Kind, func(t *testing.T) {
			name := "tollgate-" + a.Kind // Unix user a.Kind, untracked
			if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String("/tollgate/")}); err != nil {
				t.Fatal(err)
			}
			if err := a.Add(ctx, e.admin, name); err != nil {
				t.Fatalf("add %s: %v", a.Kind, err)
			}
			_, err := e.admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "DeleteConflict" || ae.ErrorMessage() != a.Conflict {
				t.Fatalf("DeleteUser with a %s = %v, want DeleteConflict %q", a.Kind, err, a.Conflict)
			}
			if err := e.svc.Revoke(ctx, a.Kind); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			e.requireGone(name)
		})
	}
}

// TestRevokeCrashAnywhere kills revocation (the injected failure of one IAM request
// stands for the daemon dying just before it) at each of its IAM calls in turn; the next
// start's Recover, then an admin's Revoke, must finish the job.
func TestRevokeCrashAnywhere(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	crashed := map[string]bool{} // Actions the daemon died before
	for n := 1; ; n++ {
		user := "crash" + itoa(n)
		e.issue(user, false)
		e.clutter("tollgate-" + user)
		e.faults.arm(n)
		err := e.svc.Revoke(ctx, user)
		refused := e.faults.disarm()
		if refused == "" {
			if err != nil {
				t.Fatalf("Revoke with no failure: %v", err)
			}
			e.requireGone("tollgate-" + user)
			for _, a := range []string{"GetUser", "DeleteLoginProfile", "DeleteAccessKey", "DeleteServiceSpecificCredential", "DeleteSSHPublicKey",
				"DeleteSigningCertificate", "DeactivateMFADevice", "DeleteVirtualMFADevice", "DeleteUserPolicy", "DetachUserPolicy", "RemoveUserFromGroup", "DeleteUser"} {
				if !crashed[a] {
					t.Errorf("never crashed before %s (crashed before %v)", a, crashed)
				}
			}
			return
		}
		crashed[refused] = true
		if err == nil {
			t.Fatalf("call %d (%s) failed but Revoke succeeded", n, refused)
		}
		if err := e.newService(e.opts).Recover(ctx); err != nil {
			t.Fatalf("call %d (%s) failed; Recover: %v", n, refused, err)
		}
		if err := e.svc.Revoke(ctx, user); err != nil && !errors.Is(err, iamusers.ErrNotFound) {
			t.Fatalf("call %d (%s) failed; Revoke again: %v", n, refused, err)
		}
		if _, ok := e.sim.LookupUser("tollgate-" + user); ok {
			t.Errorf("call %d (%s) failed; tollgate-%s survived Recover and Revoke", n, refused, user)
		}
		left := e.sim.VirtualMFADevices()
		if refused == "DeleteVirtualMFADevice" && len(left) == 1 {
			// The one documented leftover: the device was deactivated, so nothing ties it
			// to the user any more. Clear it for the next round.
			if _, err := e.admin.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(left[0])}); err != nil {
				t.Fatal(err)
			}
		} else if len(left) != 0 {
			t.Errorf("call %d (%s) failed; virtual MFA devices left: %v", n, refused, left)
		}
	}
}

func TestListStates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.issue("alice", false)
	e.issue("bob", false)
	if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tollgate-ghost"), Path: aws.String("/tollgate/")}); err != nil {
		t.Fatal(err)
	}
	// bob's IAM user vanishes behind tollgate's back.
	for _, k := range e.simUser("tollgate-bob").Keys {
		e.admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("tollgate-bob"), AccessKeyId: aws.String(k.ID)})
	}
	e.admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("tollgate-bob"), PolicyName: aws.String("tollgate-student")})
	if _, err := e.admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("tollgate-bob")}); err != nil {
		t.Fatal(err)
	}
	ids, err := e.svc.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]string{}
	for _, id := range ids {
		got[id.IAMUser] = id.User + "/" + id.State
	}
	want := map[string]string{"tollgate-alice": "alice/active", "tollgate-bob": "bob/missing", "tollgate-ghost": "ghost/untracked"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	// Issue recreates a missing identity.
	e.issue("bob", false)
	e.simUser("tollgate-bob")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
