package cli

// StartCmd is `tollgate start ID…`.
type StartCmd struct {
	IDs []string `arg:"" name:"id" help:"Stopped instances to start."`
}

// Run starts.
func (c *StartCmd) Run(env *Env) error {
	resp, err := env.Client.Start(env.Ctx, c.IDs)
	if err != nil {
		return err
	}
	return printActions(env, "start", resp)
}
