package iamsim_test

import (
	"context"
	"encoding/base32"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate/tollgate/awssim/iamsim/iamsimtest"
)

// TestDeleteUserConflicts: DeleteUser refuses, with IAM's 409 DeleteConflict and message,
// a user that holds any one of the things IAM requires removed first.
func TestDeleteUserConflicts(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	for _, a := range iamsimtest.Attachments {
		t.Run(a.Kind, func(t *testing.T) {
			name := "u-" + a.Kind
			mustCreateUser(t, e, name, "/tollgate/")
			if err := a.Add(ctx, e.iam, name); err != nil {
				t.Fatalf("add %s: %v", a.Kind, err)
			}
			_, err := e.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
			var ae smithy.APIError
			var re *smithyhttp.ResponseError
			if !errors.As(err, &ae) || !errors.As(err, &re) {
				t.Fatalf("DeleteUser = %v, want an API error", err)
			}
			if ae.ErrorCode() != "DeleteConflict" || re.HTTPStatusCode() != 409 || ae.ErrorMessage() != a.Conflict {
				t.Errorf("DeleteUser = %d %s %q, want 409 DeleteConflict %q", re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), a.Conflict)
			}
			if _, ok := e.sim.LookupUser(name); !ok {
				t.Errorf("%s was deleted", name)
			}
		})
	}
}

func TestVirtualMFADevices(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	mustCreateUser(t, e, "alice", "/tollgate/")
	mustCreateUser(t, e, "bob", "/tollgate/")
	out, err := e.iam.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-phone")})
	if err != nil {
		t.Fatalf("CreateVirtualMFADevice: %v", err)
	}
	serial := aws.ToString(out.VirtualMFADevice.SerialNumber)
	if want := "arn:aws:iam::123456789012:mfa/alice-phone"; serial != want {
		t.Errorf("serial = %q, want %q", serial, want)
	}
	if _, err := base32.StdEncoding.DecodeString(string(out.VirtualMFADevice.Base32StringSeed)); err != nil {
		t.Errorf("seed %q is not base32: %v", out.VirtualMFADevice.Base32StringSeed, err)
	}
	if _, err := e.iam.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-phone")}); code(err) != "EntityAlreadyExists" {
		t.Errorf("same device again = %v, want EntityAlreadyExists", err)
	}
	enable := func(user string) error {
		_, err := e.iam.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: aws.String(serial),
			AuthenticationCode1: aws.String("111111"), AuthenticationCode2: aws.String("222222")})
		return err
	}
	if err := enable("alice"); err != nil {
		t.Fatalf("EnableMFADevice: %v", err)
	}
	if err := enable("bob"); code(err) != "EntityAlreadyExists" {
		t.Errorf("enable a device in use = %v, want EntityAlreadyExists", err)
	}
	list, err := e.iam.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("alice")})
	if err != nil || len(list.MFADevices) != 1 || aws.ToString(list.MFADevices[0].SerialNumber) != serial ||
		!aws.ToTime(list.MFADevices[0].EnableDate).Equal(e.clock.Now()) || aws.ToString(list.MFADevices[0].UserName) != "alice" {
		t.Fatalf("ListMFADevices = %+v, %v; want %s enabled now", list, err, serial)
	}
	del := func() error {
		_, err := e.iam.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
		return err
	}
	if err := del(); code(err) != "DeleteConflict" {
		t.Errorf("DeleteVirtualMFADevice while enabled = %v, want DeleteConflict", err)
	}
	deactivate := func() error {
		_, err := e.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial)})
		return err
	}
	if err := deactivate(); err != nil {
		t.Fatalf("DeactivateMFADevice: %v", err)
	}
	if err := deactivate(); code(err) != "NoSuchEntity" {
		t.Errorf("second DeactivateMFADevice = %v, want NoSuchEntity", err)
	}
	if u, _ := e.sim.LookupUser("alice"); len(u.MFADevices) != 0 {
		t.Errorf("alice still has %v", u.MFADevices)
	}
	if got := e.sim.VirtualMFADevices(); !slices.Equal(got, []string{serial}) {
		t.Errorf("devices after deactivation = %v, want the unassigned %s", got, serial)
	}
	if err := del(); err != nil {
		t.Fatalf("DeleteVirtualMFADevice: %v", err)
	}
	if err := del(); code(err) != "NoSuchEntity" {
		t.Errorf("second DeleteVirtualMFADevice = %v, want NoSuchEntity", err)
	}
	if got := e.sim.VirtualMFADevices(); len(got) != 0 {
		t.Errorf("devices after delete = %v", got)
	}
}

