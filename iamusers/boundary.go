package iamusers

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// checkBoundary makes sure an existing identity carries the configured permissions
// boundary before anything is put on it or a key is issued. IAM's ListUsers does not
// return boundaries, so it costs one GetUser per Issue, and nothing without a boundary
// configured. exists is false when the IAM user is gone (deleted out of band), which the
// caller answers by recreating the identity.
func (s *Service) checkBoundary(ctx context.Context, user, name string) (exists bool, err error) {
	if s.cfg.PermissionsBoundary == "" {
		return true, nil
	}
	u, found, err := s.cloud.GetIAMUser(ctx, name)
	if err != nil {
		return true, err // not known to be gone: the caller fails rather than recreates
	}
	if !found {
		return false, nil
	}
	if !s.ours(u) {
		return true, fmt.Errorf("%w: %s (path %s, want %s)", ErrNotOurs, name, u.Path, s.cfg.Path)
	}
	return true, s.ensureBoundary(ctx, user, u)
}

// ensureBoundary puts the configured boundary on u if it has another or none, and
// audits that: a boundary that went away is a change someone made behind tollgate's back.
func (s *Service) ensureBoundary(ctx context.Context, user string, u cloud.IAMUser) error {
	want := s.cfg.PermissionsBoundary
	if want == "" || u.PermissionsBoundary == want {
		return nil
	}
	if err := s.cloud.PutIAMUserPermissionsBoundary(ctx, u.Name, want); err != nil {
		return err
	}
	s.log.Warn("iam user had another permissions boundary or none; restored",
		logUser, user, logIAMUser, u.Name, logBoundary, want, logPrevious, u.PermissionsBoundary)
	s.audit(ctx, nil, user, ActionBoundary, user, db.Allowed, "permissions boundary restored",
		map[string]any{"iam_user": u.Name, "permissions_boundary": want, "previous": u.PermissionsBoundary})
	return nil
}
