package iamusers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Propagation polling: first pause and the cap of its doubling.
const (
	firstPoll = 500 * time.Millisecond
	maxPoll   = 5 * time.Second
)

// Issue returns a new access key for user, creating the identity if missing. Without
// rotate it refuses (ErrHasKey) when the user already has a key, since the secret of an
// existing key cannot be shown again; with rotate the new key replaces every old one.
// The secret is in the result only: it is never stored, logged or audited.
func (s *Service) Issue(ctx context.Context, user string, rotate bool) (Credentials, error) {
	if err := s.needCloud(); err != nil {
		return Credentials{}, err
	}
	name, err := s.IAMUserName(user)
	if err != nil {
		return Credentials{}, err
	}
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return Credentials{}, err
	}
	defer unlock()
	creds, err := s.issue(ctx, user, name, rotate)
	if err != nil {
		action := ActionKey
		if rotate {
			action = ActionRotate
		}
		decision := db.Failed
		if errors.Is(err, ErrHasKey) || errors.Is(err, ErrNotOurs) {
			decision = db.Refused
		}
		s.audit(ctx, nil, user, action, user, decision, err.Error(), map[string]any{"iam_user": name})
	}
	return creds, err
}

func (s *Service) issue(ctx context.Context, user, name string, rotate bool) (Credentials, error) {
	ident, err := s.ensureIdentity(ctx, user, name)
	if err != nil {
		return Credentials{}, err
	}
	keys, err := s.cloud.ListAccessKeys(ctx, name)
	if cloud.IsNoSuchEntity(err) {
		// Deleted out of band since we recorded it: create it again.
		s.log.Warn("iam user missing; recreating", logUser, user, logIAMUser, name)
		if ident, err = s.createIdentity(ctx, user, name); err != nil {
			return Credentials{}, err
		}
		keys, err = s.cloud.ListAccessKeys(ctx, name)
	}
	if err != nil {
		return Credentials{}, err
	}
	if len(keys) > 0 && !rotate {
		return Credentials{}, fmt.Errorf("%w for %s (%s)", ErrHasKey, name, keys[len(keys)-1].ID)
	}
	// IAM allows two keys: make room by deleting the oldest inactive key, else the oldest.
	if len(keys) >= 2 {
		victim := 0
		for i, k := range keys {
			if k.Status != "Active" {
				victim = i
				break
			}
		}
		if err := s.retireKey(ctx, name, keys[victim]); err != nil {
			return Credentials{}, err
		}
		keys = append(keys[:victim:victim], keys[victim+1:]...)
	}

	// Write-ahead: the keys that exist now, so after a crash any other key is the orphan.
	intent := db.IAMKeyIntent{User: user, IAMUser: name, Rotate: rotate, CreatedAt: s.now()}
	for _, k := range keys {
		intent.PriorKeys = append(intent.PriorKeys, db.IAMKey{ID: k.ID, Status: k.Status})
	}
	intentID, err := s.db.InsertIAMKeyIntent(ctx, nil, intent)
	if err != nil {
		return Credentials{}, err
	}
	key, err := s.cloud.CreateAccessKey(ctx, name)
	if err != nil {
		_ = s.db.DeleteIAMKeyIntent(ctx, nil, intentID)
		return Credentials{}, err
	}
	if h := s.hooks.AfterCreateAccessKey; h != nil {
		if err := h(name, key.ID); err != nil {
			return Credentials{}, err
		}
	}
	if err := s.db.SetIAMKeyIntentKey(ctx, intentID, key.ID); err != nil {
		return Credentials{}, s.abandonKey(ctx, intentID, name, key.ID, err)
	}
	if err := s.waitPropagation(ctx, name, key); err != nil {
		return Credentials{}, s.abandonKey(ctx, intentID, name, key.ID, err)
	}
	// The new key works: retire the old ones (deactivate, then delete). A failure here
	// leaves an old key that List shows and the next rotation removes; the new key stands.
	var retired []string
	for _, k := range keys {
		if err := s.retireKey(ctx, name, k); err != nil {
			s.log.Warn("old access key not removed", logIAMUser, name, logKeyID, k.ID, logErr, err)
			continue
		}
		retired = append(retired, k.ID)
	}
	now := s.now()
	action, detail := ActionKey, map[string]any{"iam_user": name, "access_key_id": key.ID}
	if rotate {
		action = ActionRotate
		ident.LastRotated = now
		detail["retired_keys"] = retired
	}
	ident.UpdatedAt = now
	err = s.db.Immediate(ctx, func(tx *db.Tx) error {
		if err := s.db.PutIAMIdentity(ctx, tx, ident); err != nil {
			return err
		}
		if err := s.db.DeleteIAMKeyIntent(ctx, tx, intentID); err != nil {
			return err
		}
		s.audit(ctx, tx, user, action, user, db.Allowed, "", detail)
		return nil
	})
	if err != nil {
		return Credentials{}, s.abandonKey(ctx, intentID, name, key.ID, err)
	}
	s.log.Info("access key issued", logUser, user, logIAMUser, name, logKeyID, key.ID)
	return Credentials{
		User: user, IAMUser: name, AccessKeyID: key.ID, SecretAccessKey: key.Secret,
		Region: s.region, CreatedAt: key.CreatedAt,
	}, nil
}

