package cli

import "fmt"

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
	return nil
}
