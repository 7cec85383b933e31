package cli

import "fmt"

// ExtendCmd is `tollgate extend ID DURATION`: the lease grows by DURATION, up to the
// policy's max_lifetime (the daemon decides and says by how much it could).
type ExtendCmd struct {
	ID       string `arg:"" help:"Instance."`
	Duration string `arg:"" help:"How much longer, e.g. 2h or 90m."`
}

// Run extends.
func (c *ExtendCmd) Run(env *Env) error {
	in, err := env.Client.Extend(env.Ctx, c.ID, c.Duration)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, in)
	}
	fmt.Fprintf(env.Out, "%s now expires %s (%s)\n", in.ID, stamp(in.ExpiresAt), relTime(in.ExpiresAt, env.Now()))
	return nil
}
