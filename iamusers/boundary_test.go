package iamusers_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/iamusers"
)

const (
	boundaryARN = "arn:aws:iam::123456789012:policy/tollgate-student-boundary"
	otherARN    = "arn:aws:iam::123456789012:policy/something-wider"
)

// recorder is the real cloud client with the order of boundary and policy writes noted,
// because the daemon's IAM policy allows PutUserPolicy only once the boundary is on.
type recorder struct {
	iamusers.Cloud
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(c string) { r.mu.Lock(); defer r.mu.Unlock(); r.calls = append(r.calls, c) }

func (r *recorder) CreateIAMUser(ctx context.Context, name, path, boundary string, tags map[string]string) (cloud.IAMUser, error) {
	r.note("CreateUser:" + boundary)
	return r.Cloud.CreateIAMUser(ctx, name, path, boundary, tags)
}

func (r *recorder) PutIAMUserPermissionsBoundary(ctx context.Context, user, boundary string) error {
	r.note("PutUserPermissionsBoundary:" + boundary)
	return r.Cloud.PutIAMUserPermissionsBoundary(ctx, user, boundary)
}

func (r *recorder) PutIAMUserPolicy(ctx context.Context, user, policyName, document string) error {
	r.note("PutUserPolicy")
	return r.Cloud.PutIAMUserPolicy(ctx, user, policyName, document)
}

func (r *recorder) GetIAMUser(ctx context.Context, name string) (cloud.IAMUser, bool, error) {
	r.note("GetUser")
	return r.Cloud.GetIAMUser(ctx, name)
}

func (r *recorder) list() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.calls) }

func TestPermissionsBoundary(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		boundary string // iam.permissions_boundary
		// before runs once the first key is issued, changing IAM out of band; the second
		// Issue (a rotation) must then repair it.
		before func(e *env)
		// want is the boundary IAM holds after each Issue.
		want string
		// wantRestored is how many iam.boundary audit entries the rotation writes.
		wantRestored int
		// wantCalls are the boundary and policy writes of the rotation, in order.
		wantCalls []string
	}{
		{name: "none configured, none set", boundary: "", want: "",
			wantCalls: []string{"PutUserPolicy"}},
		{name: "set at creation and kept", boundary: boundaryARN, want: boundaryARN,
			wantCalls: []string{"GetUser", "PutUserPolicy"}},
		{name: "removed out of band, restored at next issue", boundary: boundaryARN, want: boundaryARN, wantRestored: 1,
			before: func(e *env) {
				if _, err := e.admin.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("tollgate-ada")}); err != nil {
					t.Fatal(err)
				}
			},
			wantCalls: []string{"GetUser", "PutUserPermissionsBoundary:" + boundaryARN, "PutUserPolicy"}},
		{name: "replaced out of band, restored at next issue", boundary: boundaryARN, want: boundaryARN, wantRestored: 1,
			before: func(e *env) {
				if _, err := e.admin.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("tollgate-ada"), PermissionsBoundary: aws.String(otherARN)}); err != nil {
					t.Fatal(err)
				}
			},
			wantCalls: []string{"GetUser", "PutUserPermissionsBoundary:" + boundaryARN, "PutUserPolicy"}},
		{name: "user deleted out of band, recreated with the boundary", boundary: boundaryARN, want: boundaryARN,
			before: func(e *env) {
				u := e.simUser("tollgate-ada")
				for _, k := range u.Keys {
					if _, err := e.admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.Name), AccessKeyId: aws.String(k.ID)}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := e.admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(u.Name), PolicyName: aws.String("tollgate-student")}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(u.Name)}); err != nil {
					t.Fatal(err)
				}
			},
			wantCalls: []string{"GetUser", "CreateUser:" + boundaryARN, "PutUserPolicy"}},
		{name: "boundary configured later, added at next issue", boundary: "", want: boundaryARN, wantRestored: 1,
			before: func(e *env) {
				opts := e.opts
				opts.Config.PermissionsBoundary = boundaryARN
				e.svc = e.newService(opts)
			},
			wantCalls: []string{"GetUser", "PutUserPermissionsBoundary:" + boundaryARN, "PutUserPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := &recorder{Cloud: e.cloud}
			e.opts.Cloud = rec
			e.opts.Config.PermissionsBoundary = tt.boundary
			e.svc = e.newService(e.opts)

			e.issue("ada", false)
			if got := e.simUser("tollgate-ada").Boundary; got != tt.boundary {
				t.Errorf("after the first issue the boundary is %q, want %q", got, tt.boundary)
			}
			if tt.boundary != "" {
				if got := rec.list(); len(got) == 0 || got[0] != "CreateUser:"+tt.boundary {
					t.Errorf("first issue calls %v, want CreateUser with the boundary first", got)
				}
				es := e.audit(iamusers.ActionCreate)
				if len(es) != 1 || es[0].Detail["permissions_boundary"] != tt.boundary {
					t.Errorf("audit %s = %+v, want one entry naming the boundary", iamusers.ActionCreate, es)
				}
			}
			if tt.before != nil {
				tt.before(e)
			}
			n := len(rec.list())
			e.issue("ada", true)
			if got := rec.list()[n:]; !slices.Equal(got, tt.wantCalls) {
				t.Errorf("rotation calls %v, want %v", got, tt.wantCalls)
			}
			if got := e.simUser("tollgate-ada").Boundary; got != tt.want {
				t.Errorf("after the rotation the boundary is %q, want %q", got, tt.want)
			}
			es := e.audit(iamusers.ActionBoundary)
			if len(es) != tt.wantRestored {
				t.Fatalf("audit %s has %d entries, want %d: %+v", iamusers.ActionBoundary, len(es), tt.wantRestored, es)
			}
			for _, en := range es {
				if en.Target != "ada" || en.Detail["permissions_boundary"] != boundaryARN {
					t.Errorf("audit %s entry %+v, want target ada and the boundary", iamusers.ActionBoundary, en)
				}
			}
			// A boundary does not hold revocation back (DeleteUser needs it not removed).
			if err := e.svc.Revoke(ctx, "ada"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if _, ok := e.sim.LookupUser("tollgate-ada"); ok {
				t.Errorf("tollgate-ada still exists after Revoke")
			}
		})
	}
}

// TestBoundaryAdoptsCrashedCreate: an IAM user left under the path by a crashed attempt
// (or made by hand) without the boundary gets it before its policy and first key.
func TestBoundaryAdoptsCrashedCreate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.opts.Config.PermissionsBoundary = boundaryARN
	e.svc = e.newService(e.opts)
	if _, err := e.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tollgate-cy"), Path: aws.String("/tollgate/")}); err != nil {
		t.Fatal(err)
	}
	e.issue("cy", false)
	u := e.simUser("tollgate-cy")
	if u.Boundary != boundaryARN {
		t.Errorf("adopted user's boundary = %q, want %q", u.Boundary, boundaryARN)
	}
	if _, ok := u.InlinePolicies["tollgate-student"]; !ok || len(u.Keys) != 1 {
		t.Errorf("adopted user = %+v, want the student policy and one key", u)
	}
	if got := len(e.audit(iamusers.ActionBoundary)); got != 1 {
		t.Errorf("audit %s entries = %d, want 1", iamusers.ActionBoundary, got)
	}
}

func TestBoundaryMustBePolicyARN(t *testing.T) {
	e := newEnv(t)
	opts := e.opts
	opts.Config.PermissionsBoundary = "tollgate-student-boundary"
	if _, err := iamusers.New(opts); err == nil {
		t.Fatalf("New with boundary %q: no error, want one", opts.Config.PermissionsBoundary)
	}
}
