package cli

import "fmt"

// AdminUsersRmCmd is `tollgate admin users rm USER`.
type AdminUsersRmCmd struct {
	User string `arg:"" help:"User."`
}

// Run removes the enrolment.
func (c *AdminUsersRmCmd) Run(env *Env) error {
	if err := env.Client.RemoveUser(env.Ctx, c.User); err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, struct {
			Removed string `json:"removed"`
		}{c.User})
	}
	fmt.Fprintf(env.Out, "removed %s\n", c.User)
	return nil
}
