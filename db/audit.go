package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tollgate/tollgate"
)

// Audit decisions.
const (
	Allowed = "allowed" // a request that was carried out
	Refused = "refused" // a request refused by policy, ownership or validation
	Failed  = "failed"  // a request allowed but failed in the cloud
	Done    = "done"    // an action the daemon took by itself (reaper, budget, reconcile)
)

// AuditEntry is one line of the audit log (defined in package tollgate, which the CLI
// decodes without linking SQLite). Detail must never hold a secret.
type AuditEntry = tollgate.AuditEntry

// Audit field limits in bytes. Targets and reasons can carry what a user sent (a refused
// id, an image name): bounded, a refused request cannot fill the disk through the audit.
const (
	MaxAuditTarget = 256
	MaxAuditReason = 1 << 10
	MaxAuditDetail = 256 // each string in Detail
	MaxAuditActor  = 256
)

// AppendAudit writes e to the audit log through q (the DB or an open transaction, so an
// admission and its audit entry commit together). A zero At is set to d.Now(). Actor,
// Target, Reason and every string in Detail are made safe first (see SafeText): an admin
// reading the log in a terminal must see what a user sent, never have it act on the
// terminal or forge a line.
func (d *DB) AppendAudit(ctx context.Context, q Querier, e AuditEntry) error {
	if q == nil {
		q = d
	}
	if e.At.IsZero() {
		e.At = d.Now()
	}
	e.Actor = SafeText(e.Actor, MaxAuditActor)
	e.Target = SafeText(e.Target, MaxAuditTarget)
	e.Reason = SafeText(e.Reason, MaxAuditReason)
	e.Detail = safeDetail(e.Detail)
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
	}
	if e.Decision == Refused {
		// The same refusal again from the same actor within RefusalWindow of the
		// entry that records it: counted there rather than written again.
		res, err := execContext(ctx, q, `UPDATE audit SET count = count + 1, last_at = ?
			WHERE seq = (SELECT seq FROM audit WHERE actor = ? ORDER BY at DESC LIMIT 1)
			AND uid = ? AND action = ? AND target = ? AND decision = 'refused' AND reason = ? AND detail = ? AND at >= ?`,
			Time(e.At), e.Actor, e.UID, e.Action, e.Target, e.Reason, string(detail), Time(e.At.Add(-RefusalWindow)))
		if err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	_, err := execContext(ctx, q, `INSERT INTO audit(at, actor, uid, action, target, decision, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		Time(e.At), e.Actor, e.UID, e.Action, e.Target, e.Decision, e.Reason, string(detail))
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// RefusalWindow is how long after a refusal is first recorded the same refusal from the
// same actor is counted in its entry (count, last_at) rather than written again.
const RefusalWindow = time.Hour

// DeleteRefusals deletes refusals whose last occurrence is before cutoff ([broker]
// audit_refusal_retention) and returns how many entries went. Other entries are kept
// forever: the schema refuses to delete them.
func (d *DB) DeleteRefusals(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM audit WHERE decision = 'refused' AND at < ?
		AND (last_at = '' OR last_at < ?)`, Time(cutoff), Time(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete old refusals: %w", err)
	}
	return res.RowsAffected()
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
	q := "SELECT seq, at, actor, uid, action, target, decision, reason, detail, count, last_at FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// The newest Limit entries, returned oldest first.
	q = "SELECT * FROM (" + q + " ORDER BY seq DESC LIMIT ?) AS newest ORDER BY seq"
	args = append(args, f.Limit)
	rows, err := d.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at, detail, last string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.UID, &e.Action, &e.Target, &e.Decision, &e.Reason, &detail,
			&e.Count, &last); err != nil {
			return nil, err
		}
		e.At, _ = ParseTime(at)
		e.LastAt, _ = ParseTime(last)
		if detail != "" && detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SafeText returns s with every rune that is not printable (unicode.IsPrint: control
// characters such as ESC and newlines, format characters, invalid UTF-8) replaced by its
// Go escape (\x1b, \n, \u202e, \ufffd), cut to at most max bytes on a rune boundary
// with "…" marking the cut.
func SafeText(s string, max int) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	const mark = "…"
	limit := max - len(mark) // where a cut goes, so the mark still fits
	cut := -1
	var b strings.Builder
	write := func(unit string) {
		if cut < 0 && b.Len()+len(unit) > limit {
			cut = b.Len()
		}
		b.WriteString(unit)
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			write(`\ufffd`)
		case unicode.IsPrint(r):
			write(string(r))
		default:
			q := strconv.QuoteRuneToASCII(r)
			write(q[1 : len(q)-1])
		}
		if b.Len() > max {
			break
		}
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	if cut < 0 {
		cut = 0
	}
	return out[:cut] + mark
}

// safeDetail applies SafeText to every string in a detail map, in lists and nested maps
// too; numbers and booleans pass unchanged.
func safeDetail(m map[string]any) map[string]any {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[SafeText(k, MaxAuditDetail)] = safeValue(v)
	}
	return out
}

func safeValue(v any) any {
	switch v := v.(type) {
	case string:
		return SafeText(v, MaxAuditDetail)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = SafeText(s, MaxAuditDetail)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = safeValue(x)
		}
		return out
	case map[string]any:
		return safeDetail(v)
	default:
		return v
	}
}
