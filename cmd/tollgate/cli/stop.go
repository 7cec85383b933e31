package cli

// StopCmd is `tollgate stop ID…`.
type StopCmd struct {
	IDs []string `arg:"" name:"id" help:"Instances to stop."`
}

// Run stops.
func (c *StopCmd) Run(env *Env) error {
	resp, err := env.Client.Stop(env.Ctx, c.IDs)
	if err != nil {
		return err
	}
	return printActions(env, "stop", resp)
}