// abandonKey deletes a key whose secret will not reach its owner, then its intent; if the
// deletion fails the intent stays for Recover. It returns cause.
func (s *Service) abandonKey(ctx context.Context, intentID int64, name, keyID string, cause error) error {
	if err := s.cloud.DeleteAccessKey(context.WithoutCancel(ctx), name, keyID); err != nil {
		s.log.Error("abandoned access key not deleted; start-up recovery will retry", logIAMUser, name, logKeyID, keyID, logErr, err)
		return cause
	}
	if err := s.db.DeleteIAMKeyIntent(context.WithoutCancel(ctx), nil, intentID); err != nil {
		s.log.Error("key intent not cleared", logIAMUser, name, logErr, err)
	}
	return cause
}

// retireKey deactivates then deletes a key, so a key that cannot be deleted is at least
// unusable.
func (s *Service) retireKey(ctx context.Context, name string, k cloud.AccessKey) error {
	if k.Status == "Active" {
		if err := s.cloud.SetAccessKeyActive(ctx, name, k.ID, false); err != nil && !cloud.IsNoSuchEntity(err) {
			return err
		}
	}
	return s.cloud.DeleteAccessKey(ctx, name, k.ID)
}

// waitPropagation polls STS with the new key until it is accepted (IAM is eventually
// consistent), for at most the configured timeout measured on the injected clock.
func (s *Service) waitPropagation(ctx context.Context, name string, key cloud.AccessKey) error {
	start := s.now()
	pause := firstPoll
	for attempt := 1; ; attempt++ {
		_, err := s.cloud.CallerIdentityOf(ctx, key.ID, key.Secret)
		elapsed := s.now().Sub(start)
		if err == nil {
			if attempt > 1 {
				s.log.Info("access key propagated", logIAMUser, name, logKeyID, key.ID, logAttempt, attempt, logElapsed, elapsed)
			}
			return nil
		}
		if !cloud.IsInvalidClientToken(err) {
			return fmt.Errorf("check new key of %s: %w", name, err)
		}
		if elapsed >= s.timeout {
			return fmt.Errorf("%w (%s waited, %d checks)", ErrPropagation, elapsed.Round(time.Second), attempt)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "waiting for IAM to propagate the new key",
			slog.String(logIAMUser, name), slog.String(logKeyID, key.ID), slog.Int(logAttempt, attempt), slog.Duration(logElapsed, elapsed))
		if err := s.sleep(ctx, min(pause, s.timeout-elapsed)); err != nil {
			return err
		}
		pause = min(2*pause, maxPoll)
	}
}

