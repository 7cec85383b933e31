// Package audit is the one writer of tollgate's audit log: every decision, refusal and
// action the daemon takes, by whom (a tollgate.Actor) and on what. The log itself is an
// append-only table in db; this package names the actions and fills each entry the same
// way for the broker, the launcher, enforcement and IAM identities.
package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
)

// Decisions.
const (
	Allowed = db.Allowed // a request that was carried out (or is being)
	Refused = db.Refused // a request refused by policy, ownership or validation
	Failed  = db.Failed  // a request allowed but failed in the cloud
	Done    = db.Done    // an action the daemon took by itself
)

// Actions. Scripts filter on them: the list is append-only. Stop, start and terminate
// take a prefix naming who decided (see ActionOf).
const (
	Launch          = "launch"           // a launch (refused, carried out, failed)
	LaunchAdmit     = "launch.admit"     // admission wrote the launch's intent
	Stop            = "stop"             // a user's stop
	Start           = "start"            // a user's start
	Terminate       = "terminate"        // a user's terminate
	Extend          = "extend"           // a lease extension
	ReconcileRun    = "reconcile"        // an admin's reconcile request
	ReconcileLaunch = "reconcile.launch" // reconcile settled a requested launch
	ReconcileAdopt  = "reconcile.adopt"  // reconcile adopted a tagged instance
	ReconcileAction = "reconcile.action" // reconcile settled an interrupted action
	KeysSSH         = "keys.ssh"         // an SSH public key uploaded
	KeysAWS         = "keys.aws"         // an IAM access key issued or rotated for its owner
	Collect         = "collect"          // an admin's collector run
	UsersAdd        = "users.add"        // users enrolled one by one
	UsersImport     = "users.import"     // a roster imported
	UsersSet        = "users.set"        // a user's policy override changed
	UsersDisable    = "users.disable"    // a user disabled
	UsersEnable     = "users.enable"     // a disabled user re-enabled
	UsersRemove     = "users.rm"         // a user removed

	IAMCreate  = "iam.create"     // identity created
	IAMKey     = "iam.key"        // first access key issued
	IAMRotate  = "iam.key.rotate" // access key replaced
	IAMRevoke  = "iam.revoke"     // identity and everything attached deleted
	IAMRecover = "iam.recover"    // start-up settled a crashed operation
	// IAMBoundary: an identity was found without the configured permissions boundary
	// (removed or changed out of band) and it was put back.
	IAMBoundary = "iam.boundary"
)

// ActionOf is the audit action of kind (stop, start, terminate) decided by prefix: "" for
// a user's own request, "admin" for an admin's, "reap" for the lease reaper, "budget"
// for budget enforcement, or a subsystem's name.
func ActionOf(prefix, kind string) string {
	if prefix == "" {
		return kind
	}
	return prefix + "." + kind
}

// Writer appends audit entries.
type Writer struct {
	DB  *db.DB
	Log *slog.Logger
	Now func() time.Time
}

// Entry is what one audit line says besides who and when.
type Entry struct {
	Action   string
	Target   string // instance ids (comma-separated), a user, a request id
	Decision string
	Reason   string
	Detail   map[string]any // never a secret
}

// Record appends e for actor through q (an open transaction, so a decision and its entry
// commit together), or through the database when q is nil. With q nil a failure is also
// logged: the request's outcome is already decided and the entry is the record of it.
// The daemon's own entries name their subsystem in Detail["subsystem"].
func (w *Writer) Record(ctx context.Context, q db.Querier, actor tollgate.Actor, e Entry) error {
	detail := e.Detail
	if actor.System != "" {
		detail = make(map[string]any, len(e.Detail)+1)
		for k, v := range e.Detail {
			detail[k] = v
		}
		detail["subsystem"] = actor.System
	}
	entry := db.AuditEntry{Actor: actor.AuditName(), UID: actor.AuditUID(), Action: e.Action,
		Target: e.Target, Decision: e.Decision, Reason: e.Reason, Detail: detail}
	if w.Now != nil {
		entry.At = w.Now()
	}
	if q != nil {
		return w.DB.AppendAudit(ctx, q, entry)
	}
	if err := w.DB.AppendAudit(context.WithoutCancel(ctx), nil, entry); err != nil {
		if w.Log != nil {
			w.Log.Error("audit entry lost", "action", e.Action, "target", e.Target, "err", err)
		}
		return err
	}
	return nil
}
