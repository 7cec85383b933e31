package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/daemon"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// openAccounting opens the database and an accounting service on it, without the
// daemon, for cron's `collect` and an admin's `report`. SQLite's locking lets this run
// beside a serving daemon; it must run as the daemon's user (or root owning the
// directory), as the daemon itself does.
func openAccounting(ctx context.Context, cfg *config.Config, log *slog.Logger, cl accounting.Cloud) (*accounting.Service, *db.DB, error) {
	// The same checks as the daemon's before it opens the file: a directory another user
	// can write, or a symbolic link in place of the database, is refused.
	d, err := daemon.OpenDB(ctx, cfg.Broker)
	if err != nil {
		return nil, nil, err
	}
	svc, err := accounting.New(accounting.Options{
		DB:      d,
		Cloud:   cl,
		Config:  cfg.Accounting,
		Regions: cfg.AllRegions(), // the daemon's regions: what a policy allows is collected too
		// Without the daemon there is no NSS-backed per-user policy: the default
		// policy is what a standalone run may need (it enforces nothing).
		Policy: func(context.Context, string) (quota.Policy, error) { return cfg.Policy.Default, nil },
		Logger: log.With(logComponent, "accounting"),
	})
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("start accounting: %w", err)
	}
	return svc, d, nil
}

// cloudOrNil turns a typed nil into an untyped nil interface.
func cloudOrNil(c *cloud.Client) accounting.Cloud {
	if c == nil {
		return nil
	}
	return c
}
