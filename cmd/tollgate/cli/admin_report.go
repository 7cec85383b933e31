package cli

import (
	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/accounting/render"
)

// AdminReportCmd is `tollgate admin report`.
type AdminReportCmd struct {
	Since  string `help:"From this date (YYYY-MM-DD, UTC; default: the start of the budget period)." placeholder:"DATE"`
	Until  string `help:"Until this date, exclusive (default: now)." placeholder:"DATE"`
	By     string `default:"user" enum:"user,group,purpose,type,region,day" help:"Group by user|group|purpose|type|region|day."`
	Format string `default:"table" enum:"table,csv,json,html" help:"table|csv|json|html."`
	Output string `short:"o" help:"Write to FILE instead of stdout: a new file (mode 0600 unless --mode) renamed into place; a symlink, a non-regular file or another user's file there is refused." placeholder:"FILE" type:"path"`
	Mode   string `help:"Permission bits of the --output file, octal (default 600)." placeholder:"MODE"`
}

// Run builds the report on the daemon and renders it here.
func (c *AdminReportCmd) Run(env *Env) error {
	mode, err := render.ParseMode(c.Mode)
	if err != nil {
		return usagef("--mode %s: %v", c.Mode, err)
	}
	since, err := parseWhen(c.Since, env.Now())
	if err != nil {
		return usagef("--since %s: %v", c.Since, err)
	}
	until, err := parseWhen(c.Until, env.Now())
	if err != nil {
		return usagef("--until %s: %v", c.Until, err)
	}
	rep, err := env.Client.Report(env.Ctx, tollgate.ReportRequest{Since: since, Until: until, By: c.By})
	if err != nil {
		return err
	}
	format := c.Format
	if env.JSON {
		format = "json"
	}
	return render.WriteFile(env.Out, c.Output, rep, format, mode)
}
