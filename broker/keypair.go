package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// imageTTL bounds how long an image lookup is reused: launches in a burst share one
// DescribeImages call instead of each spending the account's API rate.
const imageTTL = 5 * time.Minute

// maxImages bounds the image cache.
const maxImages = 1024

// keyLock serialises keypair imports per user and region: two concurrent launches must
// not both import (the second would fail as a duplicate).
func (d *Daemon) keyLock(user, region string) *sync.Mutex {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	k := user + "\x00" + region
	m, ok := d.keyLocks[k]
	if !ok {
		m = &sync.Mutex{}
		d.keyLocks[k] = m
	}
	return m
}

// ensureKeyPair makes sure the user's current SSH public key exists as the keypair named
// after the user in region (the product contract: users find their keypair by their own
// name), importing it lazily the first time, tagged tollgate:owner=<user>, and
// re-importing (delete, import) when the user has uploaded a new key since.
//
// It never deletes a keypair of that name that tollgate did not import for this user
// (no tollgate:owner tag naming them): other tooling's keypair ("deploy", "ubuntu", ...)
// must not be replaced by a user's key. Such a conflict refuses the launch with a
// *Error naming the keypair, for an admin to settle. key is the one admission read.
func (d *Daemon) ensureKeyPair(ctx context.Context, user, region string, key db.SSHKey) error {
	m := d.keyLock(user, region)
	m.Lock()
	defer m.Unlock()
	fp, ok, err := d.db.KeyImport(ctx, user, region)
	if err != nil {
		return err
	}
	if ok && fp == key.Fingerprint {
		return nil
	}
	kp, exists, err := d.cloud.DescribeKeyPairTagged(ctx, region, user)
	if err != nil {
		return fmt.Errorf("describe keypair %s in %s: %w", user, region, err)
	}
	if exists {
		if kp.Tags[cloud.TagOwner] != user {
			d.log.Warn("keypair name taken by a keypair tollgate did not import", logUser, user, logRegion, region)
			return &api.Error{Code: api.CodeConflict,
				Message: fmt.Sprintf("an EC2 keypair named %q already exists in %s and was not imported by tollgate for %s: tollgate will not replace it", user, region, user),
				Hint:    fmt.Sprintf("ask a tollgate admin: the keypair %s in %s (%s) belongs to something else; an admin must rename or delete it, or tag it %s=%s if it is really yours", user, region, kp.ID, cloud.TagOwner, user)}
		}
		if err := d.cloud.DeleteKeyPair(ctx, region, user); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete stale keypair %s in %s: %w", user, region, err)
		}
	}
	if _, err := d.cloud.ImportKeyPairTagged(ctx, region, user, []byte(key.PublicKey), map[string]string{cloud.TagOwner: user}); err != nil {
		return fmt.Errorf("import keypair %s in %s: %w", user, region, err)
	}
	if err := d.db.PutKeyImport(ctx, user, region, key.Fingerprint, d.now()); err != nil {
		return err
	}
	d.log.Info("keypair imported", logUser, user, logRegion, region)
	return nil
}

// resolveImage finds an image by ami id or exact name in region among the images of
// owners (policy image_owners), so name patterns in policy can be checked against the
// image's real name and a look-alike published by anyone else is never found.
func (d *Daemon) resolveImage(ctx context.Context, region, image string, owners []string) (cloud.Image, error) {
	k := region + "\x00" + image + "\x00" + strings.Join(owners, ",")
	now := d.now()
	if img, ok := d.images.get(k, now); ok {
		return img, nil
	}
	var ids, names []string
	if strings.HasPrefix(image, "ami-") {
		if !quota.IsAMIID(image) {
			return cloud.Image{}, &api.Error{Code: api.CodeInvalidRequest,
				Message: fmt.Sprintf("image %s is not an ami id (ami- and 8 or 17 hex digits)", quoteInput(image))}
		}
		ids = []string{image}
	} else {
		if strings.ContainsAny(image, "*?[") {
			return cloud.Image{}, &api.Error{Code: api.CodeInvalidRequest,
				Message: fmt.Sprintf("image %s is a pattern: give an ami id or an exact image name", quoteInput(image))}
		}
		names = []string{image}
	}
	imgs, err := d.cloud.DescribeImagesOwned(ctx, region, owners, ids, names)
	if err != nil && !isNotFound(err) {
		return cloud.Image{}, &api.Error{Code: api.CodeCloudError, Message: fmt.Sprintf("look up image %s in %s: %v", image, region, err)}
	}
	var found []cloud.Image
	for _, im := range imgs {
		if im.ID == image || im.Name == image {
			found = append(found, im)
		}
	}
	switch len(found) {
	case 0:
		return cloud.Image{}, &api.Error{Code: api.CodeInvalidRequest,
			Message: fmt.Sprintf("image %s does not exist in %s among the images of %s (image_owners)", quoteInput(image), region, strings.Join(owners, ", "))}
	case 1:
	default:
		return cloud.Image{}, &api.Error{Code: api.CodeInvalidRequest,
			Message: fmt.Sprintf("image name %s is ambiguous in %s (%d images): give its ami id", quoteInput(image), region, len(found))}
	}
	d.images.put(k, found[0], now)
	return found[0], nil
}
