package iamusers

import (
	"context"

	"github.com/tollgate/tollgate/db"
)

// Audit actions written by this package. Detail never holds a secret.
const (
	ActionCreate  = "iam.create"     // identity created
	ActionKey     = "iam.key"        // first access key issued
	ActionRotate  = "iam.key.rotate" // access key replaced
	ActionRevoke  = "iam.revoke"     // identity and everything attached deleted
	ActionRecover = "iam.recover"    // start-up settled a crashed operation
	// ActionBoundary: an identity was found without the configured permissions boundary
	// (removed or changed out of band) and it was put back.
	ActionBoundary = "iam.boundary"
	daemonActor    = "tollgated"
	daemonUID      = -1
)

type actorKey struct{}

type actor struct {
	name string
	uid  int
}

// WithActor records who asked (the peer the broker resolved), for the audit log. Without
// it Issue audits the user it issues for and the rest audit the daemon itself.
func WithActor(ctx context.Context, name string, uid int) context.Context {
	return context.WithValue(ctx, actorKey{}, actor{name, uid})
}

func actorOf(ctx context.Context, fallback string) (string, int) {
	if a, ok := ctx.Value(actorKey{}).(actor); ok {
		return a.name, a.uid
	}
	if fallback != "" {
		return fallback, daemonUID
	}
	return daemonActor, daemonUID
}

// audit appends one entry through q (nil: the database). Failures are logged: the
// cloud action has happened and must not be reported as failed because of the log.
func (s *Service) audit(ctx context.Context, q db.Querier, fallbackActor, action, target, decision, reason string, detail map[string]any) {
	name, uid := actorOf(ctx, fallbackActor)
	err := s.db.AppendAudit(ctx, q, db.AuditEntry{
		At: s.now(), Actor: name, UID: uid, Action: action, Target: target,
		Decision: decision, Reason: reason, Detail: detail,
	})
	if err != nil {
		s.log.Error("audit failed", logErr, err, logUser, target)
	}
}
