package cli

import (
	"encoding/json"
	"fmt"
)

// CollectCmd is `tollgated collect`: one snapshot of every region into the database,
// for a cron job or systemd timer (the daemon also collects on its own schedule).
type CollectCmd struct {
	JSON bool `name:"json" help:"Print the result as JSON."`
}

// Run collects.
func (c *CollectCmd) Run(env *Env) error {
	cfg, log, cl, err := env.loadWithCloud()
	if err != nil {
		return err
	}
	svc, d, err := openAccounting(env.Ctx, cfg, log, cloudOrNil(cl))
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := svc.Collect(env.Ctx)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	if c.JSON {
		enc := json.NewEncoder(env.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(env.Out, "collected %d instance(s) in %d region(s): %d row(s) written, %d untracked, %d closed\n",
		res.Instances, len(res.Regions), res.RowsWritten, res.Untracked, res.Closed)
	failed := 0
	for _, r := range res.Regions {
		if !r.OK {
			failed++
			fmt.Fprintf(env.Err, "region %s: %s\n", r.Region, r.Error)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d regions failed", failed, len(res.Regions))
	}
	return nil
}
