// Package iamsimtest makes the changes an administrator could make to an IAM user behind
// tollgate's back (in the console, with the CLI), through the real SDK, so tests of the
// simulator and of revocation share one list of everything IAM's DeleteUser refuses to
// delete a user with.
package iamsimtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Attachment is one kind of thing a user can hold that makes DeleteUser answer
// DeleteConflict.
type Attachment struct {
	Kind     string // short name, for subtests
	Conflict string // DeleteUser's DeleteConflict message while the user holds one
	// Add gives user one, through client (an administrator's client).
	Add func(ctx context.Context, client *iam.Client, user string) error
}

// Attachments lists every kind IAM checks before DeleteUser.
var Attachments = []Attachment{
	{"login-profile", "Cannot delete entity, must delete login profile first.", addLoginProfile},
	{"access-key", "Cannot delete entity, must delete access keys first.", addAccessKey},
	{"mfa-device", "Cannot delete entity, must delete MFA device first.", addMFADevice},
	{"ssh-public-key", "Cannot delete entity, must remove referenced objects first.", addSSHPublicKey},
	{"signing-certificate", "Cannot delete entity, must delete certificates first.", addSigningCertificate},
	{"service-specific-credential", "Cannot delete entity, must remove referenced objects first.", addServiceCredential},
	{"inline-policy", "Cannot delete entity, must delete policies first.", addInlinePolicy},
	{"attached-policy", "Cannot delete entity, must detach all policies first.", addAttachedPolicy},
	{"group", "Cannot delete entity, must remove users from group first.", addToGroup},
}

// AddAll gives user one of every kind (one access key: a user may hold two).
func AddAll(ctx context.Context, client *iam.Client, user string) error {
	for _, a := range Attachments {
		if err := a.Add(ctx, client, user); err != nil {
			return fmt.Errorf("add %s to %s: %w", a.Kind, user, err)
		}
	}
	return nil
}

func addLoginProfile(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(user), Password: aws.String("Console-pass-1!")})
	return err
}

func addAccessKey(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	return err
}

// addMFADevice creates a virtual MFA device named after user at the default path, as the
// console does, and enables it for user.
func addMFADevice(ctx context.Context, c *iam.Client, user string) error {
	out, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(user + "-phone")})
	if err != nil {
		return err
	}
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: out.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")})
	return err
}

func addSSHPublicKey(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String(user), SSHPublicKeyBody: aws.String(SSHPublicKeyBody())})
	return err
}

func addSigningCertificate(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String(user), CertificateBody: aws.String(CertificatePEM())})
	return err
}

func addServiceCredential(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(user), ServiceName: aws.String("codecommit.amazonaws.com")})
	return err
}

func addInlinePolicy(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("extra"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	return err
}

func addAttachedPolicy(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	return err
}

// addToGroup puts user in a new group of its own under /tollgate/ (where the daemon's
// policy lets it remove members).
func addToGroup(ctx context.Context, c *iam.Client, user string) error {
	g := aws.String("grp-" + user)
	if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: g, Path: aws.String("/tollgate/")}); err != nil {
		return err
	}
	_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String(user), GroupName: g})
	return err
}

// SSHPublicKeyBody returns a new ssh-rsa public key line. The key is random bytes, not a
// usable RSA key: the simulator checks only the format.
func SSHPublicKeyBody() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(b) + " admin@console"
}

// CertificatePEM returns a new self-signed X.509 certificate in PEM.
func CertificatePEM() string {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
