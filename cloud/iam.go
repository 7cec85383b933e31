package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// iamRegion signs IAM requests: IAM is a global service whose endpoint lives in us-east-1
// (the aws partition), whatever regions tollgate launches in.
const iamRegion = "us-east-1"

// Log attribute keys of the IAM calls (the id of a key is not a secret; its secret is
// never logged).
const (
	logKeyIAMUser = "iam_user"
	logKeyPolicy  = "policy"
	logKeyGroup   = "group"
	// logKeyBoundary is a permissions boundary policy ARN.
	logKeyBoundary = "permissions_boundary"
)

// IAMUser is what tollgate needs of an IAM user.
type IAMUser struct {
	Name      string            `json:"name"`
	Path      string            `json:"path"`
	ID        string            `json:"id"`
	ARN       string            `json:"arn"`
	CreatedAt time.Time         `json:"created_at"`
	Tags      map[string]string `json:"tags,omitempty"` // only from CreateIAMUser/GetIAMUser
	// PermissionsBoundary is the ARN of the user's boundary policy, "" for none. Only
	// CreateIAMUser and GetIAMUser know it: IAM's ListUsers does not return boundaries.
	PermissionsBoundary string `json:"permissions_boundary,omitempty"`
}

// AccessKey is an IAM access key. Secret is set only by CreateAccessKey, the one moment
// AWS reveals it; it is excluded from JSON and from log output.
type AccessKey struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Status    string    `json:"status"` // Active | Inactive
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"-"`
}

// LogValue keeps the secret out of any log line that prints a key.
func (k AccessKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("user", k.User), slog.String("status", k.Status))
}

// String keeps the secret out of %v and %s.
func (k AccessKey) String() string {
	return fmt.Sprintf("access key %s of %s (%s)", k.ID, k.User, k.Status)
}

// IsNoSuchEntity reports whether IAM said the named user, key, policy, group or login
// profile does not exist.
func IsNoSuchEntity(err error) bool { return Code(err) == "NoSuchEntity" }

// IsEntityAlreadyExists reports whether IAM refused to create something that exists.
func IsEntityAlreadyExists(err error) bool { return Code(err) == "EntityAlreadyExists" }

// iamPager is what the SDK's IAM list paginators offer.
type iamPager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*iam.Options)) (O, error)
}

// collect reads every page of p and returns the items of all of them; items picks a
// page's items.
func collect[O, T any](ctx context.Context, p iamPager[O], items func(O) []T) ([]T, error) {
	var out []T
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, items(pg)...)
	}
	return out, nil
}

// deleted finishes an IAM deletion: "no such entity" counts as done, so revocation can be
// repeated; any other error is wrapped with what was being deleted; success is logged as
// msg with attrs.
func (c *Client) deleted(err error, what, msg string, attrs ...any) error {
	if err != nil && !IsNoSuchEntity(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	c.logger.Info(msg, attrs...)
	return nil
}

// iamClient builds an IAM client on the shared configuration. Clients are cheap and IAM
// calls rare, so none is cached.
func (c *Client) iamClient() *iam.Client {
	return iam.NewFromConfig(c.AWSConfig(), func(o *iam.Options) { o.Region = iamRegion })
}

// pick returns field(x) of every x in items, as strings.
func pick[X any](items []X, field func(X) *string) []string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = aws.ToString(field(x))
	}
	return out
}

func iamUser(u *iamtypes.User) IAMUser {
	out := IAMUser{
		Name:      aws.ToString(u.UserName),
		Path:      aws.ToString(u.Path),
		ID:        aws.ToString(u.UserId),
		ARN:       aws.ToString(u.Arn),
		CreatedAt: aws.ToTime(u.CreateDate).UTC(),
	}
	if pb := u.PermissionsBoundary; pb != nil {
		out.PermissionsBoundary = aws.ToString(pb.PermissionsBoundaryArn)
	}
	if len(u.Tags) > 0 {
		out.Tags = map[string]string{}
		for _, t := range u.Tags {
			out.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return out
}

// CreateIAMUser creates an IAM user under path with tags and, unless boundary is "", that
// managed policy as its permissions boundary. Setting the boundary in the same call means
// the user never exists without it, which is what lets the daemon's own IAM policy allow
// CreateUser only with the boundary.
func (c *Client) CreateIAMUser(ctx context.Context, name, path, boundary string, tags map[string]string) (IAMUser, error) {
	in := &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path)}
	if boundary != "" {
		in.PermissionsBoundary = aws.String(boundary)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	out, err := c.iamClient().CreateUser(ctx, in)
	if err != nil {
		return IAMUser{}, fmt.Errorf("create iam user %s: %w", name, err)
	}
	c.logger.Info("iam user created", slog.String(logKeyIAMUser, name), slog.String(logKeyBoundary, boundary))
	return iamUser(out.User), nil
}

// PutIAMUserPermissionsBoundary sets (or replaces) a user's permissions boundary.
func (c *Client) PutIAMUserPermissionsBoundary(ctx context.Context, user, boundary string) error {
	_, err := c.iamClient().PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{
		UserName: aws.String(user), PermissionsBoundary: aws.String(boundary)})
	if err != nil {
		return fmt.Errorf("put permissions boundary %s on iam user %s: %w", boundary, user, err)
	}
	c.logger.Info("iam user permissions boundary set", slog.String(logKeyIAMUser, user), slog.String(logKeyBoundary, boundary))
	return nil
}

// GetIAMUser looks up one user; found is false (and err nil) when it does not exist.
func (c *Client) GetIAMUser(ctx context.Context, name string) (u IAMUser, found bool, err error) {
	out, err := c.iamClient().GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if IsNoSuchEntity(err) {
		return IAMUser{}, false, nil
	}
	if err != nil {
		return IAMUser{}, false, fmt.Errorf("get iam user %s: %w", name, err)
	}
	return iamUser(out.User), true, nil
}

// ListIAMUsers lists every user whose path starts with pathPrefix, all pages.
func (c *Client) ListIAMUsers(ctx context.Context, pathPrefix string) ([]IAMUser, error) {
	p := iam.NewListUsersPaginator(c.iamClient(), &iam.ListUsersInput{PathPrefix: aws.String(pathPrefix)})
	out, err := collect(ctx, p, func(pg *iam.ListUsersOutput) []IAMUser {
		users := make([]IAMUser, len(pg.Users))
		for i := range pg.Users {
			users[i] = iamUser(&pg.Users[i])
		}
		return users
	})
	if err != nil {
		return nil, fmt.Errorf("list iam users under %s: %w", pathPrefix, err)
	}
	return out, nil
}

// DeleteIAMUser deletes a user that has nothing left attached; deleting one that does not
// exist is not an error, so revocation can be repeated.
func (c *Client) DeleteIAMUser(ctx context.Context, name string) error {
	_, err := c.iamClient().DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
	return c.deleted(err, "delete iam user "+name, "iam user deleted", slog.String(logKeyIAMUser, name))
}

// PutIAMUserPolicy sets (creates or replaces) a user's inline policy.
func (c *Client) PutIAMUserPolicy(ctx context.Context, user, policyName, document string) error {
	_, err := c.iamClient().PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(user), PolicyName: aws.String(policyName), PolicyDocument: aws.String(document)})
	if err != nil {
		return fmt.Errorf("put policy %s on iam user %s: %w", policyName, user, err)
	}
	c.logger.Info("iam user policy set", slog.String(logKeyIAMUser, user), slog.String(logKeyPolicy, policyName))
	return nil
}

// ListIAMUserPolicies lists the names of a user's inline policies.
func (c *Client) ListIAMUserPolicies(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListUserPoliciesPaginator(c.iamClient(), &iam.ListUserPoliciesInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListUserPoliciesOutput) []string { return pg.PolicyNames })
	if err != nil {
		return nil, fmt.Errorf("list policies of iam user %s: %w", user, err)
	}
	return out, nil
}

// DeleteIAMUserPolicy deletes an inline policy; a missing one is not an error.
func (c *Client) DeleteIAMUserPolicy(ctx context.Context, user, policyName string) error {
	_, err := c.iamClient().DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(policyName)})
	return c.deleted(err, fmt.Sprintf("delete policy %s of iam user %s", policyName, user),
		"iam user policy deleted", slog.String(logKeyIAMUser, user), slog.String(logKeyPolicy, policyName))
}

// ListAttachedIAMUserPolicies lists the ARNs of the managed policies attached to a user.
func (c *Client) ListAttachedIAMUserPolicies(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListAttachedUserPoliciesPaginator(c.iamClient(), &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListAttachedUserPoliciesOutput) []string {
		return pick(pg.AttachedPolicies, func(a iamtypes.AttachedPolicy) *string { return a.PolicyArn })
	})
	if err != nil {
		return nil, fmt.Errorf("list attached policies of iam user %s: %w", user, err)
	}
	return out, nil
}

// DetachIAMUserPolicy detaches a managed policy; one not attached is not an error.
func (c *Client) DetachIAMUserPolicy(ctx context.Context, user, policyARN string) error {
	_, err := c.iamClient().DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(policyARN)})
	return c.deleted(err, fmt.Sprintf("detach policy %s from iam user %s", policyARN, user),
		"iam user policy detached", slog.String(logKeyIAMUser, user), slog.String(logKeyPolicy, policyARN))
}

// ListIAMGroupsForUser lists the names of the groups a user belongs to.
func (c *Client) ListIAMGroupsForUser(ctx context.Context, user string) ([]string, error) {
	p := iam.NewListGroupsForUserPaginator(c.iamClient(), &iam.ListGroupsForUserInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListGroupsForUserOutput) []string {
		return pick(pg.Groups, func(g iamtypes.Group) *string { return g.GroupName })
	})
	if err != nil {
		return nil, fmt.Errorf("list groups of iam user %s: %w", user, err)
	}
	return out, nil
}

// RemoveIAMUserFromGroup removes a user from a group; not being a member is not an error.
func (c *Client) RemoveIAMUserFromGroup(ctx context.Context, user, group string) error {
	_, err := c.iamClient().RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String(user), GroupName: aws.String(group)})
	return c.deleted(err, fmt.Sprintf("remove iam user %s from group %s", user, group),
		"iam user removed from group", slog.String(logKeyIAMUser, user), slog.String(logKeyGroup, group))
}

// DeleteIAMLoginProfile deletes a user's console password; having none is not an error.
func (c *Client) DeleteIAMLoginProfile(ctx context.Context, user string) error {
	_, err := c.iamClient().DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(user)})
	if IsNoSuchEntity(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete login profile of iam user %s: %w", user, err)
	}
	c.logger.Info("iam login profile deleted", slog.String(logKeyIAMUser, user))
	return nil
}

// CreateAccessKey creates an access key for user. The result carries the secret: the
// caller hands it over once and keeps no copy.
func (c *Client) CreateAccessKey(ctx context.Context, user string) (AccessKey, error) {
	out, err := c.iamClient().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return AccessKey{}, fmt.Errorf("create access key for iam user %s: %w", user, err)
	}
	k := out.AccessKey
	key := AccessKey{
		ID:        aws.ToString(k.AccessKeyId),
		User:      aws.ToString(k.UserName),
		Status:    string(k.Status),
		CreatedAt: aws.ToTime(k.CreateDate).UTC(),
		Secret:    aws.ToString(k.SecretAccessKey),
	}
	c.logger.Info("iam access key created", slog.String(logKeyIAMUser, user), slog.String(logKeyAccessKeyID, key.ID))
	return key, nil
}

// ListAccessKeys lists a user's access keys (without secrets), oldest first.
func (c *Client) ListAccessKeys(ctx context.Context, user string) ([]AccessKey, error) {
	p := iam.NewListAccessKeysPaginator(c.iamClient(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	out, err := collect(ctx, p, func(pg *iam.ListAccessKeysOutput) []AccessKey {
		keys := make([]AccessKey, len(pg.AccessKeyMetadata))
		for i, k := range pg.AccessKeyMetadata {
			keys[i] = AccessKey{
				ID:        aws.ToString(k.AccessKeyId),
				User:      aws.ToString(k.UserName),
				Status:    string(k.Status),
				CreatedAt: aws.ToTime(k.CreateDate).UTC(),
			}
		}
		return keys
	})
	if err != nil {
		return nil, fmt.Errorf("list access keys of iam user %s: %w", user, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// SetAccessKeyActive activates or deactivates an access key.
func (c *Client) SetAccessKeyActive(ctx context.Context, user, id string, active bool) error {
	st := iamtypes.StatusTypeInactive
	if active {
		st = iamtypes.StatusTypeActive
	}
	_, err := c.iamClient().UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: st})
	if err != nil {
		return fmt.Errorf("set access key %s of iam user %s %s: %w", id, user, st, err)
	}
	c.logger.Info("iam access key status set", slog.String(logKeyIAMUser, user), slog.String(logKeyAccessKeyID, id), slog.String(logKeyOp, string(st)))
	return nil
}

// DeleteAccessKey deletes an access key; a missing one is not an error.
func (c *Client) DeleteAccessKey(ctx context.Context, user, id string) error {
	_, err := c.iamClient().DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	return c.deleted(err, fmt.Sprintf("delete access key %s of iam user %s", id, user),
		"iam access key deleted", slog.String(logKeyIAMUser, user), slog.String(logKeyAccessKeyID, id))
}
