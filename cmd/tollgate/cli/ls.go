package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/broker/api"
)

// LsCmd is `tollgate ls`: the caller's own instances.
type LsCmd struct {
	IDs []string `arg:"" optional:"" name:"id" help:"Only these instances."`
}

// Run lists.
func (c *LsCmd) Run(env *Env) error {
	insts, err := env.Client.Instances(env.Ctx, c.IDs...)
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
	return printInstances(env, insts, false)
}

// printInstances is the instance table; withOwner adds the OWNER column admins need.
func printInstances(env *Env, insts []api.Instance, withOwner bool) error {
	header := []string{"ID", "NAME", "STATE", "TYPE", "REGION", "PUBLIC IP", "LAUNCHED", "EXPIRES", "COST"}
	if withOwner {
		header = append([]string{"OWNER"}, header...)
	}
	t := newTable(env.Out, header...)
	now := env.Now()
	for _, in := range insts {
		state := in.State
		if in.Spot {
			state += " (spot)"
		}
		cells := []string{in.ID, in.Name, state, in.Type, in.Region, in.PublicIP,
			stamp(in.LaunchedAt), relTime(in.ExpiresAt, now), usd(in.CostUSD)}
		if withOwner {
			owner := in.Owner
			switch {
			case !in.Tracked && owner == "":
				owner = "(untracked)"
			case in.Unverified:
				owner += " (unverified)"
			}
			cells = append([]string{owner}, cells...)
		}
		t.row(cells...)
	}
	return t.flush()
}

// nonNil makes an empty listing "[]" rather than "null" in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
