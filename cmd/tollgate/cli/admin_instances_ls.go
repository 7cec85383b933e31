package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/broker/api"
)

// AdminInstancesLsCmd is `tollgate admin instances ls [--owner U] [--all]`.
type AdminInstancesLsCmd struct {
	Owner string `help:"Only this user's instances." placeholder:"USER"`
	All   bool   `help:"Include terminated instances."`
}

// Run lists everyone's instances.
func (c *AdminInstancesLsCmd) Run(env *Env) error {
	insts, err := env.Client.AdminInstances(env.Ctx, c.Owner, c.All)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.InstanceList{Instances: nonNil(insts)})
	}
	if len(insts) == 0 {
		fmt.Fprintln(env.Out, "no instances")
		return nil
	}
	return printInstances(env, insts, true)
}
