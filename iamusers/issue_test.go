package iamusers_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
)

func TestIssueCreatesIdentity(t *testing.T) {
	e := newEnv(t)
	cr := e.issue("alice", false)
	if cr.IAMUser != "tollgate-alice" || cr.User != "alice" || cr.Region != "us-west-2" {
		t.Errorf("credentials = %+v, want user alice, iam user tollgate-alice, region us-west-2", cr)
	}
	if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
		t.Fatalf("credentials carry no key: id %q", cr.AccessKeyID)
	}
	u := e.simUser("tollgate-alice")
	if got, want := u.Path, "/tollgate/"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if got, want := u.Tags[cloud.TagOwner], "alice"; got != want {
		t.Errorf("owner tag = %q, want %q", got, want)
	}
	doc, ok := u.InlinePolicies["tollgate-student"]
	if !ok || !strings.Contains(doc, `"ec2:RunInstances"`) || strings.ContainsAny(doc, "\n ") {
		t.Errorf("inline policy tollgate-student = %q, want the compacted student policy", doc)
	}
	if got, want := keyIDs(u), []string{cr.AccessKeyID + "/Active"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("keys = %v, want %v", got, want)
	}
	who, err := e.cloud.CallerIdentityOf(context.Background(), cr.AccessKeyID, cr.SecretAccessKey)
	if err != nil || who.ARN != u.ARN {
		t.Errorf("the issued key identifies as %q (%v), want %q", who.ARN, err, u.ARN)
	}
	for _, action := range []string{iamusers.ActionCreate, iamusers.ActionKey} {
		es := e.audit(action)
		if len(es) == 0 || es[len(es)-1].Decision != db.Allowed || es[len(es)-1].Target != "alice" {
			t.Errorf("audit %s = %+v, want an allowed entry for alice", action, es)
		}
	}
	ids, err := e.svc.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(ids) != 1 || ids[0].State != db.IAMActive || len(ids[0].Keys) != 1 || ids[0].Keys[0].ID != cr.AccessKeyID {
		t.Errorf("List = %+v, want alice active with key %s", ids, cr.AccessKeyID)
	}
}

func TestIssueRefusesSecondKeyWithoutRotate(t *testing.T) {
	e := newEnv(t)
	e.issue("bob", false)
	_, err := e.svc.Issue(context.Background(), "bob", false)
	if !errors.Is(err, iamusers.ErrHasKey) {
		t.Fatalf("second Issue err = %v, want ErrHasKey", err)
	}
	if got := len(e.simUser("tollgate-bob").Keys); got != 1 {
		t.Errorf("keys after refusal = %d, want 1", got)
	}
	es := e.audit(iamusers.ActionKey)
	if last := es[len(es)-1]; last.Decision != db.Refused {
		t.Errorf("last audit decision = %q, want refused", last.Decision)
	}
}

func TestRotate(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env) // after a first Issue; the user holds one active key
	}{
		{"one active key", func(e *env) {}},
		{"two active keys", func(e *env) { e.clock.Advance(time.Hour); e.createKey("tollgate-carol") }},
		{"an older inactive key", func(e *env) {
			ks := e.simUser("tollgate-carol").Keys
			_, err := e.admin.UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String("tollgate-carol"), AccessKeyId: aws.String(ks[0].ID), Status: "Inactive"})
			if err != nil {
				e.t.Fatal(err)
			}
			e.clock.Advance(time.Hour)
			e.createKey("tollgate-carol")
		}},
		{"a newer inactive key", func(e *env) {
			e.clock.Advance(time.Hour)
			id := e.createKey("tollgate-carol")
			_, err := e.admin.UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String("tollgate-carol"), AccessKeyId: aws.String(id), Status: "Inactive"})
			if err != nil {
				e.t.Fatal(err)
			}
		}},
		{"no key", func(e *env) {
			for _, k := range e.simUser("tollgate-carol").Keys {
				if _, err := e.admin.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String("tollgate-carol"), AccessKeyId: aws.String(k.ID)}); err != nil {
					e.t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.issue("carol", false)
			tt.setup(e)
			e.clock.Advance(24 * time.Hour)
			cr := e.issue("carol", true)
			if cr.AccessKeyID == first.AccessKeyID {
				t.Fatalf("rotation returned the old key %s", cr.AccessKeyID)
			}
			if got, want := strings.Join(keyIDs(e.simUser("tollgate-carol")), ","), cr.AccessKeyID+"/Active"; got != want {
				t.Errorf("keys after rotation = %s, want %s", got, want)
			}
			if _, err := e.cloud.CallerIdentityOf(context.Background(), first.AccessKeyID, first.SecretAccessKey); !cloud.IsInvalidClientToken(err) {
				t.Errorf("old key still accepted by STS: err = %v", err)
			}
			ids, err := e.svc.List(context.Background())
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(ids) != 1 || !ids[0].LastRotated.Equal(e.clock.Now()) {
				t.Errorf("LastRotated = %v, want %v", ids[0].LastRotated, e.clock.Now())
			}
		})
	}
}

