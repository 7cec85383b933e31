package cli

import "github.com/tollgate/tollgate/broker/api"

// AdminUsersDisableCmd is `tollgate admin users disable USER [--enable]`. A disabled
// user keeps their records (and their instances run on under their leases) but is refused
// every request.
type AdminUsersDisableCmd struct {
	User   string `arg:"" help:"User."`
	Enable bool   `help:"Re-enable instead."`
}

// Run disables or re-enables.
func (c *AdminUsersDisableCmd) Run(env *Env) error {
	u, err := env.Client.DisableUser(env.Ctx, c.User, c.Enable)
	if err != nil {
		return err
	}
	return printUsers(env, []api.User{u})
}
