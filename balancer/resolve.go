package balancer

import (
	"errors"
	"fmt"
)

// Resolved is every pool with its gbrowse_conf read and its defaults applied, checked by
// Validate: what the daemon runs and check-config reports on.
func (c Config) Resolved() ([]Pool, error) {
	var out []Pool
	var errs []error
	for _, p := range c.Pools {
		rp, err := p.Resolve()
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %q: %w", p.Name, err))
			continue
		}
		out = append(out, rp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if errs := (Config{Pools: out}).Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
