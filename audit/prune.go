package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/db"
)

// Pruner deletes refusals older than Retention from the audit log ([broker]
// audit_refusal_retention); allowed, failed and done entries are kept forever (the
// schema refuses to delete them). It is one of the daemon's runners when a retention is
// set.
type Pruner struct {
	DB        *db.DB
	Retention time.Duration
	Log       *slog.Logger
	Now       func() time.Time
	// Every is how often Run prunes (default an hour).
	Every time.Duration
}

// Prune deletes the refusals whose last occurrence is older than the retention, and
// returns how many entries went.
func (p *Pruner) Prune(ctx context.Context) (int64, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return p.DB.DeleteRefusals(ctx, now().Add(-p.Retention))
}

// Run prunes at once and then every p.Every until ctx ends.
func (p *Pruner) Run(ctx context.Context) error {
	every := p.Every
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := p.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil && p.Log != nil:
			p.Log.Warn("prune audit refusals", "err", err)
		case n > 0 && p.Log != nil:
			p.Log.Info("pruned audit refusals past their retention", "count", n, "retention", p.Retention.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
