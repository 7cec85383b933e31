package cli

import (
	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
)

// AdminUsersAddCmd is `tollgate admin users add USER… [--group G]`.
type AdminUsersAddCmd struct {
	Users []string `arg:"" name:"user" help:"Unix user names (resolved through NSS by the daemon)."`
	Group string   `help:"Roster group (course section, team) recorded for reports." placeholder:"GROUP"`
}

// Run enrols.
func (c *AdminUsersAddCmd) Run(env *Env) error {
	if err := tollgate.CheckLabel("group", c.Group); err != nil {
		return usagef("--group: %v", err)
	}
	users, err := env.Client.AddUsers(env.Ctx, api.UsersAddRequest{Users: c.Users, Group: c.Group})
	if err != nil {
		return err
	}
	return printUsers(env, users)
}
