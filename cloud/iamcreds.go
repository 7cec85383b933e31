package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// The IAM user's other credentials: MFA devices, SSH public keys, signing certificates
// and service-specific credentials. tollgate never creates them; revocation lists and
// deletes whatever an administrator added, because DeleteUser refuses a user holding any.
// Ids and serial numbers are not secrets; a service-specific credential's password is
// shown by IAM only when it is created, which tollgate never does.

// Log attribute keys of these calls.
const (
	logKeyMFASerial    = "mfa_serial"
	logKeyCredentialID = "credential_id"
)

// IsVirtualMFASerial reports whether an MFA device serial number is a virtual device's
// ARN (arn:aws:iam::ACCOUNT:mfa/…), which DeleteIAMVirtualMFADevice deletes; hardware
// tokens and security keys have other serial numbers.
func IsVirtualMFASerial(serial string) bool {
	return strings.HasPrefix(serial, "arn:") && strings.Contains(serial, ":mfa/")
}

// ListIAMMFADevices lists the serial numbers of the MFA devices enabled for a user.
func (c *Client) ListIAMMFADevices(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListMFADevicesPaginator(c.iamClient(), &iam.ListMFADevicesInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListMFADevicesOutput) []string {
		return pick(pg.MFADevices, func(d iamtypes.MFADevice) *string { return d.SerialNumber })
	})
	if err != nil {
		return nil, fmt.Errorf("list mfa devices of iam user %s: %w", user, err)
	}
	return out, nil
}

// DeactivateIAMMFADevice unassigns an MFA device from a user (a virtual device then still
// exists, unassigned); one not enabled for the user is not an error.
func (c *Client) DeactivateIAMMFADevice(ctx context.Context, user, serial string) error {
	_, err := c.iamClient().DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String(user), SerialNumber: aws.String(serial)})
	return c.deleted(err, fmt.Sprintf("deactivate mfa device %s of iam user %s", serial, user),
		"iam mfa device deactivated", slog.String(logKeyIAMUser, user), slog.String(logKeyMFASerial, serial))
}

// DeleteIAMVirtualMFADevice deletes a virtual MFA device, which must be deactivated first;
// a missing one is not an error.
func (c *Client) DeleteIAMVirtualMFADevice(ctx context.Context, serial string) error {
	_, err := c.iamClient().DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	return c.deleted(err, "delete virtual mfa device "+serial, "iam virtual mfa device deleted", slog.String(logKeyMFASerial, serial))
}

// ListIAMSSHPublicKeys lists the ids of a user's SSH public keys (for CodeCommit).
func (c *Client) ListIAMSSHPublicKeys(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListSSHPublicKeysPaginator(c.iamClient(), &iam.ListSSHPublicKeysInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListSSHPublicKeysOutput) []string {
		return pick(pg.SSHPublicKeys, func(k iamtypes.SSHPublicKeyMetadata) *string { return k.SSHPublicKeyId })
	})
	if err != nil {
		return nil, fmt.Errorf("list ssh public keys of iam user %s: %w", user, err)
	}
	return out, nil
}

// DeleteIAMSSHPublicKey deletes a user's SSH public key; a missing one is not an error.
func (c *Client) DeleteIAMSSHPublicKey(ctx context.Context, user, id string) error {
	_, err := c.iamClient().DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: aws.String(user), SSHPublicKeyId: aws.String(id)})
	return c.deleted(err, fmt.Sprintf("delete ssh public key %s of iam user %s", id, user),
		"iam ssh public key deleted", slog.String(logKeyIAMUser, user), slog.String(logKeyCredentialID, id))
}

// ListIAMSigningCertificates lists the ids of a user's X.509 signing certificates.
func (c *Client) ListIAMSigningCertificates(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListSigningCertificatesPaginator(c.iamClient(), &iam.ListSigningCertificatesInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListSigningCertificatesOutput) []string {
		return pick(pg.Certificates, func(k iamtypes.SigningCertificate) *string { return k.CertificateId })
	})
	if err != nil {
		return nil, fmt.Errorf("list signing certificates of iam user %s: %w", user, err)
	}
	return out, nil
}

// DeleteIAMSigningCertificate deletes a user's signing certificate; a missing one is not
// an error.
func (c *Client) DeleteIAMSigningCertificate(ctx context.Context, user, id string) error {
	_, err := c.iamClient().DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: aws.String(user), CertificateId: aws.String(id)})
	return c.deleted(err, fmt.Sprintf("delete signing certificate %s of iam user %s", id, user),
		"iam signing certificate deleted", slog.String(logKeyIAMUser, user), slog.String(logKeyCredentialID, id))
}

// serviceCredentialPages pages ListServiceSpecificCredentials by Marker: IAM paginates it,
// but the SDK has no paginator for it.
type serviceCredentialPages struct {
	client *iam.Client
	in     iam.ListServiceSpecificCredentialsInput
	done   bool
}

func (p *serviceCredentialPages) HasMorePages() bool { return !p.done }

func (p *serviceCredentialPages) NextPage(ctx context.Context, optFns ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	in := p.in
	out, err := p.client.ListServiceSpecificCredentials(ctx, &in, optFns...)
	if err != nil {
		return nil, err
	}
	p.in.Marker = out.Marker
	p.done = !out.IsTruncated || aws.ToString(out.Marker) == ""
	return out, nil
}

// ListIAMServiceSpecificCredentials lists the ids of a user's service-specific credentials
// (Git credentials for CodeCommit, Keyspaces and Bedrock API keys), every service.
func (c *Client) ListIAMServiceSpecificCredentials(ctx context.Context, user string) ([]string, error) {
	return c.listServiceCredentials(ctx, user, 0)
}

// listServiceCredentials lists them pageSize at a time (0: IAM's default page).
func (c *Client) listServiceCredentials(ctx context.Context, user string, pageSize int32) ([]string, error) {
	in := iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)}
	if pageSize > 0 {
		in.MaxItems = aws.Int32(pageSize)
	}
	p := &serviceCredentialPages{client: c.iamClient(), in: in}
	out, err := collect(ctx, p, func(pg *iam.ListServiceSpecificCredentialsOutput) []string {
		return pick(pg.ServiceSpecificCredentials, func(k iamtypes.ServiceSpecificCredentialMetadata) *string { return k.ServiceSpecificCredentialId })
	})
	if err != nil {
		return nil, fmt.Errorf("list service-specific credentials of iam user %s: %w", user, err)
	}
	return out, nil
}

// DeleteIAMServiceSpecificCredential deletes a user's service-specific credential; a
// missing one is not an error.
func (c *Client) DeleteIAMServiceSpecificCredential(ctx context.Context, user, id string) error {
	_, err := c.iamClient().DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String(user), ServiceSpecificCredentialId: aws.String(id)})
	return c.deleted(err, fmt.Sprintf("delete service-specific credential %s of iam user %s", id, user),
		"iam service-specific credential deleted", slog.String(logKeyIAMUser, user), slog.String(logKeyCredentialID, id))
}
