package cli

import (
	"fmt"
	"strings"
)

// WhoamiCmd is `tollgate whoami`: the identity the daemon derived from the kernel's
// peer credentials, which is the only identity that counts.
type WhoamiCmd struct{}

// Run shows the caller.
func (c *WhoamiCmd) Run(env *Env) error {
	w, err := env.Client.WhoAmI(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, w)
	}
	role := "not enrolled"
	switch {
	case w.Disabled:
		role = "disabled"
	case w.Admin:
		role = "admin"
	case w.Enrolled:
		role = "user"
	}
	fmt.Fprintf(env.Out, "user:    %s (uid %d)\n", w.User, w.UID)
	fmt.Fprintf(env.Out, "groups:  %s\n", strings.Join(w.Groups, ", "))
	fmt.Fprintf(env.Out, "role:    %s\n", role)
	fmt.Fprintf(env.Out, "daemon:  %s at %s\n", w.Version, env.Client.Socket())
	return nil
}
