package iamusers

// PLACEHOLDER written by the lead so dependants compile; the IAM engineer replaces this
// file's bodies (keeping the signatures).

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
)

var errTODO = errors.New("iamusers: not implemented yet")

// Options wires a Service. Cloud is an interface this package declares (IAM + STS calls).
type Options struct {
	DB     *db.DB
	Cloud  Cloud
	Config config.IAM
	Region string // written to the user's ~/.aws/config
	Logger *slog.Logger
	Now    func() time.Time
}

// Cloud is what iamusers needs of IAM and STS.
type Cloud interface{}

// Service manages identities.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) (*Service, error) { return &Service{opts: opts}, nil }

// Issue returns a new access key for user, creating the identity if missing; with rotate
// the old key is replaced. actor is who asked (for the audit).
func (s *Service) Issue(ctx context.Context, user string, rotate bool) (Credentials, error) {
	return Credentials{}, errTODO
}

// List lists identities.
func (s *Service) List(ctx context.Context) ([]Identity, error) { return nil, errTODO }

// Revoke deletes user's identity and everything attached to it.
func (s *Service) Revoke(ctx context.Context, user string) error { return errTODO }

// RevokeAll revokes every identity under the configured path; returns the IAM user names.
func (s *Service) RevokeAll(ctx context.Context) ([]string, error) { return nil, errTODO }

// Recover settles intents left by a crash (rolls back or completes); run at start-up.
func (s *Service) Recover(ctx context.Context) error { return nil }
