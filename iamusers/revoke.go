package iamusers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Revoke deletes user's identity and everything attached to it, including what was added
// directly in the cloud. It returns ErrNotFound when tollgate knows no identity for user
// and none exists under the configured path.
func (s *Service) Revoke(ctx context.Context, user string) error {
	if err := s.needCloud(); err != nil {
		return err
	}
	ident, found, err := s.db.GetIAMIdentity(ctx, nil, user)
	if err != nil {
		return err
	}
	name := ident.IAMUser
	if !found {
		if name, err = s.IAMUserName(user); err != nil {
			return err
		}
	}
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	return s.revokeLocked(ctx, user, name, found)
}

// RevokeResult is the outcome of RevokeAll: the IAM users revoked and, for each one that
// could not be, where it stopped.
type RevokeResult struct {
	Revoked  []string        `json:"revoked"`
	Failures []RevokeFailure `json:"failures"`
}

// RevokeFailure is one IAM user RevokeAll could not revoke: the step that failed and why.
// A later revoke starts over and picks up whatever is left.
type RevokeFailure struct {
	IAMUser string `json:"iam_user"`
	User    string `json:"user,omitempty"` // Unix user, "" when unknown
	Step    string `json:"step"`           // e.g. "list service_credentials", "delete user"
	Err     error  `json:"-"`
}

// Error is the failure as one line: IAM user, step and cause.
func (f RevokeFailure) Error() string {
	return fmt.Sprintf("%s: %s: %v", f.IAMUser, f.Step, f.Err)
}

// Unwrap returns the cause.
func (f RevokeFailure) Unwrap() error { return f.Err }

// Steps of a revocation, as RevokeFailure names them; listing and removing one kind of
// attachment are "list KIND" and "remove KIND" (KIND as in the revoke audit entry).
const (
	StepGetUser            = "get user"
	StepRecord             = "record revoking"
	StepDeleteLoginProfile = "delete login profile"
	StepDeleteUser         = "delete user"
	StepForget             = "delete identity record"
)

// stepError is a revocation error tagged with the step that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// inStep tags a non-nil err with step.
func inStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{step: step, err: err}
}

// RevokeAll revokes every identity tollgate knows and every IAM user under the configured
// path (end of term). One user's failure does not stop the others: each is tried, and
// each that could not be revoked is reported in the result with its failing step. The
// error is only for what stops the run before any user (the database, listing IAM users).
func (s *Service) RevokeAll(ctx context.Context) (RevokeResult, error) {
	res := RevokeResult{Revoked: []string{}, Failures: []RevokeFailure{}}
	if err := s.needCloud(); err != nil {
		return res, err
	}
	idents, err := s.db.ListIAMIdentities(ctx)
	if err != nil {
		return res, err
	}
	users, err := s.cloud.ListIAMUsers(ctx, s.cfg.Path)
	if err != nil {
		return res, err
	}
	type target struct {
		user     string // Unix user, "" when unknown
		recorded bool
	}
	targets := map[string]target{} // by IAM user name
	for _, u := range users {
		unix, _ := s.unixUser(u.Name)
		targets[u.Name] = target{user: unix}
	}
	for _, id := range idents {
		// Recorded identities win: they name the Unix user exactly.
		for n := range targets {
			if strings.EqualFold(n, id.IAMUser) && n != id.IAMUser {
				delete(targets, n)
			}
		}
		targets[id.IAMUser] = target{user: id.User, recorded: true}
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			// Cancelled: what is left is not tried, and says so.
			res.Failures = append(res.Failures, RevokeFailure{IAMUser: n, User: targets[n].user, Step: "start", Err: err})
			continue
		}
		t := targets[n]
		unlock, err := s.lock(ctx, n)
		if err == nil {
			err = s.revokeLocked(ctx, t.user, n, t.recorded)
			unlock()
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			f := RevokeFailure{IAMUser: n, User: t.user, Step: "revoke", Err: err}
			var se *stepError
			if errors.As(err, &se) {
				f.Step, f.Err = se.step, se.err
			}
			s.log.Error("iam identity not revoked", logUser, t.user, logIAMUser, n, logStep, f.Step, logErr, f.Err)
			res.Failures = append(res.Failures, f)
			continue
		}
		res.Revoked = append(res.Revoked, n)
	}
	return res, nil
}

// revokeLocked revokes IAM user name (Unix user user, "" if unknown); recorded says a
// database row exists. The caller holds name's lock.
func (s *Service) revokeLocked(ctx context.Context, user, name string, recorded bool) error {
	target := user
	if target == "" {
		target = name
	}
	u, exists, err := s.cloud.GetIAMUser(ctx, name)
	if err != nil {
		return inStep(StepGetUser, err)
	}
	if exists && !s.ours(u) {
		if !recorded {
			return fmt.Errorf("%w: %s (path %s)", ErrNotFound, name, u.Path)
		}
		// Recorded by us but moved out of our path: we still created it, delete it.
	}
	if !exists && !recorded {
		return fmt.Errorf("%w for %s", ErrNotFound, target)
	}
	if recorded {
		ident, _, err := s.db.GetIAMIdentity(ctx, nil, user)
		if err != nil {
			return inStep(StepRecord, err)
		}
		ident.State, ident.UpdatedAt = db.IAMRevoking, s.now()
		if err := s.db.PutIAMIdentity(ctx, nil, ident); err != nil {
			return inStep(StepRecord, err)
		}
	}
	var detail map[string]any
	if exists {
		if detail, err = s.deleteIAMUser(ctx, name); err != nil {
			s.audit(ctx, nil, "", ActionRevoke, target, db.Failed, err.Error(), map[string]any{"iam_user": name})
			return err
		}
	} else {
		detail = map[string]any{"iam_user": name, "note": "already absent from IAM"}
	}
	err = s.db.Immediate(ctx, func(tx *db.Tx) error {
		if user != "" {
			if err := s.db.DeleteIAMIdentity(ctx, tx, user); err != nil {
				return err
			}
		}
		s.audit(ctx, tx, "", ActionRevoke, target, db.Allowed, "", detail)
		return nil
	})
	if err != nil {
		return inStep(StepForget, err)
	}
	s.log.Info("iam identity revoked", logUser, user, logIAMUser, name)
	return nil
}

