package cloud

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CallerIdentity is who AWS says a set of credentials belongs to.
type CallerIdentity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
}

// stsClient builds an STS client on the shared configuration, in the first region
// (regional STS endpoints), optionally with other credentials.
func (c *Client) stsClient(creds aws.CredentialsProvider) *sts.Client {
	cfg := c.AWSConfig()
	if creds != nil {
		cfg.Credentials = creds
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if rs := c.Regions(); len(rs) > 0 {
			o.Region = rs[0]
		}
	})
}

// CallerIdentity asks STS who the daemon's own credentials are.
func (c *Client) CallerIdentity(ctx context.Context) (CallerIdentity, error) {
	return callerIdentity(ctx, c.stsClient(nil))
}

// CallerIdentityOf asks STS who the given access key is. It is how tollgate learns that a
// new IAM key has propagated: STS refuses it (InvalidClientTokenId) until it has. The
// secret only signs this one request; it is not kept.
func (c *Client) CallerIdentityOf(ctx context.Context, accessKeyID, secret string) (CallerIdentity, error) {
	id, err := callerIdentity(ctx, c.stsClient(credentials.NewStaticCredentialsProvider(accessKeyID, secret, "")))
	if err != nil {
		return CallerIdentity{}, fmt.Errorf("key %s: %w", accessKeyID, err)
	}
	return id, nil
}

// IsInvalidClientToken reports whether STS refused the credentials themselves: an access
// key that does not exist (yet, while IAM propagates it), is inactive or was deleted.
func IsInvalidClientToken(err error) bool {
	code := Code(err)
	return code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch"
}

func callerIdentity(ctx context.Context, cl *sts.Client) (CallerIdentity, error) {
	out, err := cl.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return CallerIdentity{}, fmt.Errorf("get caller identity: %w", err)
	}
	return CallerIdentity{
		Account: aws.ToString(out.Account),
		ARN:     aws.ToString(out.Arn),
		UserID:  aws.ToString(out.UserId),
	}, nil
}