func TestSSHPublicKeys(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	mustCreateUser(t, e, "alice", "/tollgate/")
	u := aws.String("alice")
	var ids []string
	body := iamsimtest.SSHPublicKeyBody()
	for i := 0; i < 5; i++ {
		if i > 0 {
			body = iamsimtest.SSHPublicKeyBody()
		}
		out, err := e.iam.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: u, SSHPublicKeyBody: aws.String(body)})
		if err != nil {
			t.Fatalf("UploadSSHPublicKey %d: %v", i, err)
		}
		k := out.SSHPublicKey
		if aws.ToString(k.SSHPublicKeyBody) != body || len(aws.ToString(k.Fingerprint)) != 47 || k.Status != "Active" {
			t.Errorf("uploaded key = %+v", k)
		}
		ids = append(ids, aws.ToString(k.SSHPublicKeyId))
		e.clock.Advance(time.Minute)
	}
	upload := func(body string) error {
		_, err := e.iam.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: u, SSHPublicKeyBody: aws.String(body)})
		return err
	}
	for body, want := range map[string]string{body: "DuplicateSSHPublicKey", iamsimtest.SSHPublicKeyBody(): "LimitExceeded", "ssh-dss AAAA": "InvalidPublicKey"} {
		if err := upload(body); code(err) != want {
			t.Errorf("upload %.20q = %v, want %s", body, err, want)
		}
	}
	var got []string
	p := iam.NewListSSHPublicKeysPaginator(e.iam, &iam.ListSSHPublicKeysInput{UserName: u}, func(o *iam.ListSSHPublicKeysPaginatorOptions) { o.Limit = 2 })
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListSSHPublicKeys: %v", err)
		}
		for _, k := range pg.SSHPublicKeys {
			got = append(got, aws.ToString(k.SSHPublicKeyId))
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("listed %v, want %v", got, ids)
	}
	del := func() error {
		_, err := e.iam.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: u, SSHPublicKeyId: aws.String(ids[0])})
		return err
	}
	if err := del(); err != nil {
		t.Fatalf("DeleteSSHPublicKey: %v", err)
	}
	if err := del(); code(err) != "NoSuchEntity" {
		t.Errorf("second DeleteSSHPublicKey = %v, want NoSuchEntity", err)
	}
	if user, _ := e.sim.LookupUser("alice"); !slices.Equal(user.SSHPublicKeys, ids[1:]) {
		t.Errorf("keys left = %v, want %v", user.SSHPublicKeys, ids[1:])
	}
}

