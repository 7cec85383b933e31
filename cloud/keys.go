package cloud

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ImportKeyPair registers an SSH public key (OpenSSH authorized_keys format) under name.
// EC2 refuses a name that exists (InvalidKeyPair.Duplicate); replacing a key is
// DeleteKeyPair then ImportKeyPair.
func (c *Client) ImportKeyPair(ctx context.Context, region, name string, publicKey []byte) (KeyPair, error) {
	return c.ImportKeyPairTagged(ctx, region, name, publicKey, nil)
}

// DescribeKeyPair looks up one key pair by name; found is false (and err nil) when it
// does not exist.
func (c *Client) DescribeKeyPair(ctx context.Context, region, name string) (kp KeyPair, found bool, err error) {
	t, found, err := c.DescribeKeyPairTagged(ctx, region, name)
	return t.KeyPair, found, err
}

// TaggedKeyPair is a key pair with its tags: who created it decides whether tollgate may
// replace it.
type TaggedKeyPair struct {
	KeyPair
	Tags map[string]string `json:"tags"`
}

// DescribeKeyPairTagged looks up one key pair by name with its tags; found is false (and
// err nil) when it does not exist.
func (c *Client) DescribeKeyPairTagged(ctx context.Context, region, name string) (kp TaggedKeyPair, found bool, err error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return TaggedKeyPair{}, false, fmt.Errorf("describe keypair %s: %w", name, err)
	}
	out, err := cl.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{name}})
	if IsNotFound(err) {
		return TaggedKeyPair{}, false, nil
	}
	if err != nil {
		return TaggedKeyPair{}, false, fmt.Errorf("describe keypair %s in %s: %w", name, region, err)
	}
	for _, k := range out.KeyPairs {
		if aws.ToString(k.KeyName) == name {
			return TaggedKeyPair{
				KeyPair: KeyPair{Name: name, ID: aws.ToString(k.KeyPairId), Fingerprint: aws.ToString(k.KeyFingerprint)},
				Tags:    fromSDKTags(k.Tags),
			}, true, nil
		}
	}
	return TaggedKeyPair{}, false, nil
}

// ImportKeyPairTagged is ImportKeyPair with tags applied at creation (TagSpecifications,
// resource type key-pair), so a keypair tollgate imported is recognisable as its own.
func (c *Client) ImportKeyPairTagged(ctx context.Context, region, name string, publicKey []byte, tags map[string]string) (KeyPair, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return KeyPair{}, fmt.Errorf("import keypair %s: %w", name, err)
	}
	in := &ec2.ImportKeyPairInput{
		KeyName:           aws.String(name),
		PublicKeyMaterial: publicKey, // the SDK base64-encodes it on the wire
	}
	if len(tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: sdkTags(tags)}}
	}
	out, err := cl.ImportKeyPair(ctx, in)
	if err != nil {
		return KeyPair{}, fmt.Errorf("import keypair %s in %s: %w", name, region, err)
	}
	c.logger.Info("keypair imported", slog.String(logKeyRegion, region), slog.String(logKeyKeyName, name))
	return KeyPair{
		Name:        aws.ToString(out.KeyName),
		ID:          aws.ToString(out.KeyPairId),
		Fingerprint: aws.ToString(out.KeyFingerprint),
	}, nil
}

// DeleteKeyPair removes a key pair; deleting one that does not exist is not an error,
// so revocation can be repeated safely.
func (c *Client) DeleteKeyPair(ctx context.Context, region, name string) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("delete keypair %s: %w", name, err)
	}
	if _, err := cl.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(name)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete keypair %s in %s: %w", name, region, err)
	}
	c.logger.Info("keypair deleted", slog.String(logKeyRegion, region), slog.String(logKeyKeyName, name))
	return nil
}
