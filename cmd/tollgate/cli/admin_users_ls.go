package cli

import (
	"encoding/json"
	"strconv"

	"github.com/tollgate/tollgate/broker/api"
)

// AdminUsersLsCmd is `tollgate admin users ls`.
type AdminUsersLsCmd struct{}

// Run lists users.
func (c *AdminUsersLsCmd) Run(env *Env) error {
	users, err := env.Client.Users(env.Ctx)
	if err != nil {
		return err
	}
	return printUsers(env, users)
}

// printUsers is the user table, or a UserList in JSON.
func printUsers(env *Env, users []api.User) error {
	if env.JSON {
		return printJSON(env.Out, api.UserList{Users: nonNil(users)})
	}
	t := newTable(env.Out, "USER", "UID", "GROUP", "SOURCE", "STATUS", "OVERRIDE", "SINCE")
	for _, u := range users {
		status := "enabled"
		switch {
		case u.Disabled:
			status = "disabled"
		case !u.Active:
			status = "left group"
		}
		source := u.Source
		if u.Source == "group" && u.EnrollGroup != "" {
			source = "group:" + u.EnrollGroup
		}
		override := ""
		if b, err := json.Marshal(u.Override); err == nil && string(b) != "{}" {
			override = string(b)
		}
		t.row(u.Name, strconv.Itoa(u.UID), u.Group, source, status, override, day(u.CreatedAt))
	}
	return t.flush()
}
