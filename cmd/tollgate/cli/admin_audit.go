package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/broker/api"
)

// AdminAuditCmd is `tollgate admin audit`.
type AdminAuditCmd struct {
	Actor  string `help:"Only entries by this user." placeholder:"USER"`
	Action string `help:"Only actions starting with this (e.g. launch, users.)." placeholder:"ACTION"`
	Since  string `help:"Only entries from this time (YYYY-MM-DD or RFC 3339, or a duration like 24h meaning that long ago)." placeholder:"WHEN"`
	Limit  int    `help:"At most this many (the newest)." default:"100"`
}

// Run reads the audit log.
func (c *AdminAuditCmd) Run(env *Env) error {
	since, err := parseWhen(c.Since, env.Now())
	if err != nil {
		return usagef("--since %s: %v", c.Since, err)
	}
	entries, err := env.Client.Audit(env.Ctx, api.AuditQuery{Actor: c.Actor, Action: c.Action, Since: since, Limit: c.Limit})
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.AuditList{Entries: nonNil(entries)})
	}
	t := newTable(env.Out, "SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DECISION", "REASON")
	for _, e := range entries {
		reason := e.Reason
		if reason == "" && len(e.Detail) > 0 {
			if b, err := json.Marshal(e.Detail); err == nil {
				reason = string(b)
			}
		}
		decision := e.Decision
		if e.Count > 1 {
			// Identical refusals are one entry: how many, and until when.
			decision = fmt.Sprintf("%s ×%d (last %s)", e.Decision, e.Count, e.LastAt.Local().Format("2006-01-02 15:04:05"))
		}
		t.row(strconv.FormatInt(e.Seq, 10), e.At.Local().Format("2006-01-02 15:04:05"), e.Actor,
			e.Action, e.Target, decision, oneLine(reason))
	}
	return t.flush()
}

// parseWhen reads a date, an RFC 3339 time, or a duration meaning "that long before
// now"; "" is the zero time (no bound).
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.UTC); err == nil {
		return t, nil
	}
	if d, err := parseLease(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("not a date, time or duration (use 2026-01-31, 2026-01-31T09:00:00Z or 24h)")
}