func TestSigningCertificates(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	mustCreateUser(t, e, "alice", "/tollgate/")
	u := aws.String("alice")
	upload := func(body string) (string, error) {
		out, err := e.iam.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: u, CertificateBody: aws.String(body)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Certificate.CertificateId), nil
	}
	first := iamsimtest.CertificatePEM()
	id1, err := upload(first)
	if err != nil || len(id1) < 24 {
		t.Fatalf("UploadSigningCertificate = %q, %v", id1, err)
	}
	id2, err := upload(iamsimtest.CertificatePEM())
	if err != nil {
		t.Fatalf("second UploadSigningCertificate: %v", err)
	}
	for body, want := range map[string]string{first: "DuplicateCertificate", iamsimtest.CertificatePEM(): "LimitExceeded", "not a certificate": "MalformedCertificate"} {
		if _, err := upload(body); code(err) != want {
			t.Errorf("upload %.20q = %v, want %s", body, err, want)
		}
	}
	list, err := e.iam.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: u, MaxItems: aws.Int32(1)})
	if err != nil || len(list.Certificates) != 1 || !list.IsTruncated || aws.ToString(list.Certificates[0].CertificateBody) != first {
		t.Fatalf("ListSigningCertificates page 1 = %+v, %v", list, err)
	}
	list, err = e.iam.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: u, Marker: list.Marker})
	if err != nil || len(list.Certificates) != 1 || list.IsTruncated || aws.ToString(list.Certificates[0].CertificateId) != id2 {
		t.Fatalf("ListSigningCertificates page 2 = %+v, %v", list, err)
	}
	if _, err := e.iam.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: u, CertificateId: aws.String(id1)}); err != nil {
		t.Fatalf("DeleteSigningCertificate: %v", err)
	}
	if _, err := e.iam.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: u, CertificateId: aws.String(id1)}); code(err) != "NoSuchEntity" {
		t.Errorf("second DeleteSigningCertificate = %v, want NoSuchEntity", err)
	}
}

func TestServiceSpecificCredentials(t *testing.T) {
	ctx := context.Background()
	e := start(t)
	mustCreateUser(t, e, "alice", "/tollgate/")
	u := aws.String("alice")
	create := func(svc string) (string, error) {
		out, err := e.iam.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: u, ServiceName: aws.String(svc)})
		if err != nil {
			return "", err
		}
		c := out.ServiceSpecificCredential
		if aws.ToString(c.ServicePassword) == "" || aws.ToString(c.ServiceUserName) != "alice-at-123456789012" || aws.ToString(c.ServiceName) != svc {
			t.Errorf("created %+v", c)
		}
		return aws.ToString(c.ServiceSpecificCredentialId), nil
	}
	var ids []string
	for _, svc := range []string{"codecommit.amazonaws.com", "cassandra.amazonaws.com", "codecommit.amazonaws.com"} {
		id, err := create(svc)
		if err != nil {
			t.Fatalf("CreateServiceSpecificCredential %s: %v", svc, err)
		}
		ids = append(ids, id)
	}
	for svc, want := range map[string]string{"codecommit.amazonaws.com": "LimitExceeded", "ec2.amazonaws.com": "NotSupportedService"} {
		if _, err := create(svc); code(err) != want {
			t.Errorf("create for %s = %v, want %s", svc, err, want)
		}
	}
	list := func(svc string) []string {
		var got []string
		in := &iam.ListServiceSpecificCredentialsInput{UserName: u, MaxItems: aws.Int32(1)}
		if svc != "" {
			in.ServiceName = aws.String(svc)
		}
		for {
			out, err := e.iam.ListServiceSpecificCredentials(ctx, in)
			if err != nil {
				t.Fatalf("ListServiceSpecificCredentials: %v", err)
			}
			for _, c := range out.ServiceSpecificCredentials {
				got = append(got, aws.ToString(c.ServiceSpecificCredentialId))
			}
			if !out.IsTruncated {
				return got
			}
			in.Marker = out.Marker
		}
	}
	if got := list(""); !slices.Equal(got, ids) {
		t.Errorf("listed %v, want %v", got, ids)
	}
	if got, want := list("codecommit.amazonaws.com"), []string{ids[0], ids[2]}; !slices.Equal(got, want) {
		t.Errorf("listed codecommit %v, want %v", got, want)
	}
	del := func() error {
		_, err := e.iam.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: u, ServiceSpecificCredentialId: aws.String(ids[1])})
		return err
	}
	if err := del(); err != nil {
		t.Fatalf("DeleteServiceSpecificCredential: %v", err)
	}
	if err := del(); code(err) != "NoSuchEntity" {
		t.Errorf("second DeleteServiceSpecificCredential = %v, want NoSuchEntity", err)
	}
}
