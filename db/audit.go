package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Audit decisions.
const (
	Allowed = "allowed" // a request that was carried out
	Refused = "refused" // a request refused by policy, ownership or validation
	Failed  = "failed"  // a request allowed but failed in the cloud
	Done    = "done"    // an action the daemon took by itself (reaper, budget, reconcile)
)

// AuditEntry is one line of the audit log. Detail must never hold a secret.
type AuditEntry struct {
	Seq      int64          `json:"seq"`
	At       time.Time      `json:"at"`
	Actor    string         `json:"actor"`
	UID      int            `json:"uid"`
	Action   string         `json:"action"`
	Target   string         `json:"target"`
	Decision string         `json:"decision"`
	Reason   string         `json:"reason"`
	Detail   map[string]any `json:"detail,omitempty"`
}

// AppendAudit writes e to the audit log through q (the DB or an open transaction, so an
// admission and its audit entry commit together). A zero At is set to d.Now().
func (d *DB) AppendAudit(ctx context.Context, q Querier, e AuditEntry) error {
	if q == nil {
		q = d.sql
	}
	if e.At.IsZero() {
		e.At = d.Now()
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit(at, actor, uid, action, target, decision, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		Time(e.At), e.Actor, e.UID, e.Action, e.Target, e.Decision, e.Reason, string(detail))
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Actor  string
	Action string // prefix match: "users." selects every users.* action
	Since  time.Time
	Until  time.Time
	Limit  int // default 1000
}

// ListAudit returns matching entries, oldest first.
func (d *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		where = append(where, "action LIKE ? ESCAPE '\\'")
		args = append(args, strings.NewReplacer("%", `\%`, "_", `\_`).Replace(f.Action)+"%")
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, Time(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, Time(f.Until))
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	q := "SELECT seq, at, actor, uid, action, target, decision, reason, detail FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// The newest Limit entries, returned oldest first.
	q = "SELECT * FROM (" + q + " ORDER BY seq DESC LIMIT ?) ORDER BY seq"
	args = append(args, f.Limit)
	rows, err := d.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at, detail string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.UID, &e.Action, &e.Target, &e.Decision, &e.Reason, &detail); err != nil {
			return nil, err
		}
		e.At, _ = ParseTime(at)
		if detail != "" && detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
