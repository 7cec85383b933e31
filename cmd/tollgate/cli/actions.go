package cli

import (
	"errors"
	"fmt"

	"github.com/tollgate/tollgate/broker/api"
)

// printActions reports a stop/start/terminate per instance; any per-instance failure
// makes the command fail (exit 1) after every line is shown.
func printActions(env *Env, verb string, resp api.ActionResponse) error {
	if env.JSON {
		if err := printJSON(env.Out, resp); err != nil {
			return err
		}
	}
	var errs []error
	for _, r := range resp.Results {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, r.ID, r.Error))
			continue
		}
		if !env.JSON {
			fmt.Fprintf(env.Out, "%s\t%s\n", r.ID, r.State)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	if len(errs) > 1 {
		return fmt.Errorf("%d of %d instances failed: %w", len(errs), len(resp.Results), errors.Join(errs...))
	}
	return nil
}
