package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/daemon"
)

// ServeCmd is `tollgated serve`: config → cloud → every service (package daemon), until SIGINT or SIGTERM.
type ServeCmd struct {
	AllowRoot bool `help:"Run even as root (not recommended: run tollgated as a dedicated system user)." name:"allow-root"`
}

// Run serves.
func (c *ServeCmd) Run(env *Env) error {
	cfg, log, cl, err := env.loadWithCloud()
	if err != nil {
		return err
	}
	if err := checkIdentity(env.Ctx, cl, log); err != nil {
		return err
	}
	d, err := daemon.New(env.Ctx, daemon.Options{Config: cfg, Logger: log, Cloud: cl, AllowRoot: c.AllowRoot})
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	log.Info("serving", logSocket, d.Broker.Socket(), logPath, cfg.Path)
	if err := d.Run(env.Ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
