package cli

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/accounting/render"
)

// ReportCmd is `tollgated report`: a spend report straight from the database (no
// daemon, no cloud calls).
type ReportCmd struct {
	Since  string `help:"From this date (YYYY-MM-DD, UTC; default: the start of the budget period)." placeholder:"DATE"`
	Until  string `help:"Until this date, exclusive (default: now)." placeholder:"DATE"`
	By     string `default:"user" enum:"user,group,purpose,type,region,day" help:"Group by user|group|purpose|type|region|day."`
	Format string `default:"table" enum:"table,csv,json,html" help:"table|csv|json|html."`
	Output string `short:"o" help:"Write to FILE instead of stdout: a new file (mode 0600 unless --mode) renamed into place; a symlink, a non-regular file or another user's file there is refused." placeholder:"FILE" type:"path"`
	Mode   string `help:"Permission bits of the --output file, octal (default 600)." placeholder:"MODE"`
}

// Run reports.
func (c *ReportCmd) Run(env *Env) error {
	mode, err := render.ParseMode(c.Mode)
	if err != nil {
		return &usageError{fmt.Sprintf("--mode %s: %v", c.Mode, err)}
	}
	since, err := parseDate(c.Since)
	if err != nil {
		return &usageError{fmt.Sprintf("--since %s: %v", c.Since, err)}
	}
	until, err := parseDate(c.Until)
	if err != nil {
		return &usageError{fmt.Sprintf("--until %s: %v", c.Until, err)}
	}
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	log := env.logger(cfg.Broker.LogLevel)
	svc, d, err := openAccounting(env.Ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := svc.Report(env.Ctx, accounting.ReportRequest{Since: since, Until: until, By: c.By})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return render.WriteFile(env.Out, c.Output, rep, c.Format, mode)
}

// parseDate reads YYYY-MM-DD (UTC) or RFC 3339; "" is the zero time (the default bound).
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.UTC); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a date (use 2026-01-31 or 2026-01-31T09:00:00Z)")
}
