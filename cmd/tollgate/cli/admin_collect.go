package cli

import "fmt"

// AdminCollectCmd is `tollgate admin collect`: one snapshot now rather than at the
// daemon's next scheduled one.
type AdminCollectCmd struct{}

// Run collects.
func (c *AdminCollectCmd) Run(env *Env) error {
	r, err := env.Client.Collect(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, r)
	}
	fmt.Fprintf(env.Out, "collected %d instance(s), %d row(s) written, %d untracked, %d closed\n",
		r.Instances, r.RowsWritten, r.Untracked, r.Closed)
	failed := 0
	for _, reg := range r.Regions {
		if !reg.OK {
			failed++
			fmt.Fprintf(env.Err, "region %s failed: %s\n", reg.Region, oneLine(reg.Error))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d regions failed", failed, len(r.Regions))
	}
	return nil
}
