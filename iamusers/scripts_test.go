package iamusers_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// boundaryName is the managed policy docs/iam.md tells admins to create from
// scripts/student-boundary-policy.json.
const boundaryName = ":policy/tollgate-student-boundary"

// strs is an IAM policy field that is a string or a list of strings.
type strs []string

func (s *strs) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = strs{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

type statement struct {
	Sid       string
	Effect    string
	Action    strs
	NotAction strs
	Resource  strs
	Condition map[string]map[string]strs
}

func readPolicy(t *testing.T, path string) []statement {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Version != "2012-10-17" {
		t.Fatalf("%s: %v (version %q)", path, err, doc.Version)
	}
	return doc.Statement
}

// TestDaemonPolicyRequiresBoundary checks finding #8's fix in the shipped daemon policy:
// whatever can give a student identity permissions is allowed only with the boundary on,
// and the boundary can be neither removed from a user nor rewritten.
func TestDaemonPolicyRequiresBoundary(t *testing.T) {
	sts := readPolicy(t, "../scripts/tollgated-iam-policy.json")
	granting := []string{"iam:CreateUser", "iam:PutUserPolicy", "iam:PutUserPermissionsBoundary", "iam:AttachUserPolicy"}
	boundaryCond := func(st statement, op string) bool {
		v := st.Condition[op]["iam:PermissionsBoundary"]
		return len(v) == 1 && strings.HasSuffix(v[0], boundaryName)
	}
	deniedAlways := func(action, resourceSuffix string) bool {
		for _, st := range sts {
			if st.Effect == "Deny" && st.Condition == nil && slices.Contains(st.Action, action) &&
				slices.ContainsFunc(st.Resource, func(r string) bool { return r == "*" || strings.HasSuffix(r, resourceSuffix) }) {
				return true
			}
		}
		return false
	}
	for _, a := range granting {
		t.Run(a, func(t *testing.T) {
			for _, st := range sts {
				if st.Effect == "Allow" && (slices.Contains(st.Action, a) || slices.Contains(st.Action, "iam:*") || st.NotAction != nil) && !boundaryCond(st, "StringEquals") {
					t.Errorf("statement %s allows %s without StringEquals iam:PermissionsBoundary on the student boundary", st.Sid, a)
				}
			}
			denied := slices.ContainsFunc(sts, func(st statement) bool {
				return st.Effect == "Deny" && slices.Contains(st.Action, a) && slices.Contains(st.Resource, "*") && boundaryCond(st, "StringNotEquals")
			})
			if !denied {
				t.Errorf("no Deny of %s on * with StringNotEquals iam:PermissionsBoundary (an added policy could otherwise allow it)", a)
			}
		})
	}
	for _, a := range []string{"iam:DeleteUserPermissionsBoundary"} {
		if !deniedAlways(a, "*") {
			t.Errorf("%s is not denied unconditionally", a)
		}
	}
	for _, a := range []string{"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"} {
		if !deniedAlways(a, boundaryName) {
			t.Errorf("%s on the boundary policy is not denied", a)
		}
	}
}

// TestBoundaryPolicyMatchesStudentPolicy: the boundary allows what the student policy
// allows and nothing more, so it takes nothing from students and caps everything else.
func TestBoundaryPolicyMatchesStudentPolicy(t *testing.T) {
	allows := func(path string) []string {
		var out []string
		for _, st := range readPolicy(t, path) {
			if st.Effect != "Allow" {
				continue
			}
			if st.NotAction != nil || st.Condition != nil {
				t.Errorf("%s: statement %s allows with NotAction or a condition; keep allows plain", path, st.Sid)
			}
			for _, a := range st.Action {
				for _, r := range st.Resource {
					out = append(out, a+" on "+r)
				}
			}
		}
		sort.Strings(out)
		return out
	}
	student, boundary := allows("../scripts/student-iam-policy.json"), allows("../scripts/student-boundary-policy.json")
	if !slices.Equal(boundary, student) {
		t.Errorf("boundary allows\n%s\nstudent policy allows\n%s", strings.Join(boundary, "\n"), strings.Join(student, "\n"))
	}
	for _, st := range readPolicy(t, "../scripts/student-boundary-policy.json") {
		if st.Effect == "Allow" && slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(a, "iam:") || a == "*" }) {
			t.Errorf("boundary statement %s allows %v", st.Sid, st.Action)
		}
	}
}

// TestDaemonPolicyCoversLifecycle runs what the daemon does with IAM (issue, rotate,
// revoke a user cluttered out of band, revoke --all) and checks that the shipped daemon
// policy allows every IAM action it sent, and that the policy fits IAM's 6,144-character
// limit for a managed policy (whitespace not counted).
func TestDaemonPolicyCoversLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.issue("alice", false)
	e.issue("alice", true)
	e.issue("bob", false)
	e.clutter("tollgate-alice")
	if err := e.svc.Revoke(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if res, err := e.svc.RevokeAll(ctx); err != nil || len(res.Failures) != 0 {
		t.Fatalf("RevokeAll = %+v, %v; want no failures", res, err)
	}
	sent := e.faults.sent()
	if !slices.Contains(sent, "DeleteVirtualMFADevice") {
		t.Fatalf("the daemon sent %v: no revocation of everything", sent)
	}
	const path = "../scripts/tollgated-iam-policy.json"
	sts := readPolicy(t, path)
	for _, a := range sent {
		allowed := slices.ContainsFunc(sts, func(st statement) bool { return st.Effect == "Allow" && slices.Contains(st.Action, "iam:"+a) })
		if !allowed {
			t.Errorf("%s does not allow iam:%s, which the daemon calls", path, a)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var compact strings.Builder
	for _, r := range string(b) {
		if r != ' ' && r != '\n' && r != '\t' {
			compact.WriteRune(r)
		}
	}
	if n := compact.Len(); n > 6144 {
		t.Errorf("%s is %d characters without whitespace, over IAM's 6,144 for a managed policy", path, n)
	}
}
