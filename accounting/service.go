package accounting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// Cloud is what accounting needs of the cloud; *cloud.Client satisfies it.
type Cloud interface {
	DescribeInstances(ctx context.Context, region string, f cloud.Filter) ([]cloud.Instance, error)
	DescribeSpotPriceHistory(ctx context.Context, region string, types []string, start, end time.Time) ([]cloud.SpotPrice, error)
	DescribeVolumes(ctx context.Context, region string, instanceIDs []string) ([]cloud.Volume, error)
}

// Options wires a Service.
type Options struct {
	DB      *db.DB
	Cloud   Cloud
	Config  config.Accounting
	Regions []string
	Prices  *Prices
	// Policy returns an enrolled user's effective policy (budgets, expire_action, ...).
	Policy func(ctx context.Context, user string) (quota.Policy, error)
	// Adopt is called with tollgate-tagged instances the database does not know, so the
	// broker's reconcile adopts them (one adoption logic, in the broker).
	Adopt  func(ctx context.Context, insts []cloud.Instance) error
	Logger *slog.Logger
	Now    func() time.Time

	// Tick is the wall-clock period of Run's loop (default 1 minute: the collector
	// schedule's resolution).
	Tick time.Duration
}

// Service is the accounting engine: the collector, costs and spend, and reports
// (enforcement of leases and budgets is package enforce's). It is safe for concurrent use, and several processes (the daemon
// and a cron collector) may share one database.
type Service struct {
	opts   Options
	log    *slog.Logger
	prices *Prices
	term   [2]time.Time // budget term from config (zero when not set)

	applyMu     sync.Mutex // one snapshot write at a time in this process
	mu          sync.Mutex
	lastCollect time.Time
}

// New returns a Service. DB and Cloud are required; a nil Prices loads the shipped table
// with the configured overrides.
func New(opts Options) (*Service, error) {
	if opts.DB == nil {
		return nil, errors.New("accounting: no database")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Minute
	}
	s := &Service{opts: opts, log: opts.Logger, prices: opts.Prices}
	if s.prices == nil {
		p, err := LoadPrices(opts.Config.Prices, opts.Config.VolumePrices)
		if err != nil {
			return nil, fmt.Errorf("accounting: %w", err)
		}
		s.prices = p
	}
	for i, d := range []string{opts.Config.TermStart, opts.Config.TermEnd} {
		if d == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, fmt.Errorf("accounting: term date %q: want YYYY-MM-DD", d)
		}
		s.term[i] = t
	}
	return s, nil
}

// Prices is the price table the Service costs with.
func (s *Service) Prices() *Prices { return s.prices }

func (s *Service) now() time.Time { return s.opts.Now().UTC() }
