package broker

import (
	"context"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/db"
)

// audit appends an entry for c's request through q (an open transaction, so a decision
// and its entry commit together; nil for the database), with the one audit writer. With
// q nil a failure is logged rather than returned: the request's outcome is already
// decided. detail must never hold a secret. A nil c is the daemon's reconcile.
func (d *Daemon) audit(ctx context.Context, q db.Querier, c *caller, action, target, decision, reason string, detail map[string]any) error {
	return d.auditor.Record(ctx, q, c.actor(), audit.Entry{Action: action, Target: target,
		Decision: decision, Reason: reason, Detail: detail})
}

// actor is who c is for the audit log and the fleet: the user by uid (and name, when
// NSS knows one).
func (c *caller) actor() tollgate.Actor {
	if c == nil {
		return tollgate.SystemActor(tollgate.SysReconcile)
	}
	return tollgate.UserActor(c.UID, c.Name)
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
