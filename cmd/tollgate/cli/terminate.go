package cli

// TerminateCmd is `tollgate terminate ID…`.
type TerminateCmd struct {
	IDs []string `arg:"" name:"id" help:"Instances to terminate."`
}

// Run terminates.
func (c *TerminateCmd) Run(env *Env) error {
	resp, err := env.Client.Terminate(env.Ctx, c.IDs)
	if err != nil {
		return err
	}
	return printActions(env, "terminate", resp)
}
