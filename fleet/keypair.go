package fleet

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/cloud"
)

// ensureKeyPair makes sure kp's public key exists as the keypair kp.Name in region,
// importing it lazily the first time, tagged tollgate:owner=<owner>, and re-importing
// (delete, import) when the key has changed since (the fingerprint differs from the one
// recorded at the last import).
//
// It never deletes a keypair of that name that tollgate did not import for this owner
// (no tollgate:owner tag naming them): other tooling's keypair ("deploy", "ubuntu", ...)
// must not be replaced. Such a conflict refuses the launch with a conflict error naming
// the keypair, for an admin to settle.
func (f *Fleet) ensureKeyPair(ctx context.Context, kp KeyPair, owner, region string) error {
	if kp.Owner != "" {
		owner = kp.Owner
	}
	// One import of a keypair at a time, on every host: two concurrent launches must not
	// both import (the second would fail as a duplicate).
	unlock, err := f.db.Lock(ctx, "keypair:"+kp.Name+"\x00"+region)
	if err != nil {
		return err
	}
	defer unlock()
	fp, ok, err := f.db.KeyImport(ctx, kp.Name, region)
	if err != nil {
		return err
	}
	if ok && fp == kp.Fingerprint {
		return nil
	}
	existing, exists, err := f.cloud.DescribeKeyPairTagged(ctx, region, kp.Name)
	if err != nil {
		return fmt.Errorf("describe keypair %s in %s: %w", kp.Name, region, err)
	}
	if exists {
		if existing.Tags[cloud.TagOwner] != owner {
			f.log.Warn("keypair name taken by a keypair tollgate did not import", logUser, owner, logRegion, region)
			return tollgate.Errorf(tollgate.CodeConflict,
				"an EC2 keypair named %q already exists in %s and was not imported by tollgate for %s: tollgate will not replace it",
				kp.Name, region, owner).
				WithHint(fmt.Sprintf("ask a tollgate admin: the keypair %s in %s (%s) belongs to something else; an admin must rename or delete it, or tag it %s=%s if it is really yours",
					kp.Name, region, existing.ID, cloud.TagOwner, owner))
		}
		if err := f.cloud.DeleteKeyPair(ctx, region, kp.Name); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete stale keypair %s in %s: %w", kp.Name, region, err)
		}
	}
	if _, err := f.cloud.ImportKeyPairTagged(ctx, region, kp.Name, []byte(kp.PublicKey), map[string]string{cloud.TagOwner: owner}); err != nil {
		return fmt.Errorf("import keypair %s in %s: %w", kp.Name, region, err)
	}
	if err := f.db.PutKeyImport(ctx, kp.Name, region, kp.Fingerprint, f.now()); err != nil {
		return err
	}
	f.log.Info("keypair imported", logUser, owner, logRegion, region)
	return nil
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
