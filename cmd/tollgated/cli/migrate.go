package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/daemon"
)

// MigrateCmd is `tollgated migrate`: apply the database's pending schema migrations now,
// and list what is applied. `serve` applies them too at start-up; running this first,
// after a backup, separates the upgrade of the schema from the start of the service. A
// database a newer tollgated migrated is refused by both.
type MigrateCmd struct{}

// Run migrates.
func (c *MigrateCmd) Run(env *Env) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	d, err := daemon.OpenDB(env.Ctx, cfg.Broker)
	if err != nil {
		return err
	}
	defer d.Close()
	migs, err := d.Migrations(env.Ctx)
	if err != nil {
		return err
	}
	for _, m := range migs {
		fmt.Fprintf(env.Out, "%4d  %-32s  applied %s\n", m.Version, m.Name, m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if len(migs) > 0 {
		fmt.Fprintf(env.Out, "%s is at schema version %d\n", cfg.Broker.Database, migs[len(migs)-1].Version)
	}
	return nil
}
