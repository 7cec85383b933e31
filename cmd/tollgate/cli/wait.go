package cli

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/broker/api"
)

// waiter polls the daemon until instances leave "pending", printing each state change
// on stderr so stdout stays the command's result.
type waiter struct {
	env      *Env
	interval time.Duration
	timeout  time.Duration
}

// wait returns the instances' last known view; the error says which did not come up.
func (w waiter) wait(ids []string) ([]api.Instance, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx := w.env.Ctx
	deadline := time.NewTimer(w.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	seen := map[string]string{}
	for {
		insts, err := w.env.Client.Instances(ctx, ids...)
		if err != nil {
			return nil, err
		}
		done := true
		for _, in := range insts {
			if seen[in.ID] != in.State {
				seen[in.ID] = in.State
				ip := ""
				if in.PublicIP != "" {
					ip = " " + in.PublicIP
				}
				fmt.Fprintf(w.env.Err, "%s %s%s\n", in.ID, in.State, ip)
			}
			switch in.State {
			case "running":
			case "shutting-down", "terminated", "stopping", "stopped":
				return insts, fmt.Errorf("instance %s is %s instead of running", in.ID, in.State)
			default:
				done = false
			}
		}
		if done && len(insts) == len(ids) {
			return insts, nil
		}
		select {
		case <-ctx.Done():
			return insts, ctx.Err()
		case <-deadline.C:
			return insts, fmt.Errorf("instances not running after %s (they keep launching; see 'tollgate ls')", w.timeout)
		case <-tick.C:
		}
	}
}
