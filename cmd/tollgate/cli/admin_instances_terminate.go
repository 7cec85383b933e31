package cli

// AdminInstancesTerminateCmd is `tollgate admin instances terminate ID…`: anyone's.
type AdminInstancesTerminateCmd struct {
	IDs []string `arg:"" name:"id" help:"Instances to terminate."`
}

// Run terminates.
func (c *AdminInstancesTerminateCmd) Run(env *Env) error {
	resp, err := env.Client.AdminTerminate(env.Ctx, c.IDs)
	if err != nil {
		return err
	}
	return printActions(env, "terminate", resp)
}
