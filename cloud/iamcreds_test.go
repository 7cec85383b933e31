package cloud_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tollgate/tollgate/awssim/iamsim"
	"github.com/tollgate/tollgate/cloud"
)

// TestIAMUserCredentials lists and deletes a user's MFA device, SSH key, signing
// certificate and service-specific credentials through the client, against iamsim over
// HTTP; service-specific credentials page by hand (the SDK has no paginator for them).
func TestIAMUserCredentials(t *testing.T) {
	ctx := context.Background()
	clearEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	sim := iamsim.New(nil)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := cloud.New(ctx, cloud.Config{Regions: []string{west}, EndpointURL: srv.URL, MaxAttempts: 1, MaxBackoff: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDADMIN", "x", "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	const user = "tollgate-alice"
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Path: aws.String("/tollgate/")}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, svc := range []string{"codecommit.amazonaws.com", "codecommit.amazonaws.com", "cassandra.amazonaws.com", "bedrock.amazonaws.com", "cassandra.amazonaws.com"} {
		out, err := admin.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(user), ServiceName: aws.String(svc)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, aws.ToString(out.ServiceSpecificCredential.ServiceSpecificCredentialId))
	}
	got, err := c.ListServiceCredentialsPaged(ctx, user, 2)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("paged by 2 = %v, %v; want %v", got, err, want)
	}
	for _, id := range want {
		if err := c.DeleteIAMServiceSpecificCredential(ctx, user, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteIAMServiceSpecificCredential(ctx, user, want[0]); err != nil {
		t.Errorf("deleting a deleted credential = %v, want nil", err)
	}
	if got, err := c.ListIAMServiceSpecificCredentials(ctx, user); err != nil || len(got) != 0 {
		t.Errorf("left = %v, %v", got, err)
	}
	if _, err := c.ListIAMMFADevices(ctx, "nobody"); !cloud.IsNoSuchEntity(err) {
		t.Errorf("ListIAMMFADevices of a missing user = %v, want NoSuchEntity", err)
	}
}

func TestIsVirtualMFASerial(t *testing.T) {
	for serial, want := range map[string]bool{
		"arn:aws:iam::123456789012:mfa/alice-phone": true,
		"arn:aws:iam::123456789012:mfa/staff/bob":   true,
		"GAHT12345678": false, // hardware token
		"arn:aws:iam::123456789012:u2f/user/alice/key-ABCD": false, // security key
	} {
		if got := cloud.IsVirtualMFASerial(serial); got != want {
			t.Errorf("IsVirtualMFASerial(%q) = %v, want %v", serial, got, want)
		}
	}
}
