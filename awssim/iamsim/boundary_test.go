package iamsim_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const (
	boundaryARN = "arn:aws:iam::123456789012:policy/tollgate-student-boundary"
	otherARN    = "arn:aws:iam::123456789012:policy/other-boundary"
)

// boundaryOf reads a user's boundary through GetUser as the SDK decodes it; "" for none.
func (e *env) boundaryOf(t *testing.T, name string) string {
	t.Helper()
	out, err := e.iam.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetUser %s: %v", name, err)
	}
	pb := out.User.PermissionsBoundary
	if pb == nil {
		return ""
	}
	if got, want := pb.PermissionsBoundaryType, iamtypes.PermissionsBoundaryAttachmentTypePolicy; got != want {
		t.Errorf("PermissionsBoundaryType = %q, want %q", got, want)
	}
	return aws.ToString(pb.PermissionsBoundaryArn)
}

func TestPermissionsBoundary(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		create   string // boundary passed to CreateUser
		change   func(e *env) error
		want     string // boundary GetUser reports afterwards
		wantCode string // error code of change
	}{
		{name: "none", want: ""},
		{name: "set at creation", create: boundaryARN, want: boundaryARN},
		{name: "put on a user without one",
			change: func(e *env) error {
				_, err := e.iam.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("u"), PermissionsBoundary: aws.String(boundaryARN)})
				return err
			},
			want: boundaryARN},
		{name: "put replaces", create: otherARN,
			change: func(e *env) error {
				_, err := e.iam.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("u"), PermissionsBoundary: aws.String(boundaryARN)})
				return err
			},
			want: boundaryARN},
		{name: "delete", create: boundaryARN,
			change: func(e *env) error {
				_, err := e.iam.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("u")})
				return err
			},
			want: ""},
		{name: "put not a policy arn", create: boundaryARN,
			change: func(e *env) error {
				_, err := e.iam.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("u"), PermissionsBoundary: aws.String("arn:aws:iam::123456789012:user/x")})
				return err
			},
			want: boundaryARN, wantCode: "InvalidInput"},
		{name: "put on a missing user",
			change: func(e *env) error {
				_, err := e.iam.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("nobody"), PermissionsBoundary: aws.String(boundaryARN)})
				return err
			},
			want: "", wantCode: "NoSuchEntity"},
		{name: "delete on a missing user",
			change: func(e *env) error {
				_, err := e.iam.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("nobody")})
				return err
			},
			want: "", wantCode: "NoSuchEntity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t)
			in := &iam.CreateUserInput{UserName: aws.String("u"), Path: aws.String("/tollgate/")}
			if tt.create != "" {
				in.PermissionsBoundary = aws.String(tt.create)
			}
			out, err := e.iam.CreateUser(ctx, in)
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			created := ""
			if pb := out.User.PermissionsBoundary; pb != nil {
				created = aws.ToString(pb.PermissionsBoundaryArn)
			}
			if created != tt.create {
				t.Errorf("CreateUser returned boundary %q, want %q", created, tt.create)
			}
			if tt.change != nil {
				if got := code(tt.change(e)); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
			}
			if got := e.boundaryOf(t, "u"); got != tt.want {
				t.Errorf("GetUser boundary = %q, want %q", got, tt.want)
			}
			if u, _ := e.sim.LookupUser("u"); u.Boundary != tt.want {
				t.Errorf("ground truth boundary = %q, want %q", u.Boundary, tt.want)
			}
		})
	}
}

func TestCreateUserRefusesBadBoundary(t *testing.T) {
	e := start(t)
	_, err := e.iam.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("u"), PermissionsBoundary: aws.String("tollgate-student-boundary")})
	if got, want := code(err), "InvalidInput"; got != want {
		t.Fatalf("CreateUser with a bad boundary: code %q (%v), want %q", got, err, want)
	}
	if _, ok := e.sim.LookupUser("u"); ok {
		t.Errorf("user u exists after a refused CreateUser")
	}
}

// TestListUsersOmitsBoundary: IAM's ListUsers does not return boundaries (GetUser does),
// so code that needs one cannot rely on a listing.
func TestListUsersOmitsBoundary(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u"), PermissionsBoundary: aws.String(boundaryARN)}); err != nil {
		t.Fatal(err)
	}
	out, err := e.iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 1 || out.Users[0].PermissionsBoundary != nil {
		t.Errorf("ListUsers = %+v, want one user without a boundary", out.Users)
	}
}

// TestDeleteUserWithBoundary: a boundary does not hold a user back from deletion.
func TestDeleteUserWithBoundary(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u"), PermissionsBoundary: aws.String(boundaryARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("u")}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, ok := e.sim.LookupUser("u"); ok {
		t.Errorf("user u still exists")
	}
}
