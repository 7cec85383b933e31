package regions

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
)

// tickEvery is how often the schedules are looked at.
const tickEvery = 30 * time.Second

// RunLoop is the daemon's "regions" runner: it starts the scheduled runs (at start-up,
// with catch_up, what was missed while the daemon was down), never two at once in one
// region, until ctx ends; then it waits for the runs in progress (each stops its
// instance).
func (s *Manager) RunLoop(ctx context.Context) error {
	scheds := map[string]*Scheduler{}
	var wg sync.WaitGroup
	defer wg.Wait()
	now := s.o.Now()
	for name, svc := range s.services {
		sc := &Scheduler{Running: func(region string) bool { return s.isRunning(name, region) }}
		for _, spec := range svc.Schedules {
			p, err := NewPlan(spec, svc.Regions)
			if err != nil {
				return err // validated with the configuration; cannot happen
			}
			sc.Plans = append(sc.Plans, p)
		}
		if len(sc.Plans) == 0 {
			continue
		}
		scheds[name] = sc
		last := now
		if runs, err := s.o.DB.ListServiceRuns(ctx, name, "", 1); err == nil && len(runs) == 1 {
			last = runs[0].StartedAt
		}
		s.start(ctx, &wg, name, sc.Start(last, now))
	}
	if len(scheds) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := s.o.Now()
			for name, sc := range scheds {
				s.start(ctx, &wg, name, sc.Tick(now))
			}
		}
	}
}

// start runs the decisions' started slots, each in its own goroutine.
func (s *Manager) start(ctx context.Context, wg *sync.WaitGroup, name string, ds []Decision) {
	for _, d := range ds {
		if !d.Started {
			s.o.Log.Info("scheduled run skipped", "service", name, "region", d.Slot.Region, "why", d.Why)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := s.Run(ctx, tollgate.SystemActor(tollgate.SysRegions), name, d.Slot.Region)
			if err != nil {
				s.o.Log.Warn("scheduled run not started", "service", name, "region", d.Slot.Region, "err", err)
				return
			}
			if run.Status != db.RunSucceeded {
				s.o.Log.Warn("scheduled run failed", "service", name, "region", d.Slot.Region, "status", run.Status, "reason", run.Reason)
			}
		}()
	}
}

func (s *Manager) isRunning(service, region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[service+"/"+region]
}