// ensureIdentity returns user's active identity with the configured policy, creating it
// if needed.
func (s *Service) ensureIdentity(ctx context.Context, user, name string) (db.IAMIdentity, error) {
	ident, found, err := s.db.GetIAMIdentity(ctx, nil, user)
	if err != nil {
		return db.IAMIdentity{}, err
	}
	if found && ident.State == db.IAMActive && ident.IAMUser == name {
		// Re-applying the boundary and the policy keeps every identity on the configured
		// ones, whatever was changed out of band. The boundary comes first: the daemon's
		// IAM policy allows PutUserPolicy only on a user that has it.
		exists, err := s.checkBoundary(ctx, user, name)
		if exists && err == nil {
			err = s.cloud.PutIAMUserPolicy(ctx, name, s.cfg.PolicyName, s.policyFor(user, name))
		}
		if exists && !cloud.IsNoSuchEntity(err) {
			return ident, err
		}
		s.log.Warn("iam user missing; recreating", logUser, user, logIAMUser, name)
		return s.createIdentity(ctx, user, name)
	}
	if found && (ident.State == db.IAMRevoking || ident.IAMUser != name) {
		// A revocation that did not finish, or a pattern changed since: finish with the
		// old identity before making the new one.
		if err := s.revokeLocked(ctx, user, ident.IAMUser, true); err != nil {
			return db.IAMIdentity{}, err
		}
	}
	return s.createIdentity(ctx, user, name)
}

// createIdentity records the intent, creates the IAM user with its inline policy and
// marks the identity active. An IAM user of that name under our path (a crashed
// attempt) is adopted; one elsewhere is not ours.
func (s *Service) createIdentity(ctx context.Context, user, name string) (db.IAMIdentity, error) {
	now := s.now()
	ident := db.IAMIdentity{User: user, IAMUser: name, State: db.IAMCreating, CreatedAt: now, UpdatedAt: now}
	if err := s.db.PutIAMIdentity(ctx, nil, ident); err != nil {
		return db.IAMIdentity{}, err
	}
	u, err := s.cloud.CreateIAMUser(ctx, name, s.cfg.Path, s.cfg.PermissionsBoundary, map[string]string{cloud.TagOwner: user})
	if cloud.IsEntityAlreadyExists(err) {
		var found bool
		u, found, err = s.cloud.GetIAMUser(ctx, name)
		if err == nil && (!found || !s.ours(u)) {
			_ = s.db.DeleteIAMIdentity(ctx, nil, user)
			return db.IAMIdentity{}, fmt.Errorf("%w: %s (path %s, want %s)", ErrNotOurs, name, u.Path, s.cfg.Path)
		}
		if err == nil {
			// Adopted from a crashed attempt or made by hand: it may lack the boundary.
			err = s.ensureBoundary(ctx, user, u)
		}
	}
	if err != nil {
		return db.IAMIdentity{}, err
	}
	if h := s.hooks.AfterCreateUser; h != nil {
		if err := h(name); err != nil {
			return db.IAMIdentity{}, err
		}
	}
	if err := s.cloud.PutIAMUserPolicy(ctx, name, s.cfg.PolicyName, s.policyFor(user, name)); err != nil {
		return db.IAMIdentity{}, err
	}
	ident.ARN, ident.State, ident.UpdatedAt = u.ARN, db.IAMActive, s.now()
	if !u.CreatedAt.IsZero() {
		ident.CreatedAt = u.CreatedAt
	}
	err = s.db.Immediate(ctx, func(tx *db.Tx) error {
		if err := s.db.PutIAMIdentity(ctx, tx, ident); err != nil {
			return err
		}
		detail := map[string]any{"iam_user": name, "arn": u.ARN, "policy": s.cfg.PolicyName}
		if s.cfg.PermissionsBoundary != "" {
			detail["permissions_boundary"] = s.cfg.PermissionsBoundary
		}
		s.audit(ctx, tx, user, ActionCreate, user, db.Allowed, "", detail)
		return nil
	})
	if err != nil {
		return db.IAMIdentity{}, err
	}
	s.log.Info("iam identity created", logUser, user, logIAMUser, name)
	return ident, nil
}
