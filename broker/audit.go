package broker

import (
	"context"
	"strings"

	"github.com/tollgate/tollgate/db"
)

// audit appends an entry for c's request through q (an open transaction, so a decision
// and its entry commit together; nil for the database). With q nil a failure is logged
// rather than returned: the request's outcome is already decided. detail must never hold
// a secret.
func (d *Daemon) audit(ctx context.Context, q db.Querier, c *caller, action, target, decision, reason string, detail map[string]any) error {
	e := db.AuditEntry{Actor: actorName(c), UID: -1, Action: action, Target: target,
		Decision: decision, Reason: reason, Detail: detail}
	if c != nil {
		e.UID = c.UID
	}
	if q != nil {
		return d.db.AppendAudit(ctx, q, e)
	}
	if err := d.db.AppendAudit(context.WithoutCancel(ctx), nil, e); err != nil {
		d.log.Error("audit entry lost", "action", action, logErr, err)
		return err
	}
	return nil
}

// actorName is who the audit log names: the user, the uid of an unnamed peer, or the
// daemon itself for what it does on its own (reconcile).
func actorName(c *caller) string {
	switch {
	case c == nil:
		return "tollgated"
	case c.Name != "":
		return c.Name
	default:
		return "uid:" + itoa(c.UID)
	}
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
