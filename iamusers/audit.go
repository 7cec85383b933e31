package iamusers

import (
	"context"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/db"
)

// Audit actions written by this package (defined with every other in package audit).
// Detail never holds a secret.
const (
	ActionCreate   = audit.IAMCreate
	ActionKey      = audit.IAMKey
	ActionRotate   = audit.IAMRotate
	ActionRevoke   = audit.IAMRevoke
	ActionRecover  = audit.IAMRecover
	ActionBoundary = audit.IAMBoundary
	// daemonActor, as an audit fallback, means the daemon's IAM subsystem.
	daemonActor = tollgate.DaemonActorName
)

type actorKey struct{}

// WithActor records who asked (the peer the broker resolved), for the audit log. Without
// it Issue audits the user it issues for and the rest audit the daemon itself.
func WithActor(ctx context.Context, a tollgate.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorOf(ctx context.Context, fallback string) tollgate.Actor {
	if a, ok := ctx.Value(actorKey{}).(tollgate.Actor); ok {
		return a
	}
	if fallback != "" && fallback != daemonActor {
		return tollgate.Actor{UID: -1, Name: fallback}
	}
	return tollgate.SystemActor(tollgate.SysIAM)
}

// audit appends one entry through q (nil: the database) with the one audit writer.
// Failures are logged: the cloud action has happened and must not be reported as failed
// because of the log.
func (s *Service) audit(ctx context.Context, q db.Querier, fallbackActor, action, target, decision, reason string, detail map[string]any) {
	w := audit.Writer{DB: s.db, Log: s.log, Now: s.now}
	if err := w.Record(ctx, q, actorOf(ctx, fallbackActor), audit.Entry{Action: action, Target: target,
		Decision: decision, Reason: reason, Detail: detail}); err != nil && q != nil {
		s.log.Error("audit failed", logErr, err, logUser, target)
	}
}
