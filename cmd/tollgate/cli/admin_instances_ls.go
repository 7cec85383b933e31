package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/broker/api"
)

// AdminInstancesLsCmd is `tollgate admin instances ls [--owner U] [--all] [--adopted]`.
type AdminInstancesLsCmd struct {
	Owner   string `help:"Only this user's instances." placeholder:"USER"`
	All     bool   `help:"Include terminated instances."`
	Adopted bool   `help:"Only instances reconcile adopted from their tags; UNVERIFIED ones have no launch record behind them, so only their owner tag says whose they are (and whose budget pays)."`
}

// Run lists everyone's instances.
func (c *AdminInstancesLsCmd) Run(env *Env) error {
	insts, err := env.Client.AdminInstancesWhere(env.Ctx, api.AdminInstancesQuery{Owner: c.Owner, All: c.All, Adopted: c.Adopted})
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