// attachment is one kind of thing IAM's DeleteUser refuses to delete a user with
// (DeleteConflict): how to list a user's and how to remove one. detail is its key in the
// revoke audit entry, which lists the removed ids (none of them is a secret).
type attachment struct {
	detail string
	list   func(ctx context.Context, user string) ([]string, error)
	remove func(ctx context.Context, user, id string) error
}

// attachments are the kinds deleteIAMUser removes after the login profile, in order:
// every credential first (access keys, service-specific credentials, SSH public keys,
// signing certificates), so the identity stops working as early as possible; MFA devices
// only once nothing they protect is left; then permissions and group memberships.
func (s *Service) attachments() []attachment {
	c := s.cloud
	return []attachment{
		{"keys", s.accessKeyIDs, c.DeleteAccessKey},
		{"service_credentials", c.ListIAMServiceSpecificCredentials, c.DeleteIAMServiceSpecificCredential},
		{"ssh_public_keys", c.ListIAMSSHPublicKeys, c.DeleteIAMSSHPublicKey},
		{"signing_certificates", c.ListIAMSigningCertificates, c.DeleteIAMSigningCertificate},
		{"mfa_devices", c.ListIAMMFADevices, s.removeMFADevice},
		{"inline_policies", c.ListIAMUserPolicies, c.DeleteIAMUserPolicy},
		{"attached_policies", c.ListAttachedIAMUserPolicies, c.DetachIAMUserPolicy},
		{"groups", c.ListIAMGroupsForUser, c.RemoveIAMUserFromGroup},
	}
}

// accessKeyIDs lists the ids of a user's access keys.
func (s *Service) accessKeyIDs(ctx context.Context, user string) ([]string, error) {
	keys, err := s.cloud.ListAccessKeys(ctx, user)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids, nil
}

// removeMFADevice deactivates an MFA device of user and, if it is a virtual one, deletes
// it (IAM deletes only an unassigned virtual device). A crash between the two calls
// leaves the virtual device unassigned: it no longer belongs to the user, so DeleteUser
// and a repeated revoke are not held back, and it authenticates no one.
func (s *Service) removeMFADevice(ctx context.Context, user, serial string) error {
	if err := s.cloud.DeactivateIAMMFADevice(ctx, user, serial); err != nil {
		return err
	}
	if !cloud.IsVirtualMFASerial(serial) {
		return nil
	}
	return s.cloud.DeleteIAMVirtualMFADevice(ctx, serial)
}

// deleteIAMUser removes the login profile, then every attachment (see attachments), then
// the user: IAM refuses to delete a user with any of them left (DeleteConflict), so
// whatever was added out of band goes too. Each step lists afresh what is left and
// deletions of what is already gone succeed, so after a crash anywhere it can simply run
// again. A listing the endpoint does not implement (an AWS-compatible service, a
// simulator) counts as empty: if something of that kind is left after all, DeleteUser's
// DeleteConflict says so. Errors are tagged with their step (a *stepError).
func (s *Service) deleteIAMUser(ctx context.Context, name string) (map[string]any, error) {
	detail := map[string]any{"iam_user": name}
	if err := s.cloud.DeleteIAMLoginProfile(ctx, name); err != nil {
		return nil, inStep(StepDeleteLoginProfile, err)
	}
	var unlisted []string
	for _, a := range s.attachments() {
		ids, err := a.list(ctx, name)
		if cloud.IsNotImplemented(err) {
			s.log.Warn("iam listing not implemented by the endpoint; counted as empty",
				logIAMUser, name, logStep, "list "+a.detail, logErr, err)
			unlisted = append(unlisted, a.detail)
			ids, err = []string{}, nil
		}
		if err != nil {
			return nil, inStep("list "+a.detail, err)
		}
		for _, id := range ids {
			if err := a.remove(ctx, name, id); err != nil {
				return nil, inStep("remove "+a.detail, err)
			}
		}
		detail[a.detail] = ids
	}
	if len(unlisted) > 0 {
		detail["not_listable"] = unlisted
	}
	if err := s.cloud.DeleteIAMUser(ctx, name); err != nil {
		return nil, inStep(StepDeleteUser, err)
	}
	return detail, nil
}

// rollbackUser deletes an IAM user if it exists under our path (NoSuchEntity anywhere
// means an earlier deletion got there first); it reports whether there was one.
func (s *Service) rollbackUser(ctx context.Context, name string) (bool, error) {
	u, exists, err := s.cloud.GetIAMUser(ctx, name)
	if err != nil || !exists || !s.ours(u) {
		return false, err
	}
	if _, err := s.deleteIAMUser(ctx, name); err != nil && !cloud.IsNoSuchEntity(err) {
		return true, err
	}
	return true, nil
}