func TestPropagation(t *testing.T) {
	tests := []struct {
		name    string
		delay   time.Duration
		wantErr error
	}{
		{"immediate", 0, nil},
		{"a few seconds", 7 * time.Second, nil},
		{"longer than the timeout", 2 * time.Minute, iamusers.ErrPropagation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.sim.SetPropagationDelay(tt.delay)
			start := e.clock.Now()
			cr, err := e.svc.Issue(context.Background(), "dave", false)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Issue err = %v, want %v", err, tt.wantErr)
			}
			waited := e.clock.Now().Sub(start)
			if tt.wantErr != nil {
				if got := len(e.simUser("tollgate-dave").Keys); got != 0 {
					t.Errorf("keys after a failed propagation = %d, want 0 (the unusable key deleted)", got)
				}
				if waited < 30*time.Second || waited > 31*time.Second {
					t.Errorf("waited %v, want the 30s timeout", waited)
				}
				return
			}
			if waited < tt.delay || waited > tt.delay+5*time.Second {
				t.Errorf("waited %v for a %v delay", waited, tt.delay)
			}
			if tt.delay > 0 && !strings.Contains(e.logs.String(), "waiting for IAM to propagate") {
				t.Errorf("no progress logged while waiting")
			}
			if _, err := e.cloud.CallerIdentityOf(context.Background(), cr.AccessKeyID, cr.SecretAccessKey); err != nil {
				t.Errorf("issued key not accepted: %v", err)
			}
		})
	}
}

func TestConcurrentIssue(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Issue(context.Background(), "erin", true)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Issue %d: %v", i, err)
		}
	}
	if got := len(e.simUser("tollgate-erin").Keys); got != 1 {
		t.Errorf("keys after concurrent rotations = %d, want 1", got)
	}
}

func TestIssueRefusesForeignIAMUser(t *testing.T) {
	e := newEnv(t)
	if _, err := e.admin.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("tollgate-frank"), Path: aws.String("/staff/")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Issue(context.Background(), "frank", false)
	if !errors.Is(err, iamusers.ErrNotOurs) {
		t.Fatalf("Issue err = %v, want ErrNotOurs", err)
	}
	if got := e.simUser("tollgate-frank"); len(got.Keys) != 0 || len(got.InlinePolicies) != 0 {
		t.Errorf("foreign user was modified: %+v", got)
	}
}

func TestIAMUserName(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		user, want string
		wantErr    bool
	}{
		{"alice", "tollgate-alice", false},
		{"a.b_c-d", "tollgate-a.b_c-d", false},
		{"", "", true},
		{"machine$", "", true},
		{strings.Repeat("x", 60), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, err := e.svc.IAMUserName(tt.user)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("IAMUserName(%q) = %q, %v; want %q, error %v", tt.user, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDefaultPolicyMatchesScript(t *testing.T) {
	shipped, err := os.ReadFile("../scripts/student-iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadFile("default_policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(shipped) != string(embedded) {
		t.Errorf("iamusers/default_policy.json differs from scripts/student-iam-policy.json; copy the script over")
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		policy string
	}{
		{"not json", "{"},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"too large", `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", 2100) + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := e.opts
			o.Policy = []byte(tt.policy)
			if _, err := iamusers.New(o); err == nil {
				t.Errorf("New accepted policy %.40q", tt.policy)
			}
		})
	}
}

func TestPolicyFollowsConfiguration(t *testing.T) {
	e := newEnv(t)
	e.issue("kim", false)
	opts := e.opts
	opts.Policy = []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::course/home/{user}/*"}]}`)
	e.svc = e.newService(opts)
	e.issue("kim", true)
	got := e.simUser("tollgate-kim").InlinePolicies["tollgate-student"]
	if want := `"Resource":"arn:aws:s3:::course/home/kim/*"`; !strings.Contains(got, want) {
		t.Errorf("policy after reconfiguration = %s, want it to contain %s", got, want)
	}
}
