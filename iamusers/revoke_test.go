package iamusers_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

// clutter adds, directly in IAM, everything that makes DeleteUser fail with DeleteConflict.
func (e *env) clutter(name string) {
	e.t.Helper()
	ctx := context.Background()
	u := aws.String(name)
	steps := []func() error{
		func() error {
			_, err := e.admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: u, Password: aws.String("Console-pass-1!")})
			return err
		},
		func() error {
			_, err := e.admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: u, PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		},
		func() error {
			_, err := e.admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: u, PolicyName: aws.String("extra"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
			return err
		},
		func() error {
			_, err := e.admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("grp-" + name)})
			if err != nil {
				return err
			}
			_, err = e.admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: u, GroupName: aws.String("grp-" + name)})
			return err
		},
	}
	for i, st := range steps {
		if err := st(); err != nil {
			e.t.Fatalf("clutter %s step %d: %v", name, i, err)
		}
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cr := e.issue("alice", false)
	e.createKey("tollgate-alice")
	e.clutter("tollgate-alice")
	e.issue("bob", false)
	if err := e.svc.Revoke(ctx, "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, ok := e.sim.LookupUser("tollgate-alice"); ok {
		t.Errorf("tollgate-alice still exists in IAM")
	}
	e.simUser("tollgate-bob")
	if _, err := e.cloud.CallerIdentityOf(ctx, cr.AccessKeyID, cr.SecretAccessKey); err == nil {
		t.Errorf("revoked key still accepted by STS")
	}
	if _, found, _ := e.db.GetIAMIdentity(ctx, nil, "alice"); found {
		t.Errorf("identity record of alice survived revocation")
	}
	es := e.audit(iamusers.ActionRevoke)
	if len(es) != 1 || es[0].Decision != db.Allowed || es[0].Target != "alice" || len(es[0].Detail["keys"].([]any)) != 2 {
		t.Errorf("revoke audit = %+v, want one allowed entry for alice naming 2 keys", es)
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
	revoked, err := e.svc.RevokeAll(ctx)
	if err != nil {
		t.Fatalf("RevokeAll: %v", err)
	}
	if left := e.sim.Users("/tollgate/"); len(left) != 0 {
		t.Errorf("%d IAM users left under /tollgate/, first %s", len(left), left[0].Name)
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
