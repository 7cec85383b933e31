package iamsim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// status is the HTTP status of an SDK error, 0 if it has none.
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestInstanceProfileLifecycle(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	name := aws.String("tollgate-worker")
	out, err := e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: name, Path: aws.String("/tollgate/")})
	if err != nil {
		t.Fatalf("CreateInstanceProfile: %v", err)
	}
	p := out.InstanceProfile
	if got, want := aws.ToString(p.Arn), "arn:aws:iam::123456789012:instance-profile/tollgate/tollgate-worker"; got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	if id := aws.ToString(p.InstanceProfileId); !strings.HasPrefix(id, "AIPA") {
		t.Errorf("InstanceProfileId = %q, want AIPA…", id)
	}
	if got, want := p.CreateDate.UTC(), e.clock.Now(); !got.Equal(want) {
		t.Errorf("CreateDate = %v, want %v", got, want)
	}
	if len(p.Roles) != 0 || aws.ToString(p.Path) != "/tollgate/" || aws.ToString(p.InstanceProfileName) != "tollgate-worker" {
		t.Errorf("created %+v, want no roles under /tollgate/", p)
	}
	_, err = e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("TOLLGATE-WORKER")})
	if code(err) != "EntityAlreadyExists" || status(err) != 409 {
		t.Errorf("duplicate CreateInstanceProfile = %d %q (%v), want 409 EntityAlreadyExists", status(err), code(err), err)
	}
	_, err = e.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("nobody")})
	var ae smithy.APIError
	if code(err) != "NoSuchEntity" || status(err) != 404 || !errors.As(err, &ae) || ae.ErrorMessage() != "Instance Profile nobody cannot be found." {
		t.Errorf("GetInstanceProfile(nobody) = %d %q (%v), want 404 NoSuchEntity", status(err), code(err), err)
	}

	if _, err := e.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String("worker-role")}); err != nil {
		t.Fatalf("AddRoleToInstanceProfile: %v", err)
	}
	_, err = e.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String("second")})
	if code(err) != "LimitExceeded" {
		t.Errorf("a second role = %v, want LimitExceeded (one role per profile)", err)
	}
	got, err := e.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: name})
	if err != nil {
		t.Fatalf("GetInstanceProfile: %v", err)
	}
	if aws.ToString(got.InstanceProfile.InstanceProfileId) != aws.ToString(p.InstanceProfileId) || len(got.InstanceProfile.Roles) != 1 ||
		aws.ToString(got.InstanceProfile.Roles[0].RoleName) != "worker-role" ||
		aws.ToString(got.InstanceProfile.Roles[0].Arn) != "arn:aws:iam::123456789012:role/worker-role" {
		t.Errorf("GetInstanceProfile = %+v, want the created profile with worker-role", got.InstanceProfile)
	}
	_, err = e.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: name})
	if !errors.As(err, &ae) || ae.ErrorCode() != "DeleteConflict" || status(err) != 409 ||
		ae.ErrorMessage() != "Cannot delete entity, must remove roles from instance profile first." {
		t.Errorf("DeleteInstanceProfile with a role = %d %v, want 409 DeleteConflict", status(err), err)
	}
	_, err = e.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String("second")})
	if code(err) != "NoSuchEntity" {
		t.Errorf("removing a role the profile lacks = %v, want NoSuchEntity", err)
	}
	if _, err := e.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String("worker-role")}); err != nil {
		t.Fatalf("RemoveRoleFromInstanceProfile: %v", err)
	}
	if _, err := e.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: name}); err != nil {
		t.Fatalf("DeleteInstanceProfile: %v", err)
	}
	if _, err := e.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: name}); code(err) != "NoSuchEntity" {
		t.Errorf("GetInstanceProfile after delete = %v, want NoSuchEntity", err)
	}
	if _, _, ok := e.sim.InstanceProfile("tollgate-worker"); ok {
		t.Error("InstanceProfile finds a deleted profile")
	}
}

func TestListInstanceProfiles(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	for _, n := range []string{"c", "a", "b"} {
		if _, err := e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("d"), Path: aws.String("/other/")}); err != nil {
		t.Fatal(err)
	}
	var names []string
	pg := iam.NewListInstanceProfilesPaginator(e.iam, &iam.ListInstanceProfilesInput{MaxItems: aws.Int32(2)})
	pages := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range out.InstanceProfiles {
			names = append(names, aws.ToString(p.InstanceProfileName))
		}
	}
	if got := strings.Join(names, ","); got != "a,b,c,d" || pages != 2 {
		t.Errorf("listed %s in %d pages, want a,b,c,d in 2", got, pages)
	}
	out, err := e.iam.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{PathPrefix: aws.String("/other/")})
	if err != nil || len(out.InstanceProfiles) != 1 || aws.ToString(out.InstanceProfiles[0].InstanceProfileName) != "d" {
		t.Errorf("ListInstanceProfiles(/other/) = %+v, %v; want d", out, err)
	}
}

func TestInstanceProfileLookup(t *testing.T) {
	e := start(t)
	arn := e.sim.AddInstanceProfile("lab")
	if again := e.sim.AddInstanceProfile("lab"); again != arn {
		t.Errorf("AddInstanceProfile twice = %q then %q, want the same profile", arn, again)
	}
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"lab", true},
		{"LAB", true},
		{arn, true},
		{"arn:aws:iam::123456789012:instance-profile/other/lab", false}, // wrong path
		{"nobody", false},
		{"arn:aws:iam::123456789012:instance-profile/nobody", false},
	} {
		gotArn, id, ok := e.sim.InstanceProfile(c.key)
		if ok != c.ok || (ok && (gotArn != arn || !strings.HasPrefix(id, "AIPA"))) {
			t.Errorf("InstanceProfile(%q) = %q, %q, %v; want found=%v", c.key, gotArn, id, ok, c.ok)
		}
	}
}
