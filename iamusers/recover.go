package iamusers

import (
	"context"
	"errors"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Recover settles what a crashed daemon left half done; the broker runs it at start-up
// before serving. An identity still 'creating' is rolled back (its owner never got a key),
// one 'revoking' is revoked to the end, and every key intent loses the key it created
// (whose secret nobody received) while the keys that existed before get their status
// back. It is idempotent: a failure leaves the records for the next start.
func (s *Service) Recover(ctx context.Context) error {
	idents, err := s.db.ListIAMIdentities(ctx)
	if err != nil {
		return err
	}
	intents, err := s.db.ListIAMKeyIntents(ctx)
	if err != nil {
		return err
	}
	pending := len(intents)
	for _, r := range idents {
		if r.State != db.IAMActive {
			pending++
		}
	}
	if pending == 0 {
		return nil
	}
	if s.cloud == nil {
		s.log.Warn("IAM intents left by a crash cannot be settled without IAM", "count", pending)
		return nil
	}
	var errs []error
	for _, in := range intents {
		if err := s.recoverKey(ctx, in); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range idents {
		var err error
		switch r.State {
		case db.IAMCreating:
			err = s.recoverCreating(ctx, r)
		case db.IAMRevoking:
			var unlock func()
			if unlock, err = s.lock(ctx, r.IAMUser); err == nil {
				err = s.revokeLocked(ctx, r.User, r.IAMUser, true)
				unlock()
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) recoverKey(ctx context.Context, in db.IAMKeyIntent) error {
	unlock, err := s.lock(ctx, in.IAMUser)
	if err != nil {
		return err
	}
	defer unlock()
	keys, err := s.cloud.ListAccessKeys(ctx, in.IAMUser)
	if err != nil && !cloud.IsNoSuchEntity(err) {
		return err
	}
	prior := map[string]string{}
	for _, k := range in.PriorKeys {
		prior[k.ID] = k.Status
	}
	var deleted, restored []string
	for _, k := range keys {
		status, known := prior[k.ID]
		switch {
		case !known:
			if err := s.cloud.DeleteAccessKey(ctx, in.IAMUser, k.ID); err != nil {
				return err
			}
			deleted = append(deleted, k.ID)
		case status == "Active" && k.Status != "Active":
			if err := s.cloud.SetAccessKeyActive(ctx, in.IAMUser, k.ID, true); err != nil {
				return err
			}
			restored = append(restored, k.ID)
		}
	}
	if err := s.db.DeleteIAMKeyIntent(ctx, nil, in.ID); err != nil {
		return err
	}
	s.log.Warn("recovered an access key issue interrupted by a crash", logUser, in.User, logIAMUser, in.IAMUser,
		logDeleted, deleted, logRestored, restored)
	s.audit(ctx, nil, daemonActor, ActionRecover, in.User, db.Done, "access key issue interrupted; unissued key deleted",
		map[string]any{"iam_user": in.IAMUser, "deleted_keys": deleted, "restored_keys": restored})
	return nil
}

func (s *Service) recoverCreating(ctx context.Context, r db.IAMIdentity) error {
	unlock, err := s.lock(ctx, r.IAMUser)
	if err != nil {
		return err
	}
	defer unlock()
	existed, err := s.rollbackUser(ctx, r.IAMUser)
	if err != nil {
		return err
	}
	if err := s.db.DeleteIAMIdentity(ctx, nil, r.User); err != nil {
		return err
	}
	s.log.Warn("rolled back an identity creation interrupted by a crash", logUser, r.User, logIAMUser, r.IAMUser, logState, r.State)
	s.audit(ctx, nil, daemonActor, ActionRecover, r.User, db.Done, "identity creation interrupted; rolled back",
		map[string]any{"iam_user": r.IAMUser, "iam_user_existed": existed})
	return nil
}
