package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// openAccounting opens the database and an accounting service on it, without the
// daemon, for cron's `collect` and an admin's `report`. SQLite's locking lets this run
// beside a serving daemon.
func openAccounting(ctx context.Context, cfg *config.Config, log *slog.Logger, cl accounting.Cloud) (*accounting.Service, *db.DB, error) {
	d, err := db.Open(ctx, cfg.Broker.Database)
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
