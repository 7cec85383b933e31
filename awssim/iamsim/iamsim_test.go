package iamsim_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/tollgate/tollgate/awssim/iamsim"
)

// clock is a manual clock for the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	sim   *iamsim.Sim
	clock *clock
	url   string
	iam   *iam.Client
}

func start(t *testing.T) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}
	sim := iamsim.New(c.Now)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{sim: sim, clock: c, url: srv.URL}
	e.iam = iam.NewFromConfig(e.config("AKIDDAEMON", "daemon-secret"), func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return e
}

func (e *env) config(id, secret string) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
}

func (e *env) sts(id, secret string) *sts.Client {
	return sts.NewFromConfig(e.config(id, secret), func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func mustCreateUser(t *testing.T, e *env, name, path string) {
	t.Helper()
	if _, err := e.iam.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path)}); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
}

func TestUserLifecycle(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	out, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tollgate-alice"), Path: aws.String("/tollgate/"),
		Tags: nil})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got, want := aws.ToString(out.User.Arn), "arn:aws:iam::123456789012:user/tollgate/tollgate-alice"; got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	if got, want := out.User.CreateDate.UTC(), e.clock.Now(); !got.Equal(want) {
		t.Errorf("CreateDate = %v, want %v", got, want)
	}
	_, err = e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("TOLLGATE-ALICE")})
	if got, want := code(err), "EntityAlreadyExists"; got != want {
		t.Errorf("second CreateUser code = %q (%v), want %q", got, err, want)
	}
	_, err = e.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	if got, want := code(err), "NoSuchEntity"; got != want {
		t.Errorf("GetUser(nobody) code = %q, want %q", got, want)
	}
	u := aws.String("tollgate-alice")
	steps := []struct {
		name     string
		add      func() error
		conflict bool
		remove   func() error
	}{
		{"login profile", func() error {
			_, err := e.iam.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: u, Password: aws.String("pw-123456!A")})
			return err
		}, true, func() error {
			_, err := e.iam.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: u})
			return err
		}},
		{"inline policy", func() error {
			_, err := e.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: u, PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
			return err
		}, true, func() error {
			_, err := e.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: u, PolicyName: aws.String("p")})
			return err
		}},
		{"attached policy", func() error {
			_, err := e.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: u, PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		}, true, func() error {
			_, err := e.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: u, PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		}},
		{"group", func() error {
			if _, err := e.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("g")}); err != nil {
				return err
			}
			_, err := e.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: u, GroupName: aws.String("g")})
			return err
		}, true, func() error {
			_, err := e.iam.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: u, GroupName: aws.String("g")})
			return err
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.add(); err != nil {
				t.Fatalf("add: %v", err)
			}
			_, err := e.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: u})
			if got, want := code(err), "DeleteConflict"; got != want {
				t.Errorf("DeleteUser code = %q (%v), want %q", got, err, want)
			}
			if err := st.remove(); err != nil {
				t.Fatalf("remove: %v", err)
			}
			if err := st.remove(); code(err) != "NoSuchEntity" {
				t.Errorf("second remove = %v, want NoSuchEntity", err)
			}
		})
	}
	lp, err := e.iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: u})
	if err != nil || len(lp.PolicyNames) != 0 {
		t.Errorf("ListUserPolicies = %v, %v; want none", lp, err)
	}
	if _, err := e.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: u}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if got := e.sim.Users(""); len(got) != 0 {
		t.Errorf("users after delete = %v, want none", got)
	}
}

func TestAccessKeys(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	mustCreateUser(t, e, "bob", "/tollgate/")
	u := aws.String("bob")
	var ids []string
	for i := 0; i < 2; i++ {
		out, err := e.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: u})
		if err != nil {
			t.Fatalf("CreateAccessKey %d: %v", i, err)
		}
		if aws.ToString(out.AccessKey.SecretAccessKey) == "" {
			t.Errorf("CreateAccessKey %d returned no secret", i)
		}
		ids = append(ids, aws.ToString(out.AccessKey.AccessKeyId))
		e.clock.Advance(time.Minute)
	}
	_, err := e.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: u})
	if got, want := code(err), "LimitExceeded"; got != want {
		t.Fatalf("third CreateAccessKey code = %q (%v), want %q", got, err, want)
	}
	if _, err := e.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: u}); code(err) != "DeleteConflict" {
		t.Errorf("DeleteUser with keys = %v, want DeleteConflict", err)
	}
	if _, err := e.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: u, AccessKeyId: aws.String(ids[0]), Status: "Inactive"}); err != nil {
		t.Fatalf("UpdateAccessKey: %v", err)
	}
	// Pagination with one key per page.
	var got []string
	var marker *string
	for {
		out, err := e.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u, MaxItems: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatalf("ListAccessKeys: %v", err)
		}
		for _, k := range out.AccessKeyMetadata {
			got = append(got, aws.ToString(k.AccessKeyId)+"/"+string(k.Status))
		}
		if !out.IsTruncated {
			break
		}
		marker = out.Marker
	}
	want := []string{ids[0] + "/Inactive", ids[1] + "/Active"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if _, err := e.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: u, AccessKeyId: aws.String(ids[0])}); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	if _, err := e.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: u, AccessKeyId: aws.String(ids[0])}); code(err) != "NoSuchEntity" {
		t.Errorf("second DeleteAccessKey = %v, want NoSuchEntity", err)
	}
}

func TestListUsersPagination(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	for _, n := range []string{"tollgate-e", "tollgate-a", "tollgate-c", "tollgate-b", "tollgate-d"} {
		mustCreateUser(t, e, n, "/tollgate/")
	}
	mustCreateUser(t, e, "admin", "/")
	tests := []struct {
		name   string
		prefix string
		want   int
	}{
		{"tollgate path", "/tollgate/", 5},
		{"all", "/", 6},
		{"other path", "/other/", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := iam.NewListUsersPaginator(e.iam, &iam.ListUsersInput{PathPrefix: aws.String(tt.prefix), MaxItems: aws.Int32(2)})
			var names []string
			pages := 0
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListUsers: %v", err)
				}
				pages++
				for _, u := range out.Users {
					names = append(names, aws.ToString(u.UserName))
				}
			}
			if got := len(names); got != tt.want {
				t.Errorf("got %d users %v, want %d", got, names, tt.want)
			}
			if wantPages := max(1, (tt.want+1)/2); pages != wantPages {
				t.Errorf("pages = %d, want %d", pages, wantPages)
			}
		})
	}
}

func TestCallerIdentityPropagation(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	e.sim.SetPropagationDelay(10 * time.Second)
	mustCreateUser(t, e, "carol", "/tollgate/")
	out, err := e.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	id, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
	student := e.sts(id, secret)

	root, err := e.sts("AKIDDAEMON", "x").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity(daemon): %v", err)
	}
	if got, want := aws.ToString(root.Arn), "arn:aws:iam::123456789012:root"; got != want {
		t.Errorf("daemon Arn = %q, want %q", got, want)
	}
	if _, err := student.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("before propagation: err = %v, want InvalidClientTokenId", err)
	}
	e.clock.Advance(10 * time.Second)
	who, err := student.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("after propagation: %v", err)
	}
	if got, want := aws.ToString(who.Arn), "arn:aws:iam::123456789012:user/tollgate/carol"; got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	if _, err := e.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	if _, err := student.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("deleted key: err = %v, want InvalidClientTokenId", err)
	}
}

func TestUnknownAction(t *testing.T) {
	e := start(t)
	_, err := e.iam.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
	if got, want := code(err), "InvalidAction"; got != want {
		t.Errorf("code = %q, want %q", got, want)
	}
}
