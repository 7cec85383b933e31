package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/config"
)

// CheckConfigCmd is `tollgated check-config`: load and validate, print what the daemon
// would use.
type CheckConfigCmd struct{}

// Run checks.
func (c *CheckConfigCmd) Run(env *Env) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "%s: ok\n", cfg.Path)
	fmt.Fprintf(env.Out, "socket:    %s\n", cfg.Broker.Socket)
	fmt.Fprintf(env.Out, "database:  %s\n", cfg.Broker.Database)
	fmt.Fprintf(env.Out, "regions:   %v\n", cfg.AWS.Regions)
	if cfg.AWS.EndpointURL != "" {
		fmt.Fprintf(env.Out, "endpoint:  %s (not AWS)\n", cfg.AWS.EndpointURL)
	}
	for _, w := range configWarnings(cfg) {
		fmt.Fprintf(env.Err, "warning: %s\n", w)
	}
	return nil
}

// configWarnings lists what is valid but will not work as an operator likely expects.
func configWarnings(cfg *config.Config) []string {
	var ws []string
	if cfg.IAM.PermissionsBoundary == "" && cfg.AWS.EndpointURL == "" {
		ws = append(ws, "iam.permissions_boundary is unset: with the shipped daemon policy (scripts/tollgated-iam-policy.json) IAM refuses to create users, so `tollgate keys aws` will fail; see docs/iam.md")
	}
	return ws
}
