package accounting

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Run runs the collector schedule until ctx ends: a snapshot whenever collect_interval
// has passed since the last one (by this process or a cron collector). Its loop wakes
// every Options.Tick (a minute) of wall time; the schedule reads the injected clock.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("collector tick", slog.String(logKeyError, err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick is one step of Run: a collector pass when collect_interval has passed since the
// last snapshot.
func (s *Service) Tick(ctx context.Context) error {
	due, err := s.collectDue(ctx)
	if err != nil || !due {
		return err
	}
	_, err = s.Collect(ctx)
	return err
}

func (s *Service) collectDue(ctx context.Context) (bool, error) {
	every := s.opts.Config.CollectInterval
	if every <= 0 {
		return false, nil
	}
	var last int64
	if err := s.opts.DB.QueryRowContext(ctx, `SELECT coalesce(max(last_s), 0) FROM acct_region_runs`).Scan(&last); err != nil {
		return false, fmt.Errorf("collector schedule: %w", err)
	}
	s.mu.Lock()
	last = max(last, s.lastCollect.Unix())
	s.mu.Unlock()
	return s.now().Unix()-last >= int64(every/time.Second), nil
}
