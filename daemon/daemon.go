// Package daemon is tollgated's composition root: it builds every service from the
// configuration, in the one order that is safe (the socket claimed before the database
// is touched; recovery before requests), and runs the socket server and the background
// loops together until the context ends. cmd/tollgated's serve and dev use it; nothing
// else constructs services.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/balancer"
	"github.com/tollgate/tollgate/broker"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/fsafe"
	"github.com/tollgate/tollgate/iamusers"
	"github.com/tollgate/tollgate/quota"
	"github.com/tollgate/tollgate/regions"
)

// Options configures New.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Cloud  *cloud.Client
	Now    func() time.Time // default time.Now
	// AllowRoot lets the daemon run as root. It refuses by default: it only needs its
	// socket, database and cloud credentials, and everything it creates as root would be
	// root's (cmd's --allow-root sets it).
	AllowRoot bool
	// Users resolves uids and names (default: NSS through os/user, cached briefly).
	Users broker.UserDB
	// Test-only: PeerUID maps peer uids (see broker.Hooks), FleetHooks are the fleet's
	// crash points, Mail replaces mail_command.
	PeerUID    func(real int) int
	FleetHooks *fleet.Hooks
	Mail       func(ctx context.Context, to, subject, body string) error
	// Balancer overrides parts of the balancer's wiring (tests point its probes at
	// local servers); nil = production.
	Balancer func(*balancer.Options)
	// Regions likewise overrides parts of the regional services' wiring (tests make
	// their waits advance the simulated clock); nil = production.
	Regions func(*regions.Options)
	// LeadPoll is how often a daemon that does not lead the background work tries to
	// take it over, and how often the leader checks its hold (default 10 s; PostgreSQL
	// only: on SQLite the one daemon always leads).
	LeadPoll time.Duration
	// Tick is the wall-clock period of the collector's and the enforcement's loops
	// (default 1 minute; their schedules read Now, tests shorten it).
	Tick time.Duration
}

// Runner is a part of the daemon that runs until its context ends.
type Runner struct {
	Name string
	Run  func(ctx context.Context) error
}

// Daemon is a built tollgated: its services and the runners that Run starts.
type Daemon struct {
	Broker     *broker.Daemon
	DB         *db.DB
	Fleet      *fleet.Fleet
	Accounting *accounting.Service
	Enforcer   *enforce.Enforcer
	Notices    *enforce.Notifier
	IAM        *iamusers.Service
	Balancer   *balancer.Service
	Regions    *regions.Manager
	Runners    []Runner
	// Background are the runners the "leader" runner starts while this daemon leads.
	Background []Runner

	log     *slog.Logger
	leading atomic.Bool
}

// New claims the socket, opens the database, builds every service, settles what a
// previous run left (IAM intents, requested launches and actions) and returns the daemon
// ready to Run. It refuses to start if a live daemon answers on the socket.
func New(ctx context.Context, o Options) (*Daemon, error) {
	if o.Config == nil || o.Cloud == nil {
		return nil, errors.New("daemon: Config and Cloud are required")
	}
	if err := checkRoot(os.Geteuid(), o.AllowRoot); err != nil {
		return nil, err
	}
	cfg := *o.Config
	cfg.Broker.Defaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	// Claim the socket first: a live daemon means we must not touch its database.
	ln, err := broker.Listen(cfg.Broker)
	if err != nil {
		return nil, err
	}
	d := &Daemon{log: log}
	fail := func(err error) (*Daemon, error) {
		ln.Close()
		if d.DB != nil {
			d.DB.Close()
		}
		return nil, err
	}
	if d.DB, err = OpenDB(ctx, cfg.Broker); err != nil {
		return fail(err)
	}
	d.DB.Now = now
	aud := &audit.Writer{DB: d.DB, Log: log, Now: now}
	scanned := cfg.AllRegions()

	// The broker resolves users' policies; the services built before it reach it
	// through this function, which is only called once everything is built.
	var b *broker.Daemon
	policyOf := func(ctx context.Context, user string) (quota.Policy, error) { return b.PolicyOf(ctx, user) }

	d.Notices = enforce.NewNotifier(enforce.NotifierOptions{DB: d.DB, MailCommand: cfg.Accounting.MailCommand,
		MailDomain: cfg.Accounting.MailDomain, Mail: o.Mail, Logger: log.With("component", "notices"), Now: now})
	if d.Fleet, err = fleet.New(fleet.Options{
		DB: d.DB, Cloud: o.Cloud, Audit: aud, Log: log.With("component", "fleet"), Now: now, Regions: scanned,
		Hooks: o.FleetHooks, Interval: cfg.Broker.ReconcileInterval,
		Purposes: map[tollgate.Purpose]fleet.PurposeRules{tollgate.PurposeUser: {
			DefaultLifetime: func(ctx context.Context, owner string) (time.Duration, error) {
				pol, err := policyOf(ctx, owner)
				return pol.DefaultLifetime, err
			},
			Adopted: d.Notices.TellAdopted,
		}},
	}); err != nil {
		return fail(err)
	}
	prices, err := accounting.LoadPrices(cfg.Accounting.Prices, cfg.Accounting.VolumePrices)
	if err != nil {
		return fail(fmt.Errorf("load prices: %w", err))
	}
	if d.Accounting, err = accounting.New(accounting.Options{
		DB: d.DB, Cloud: o.Cloud, Config: cfg.Accounting, Regions: scanned, Prices: prices,
		Policy: policyOf, Adopt: d.Fleet.Adopt, Logger: log.With("component", "accounting"), Now: now, Tick: o.Tick,
	}); err != nil {
		return fail(fmt.Errorf("start accounting: %w", err))
	}
	if d.Enforcer, err = enforce.New(enforce.Options{DB: d.DB, Fleet: d.Fleet, Spend: d.Accounting,
		Notices: d.Notices, Policy: policyOf, Logger: log.With("component", "enforce"), Now: now, Tick: o.Tick}); err != nil {
		return fail(err)
	}
	iamRegion := ""
	if len(scanned) > 0 {
		iamRegion = scanned[0]
	}
	if d.IAM, err = iamusers.New(iamusers.Options{DB: d.DB, Cloud: o.Cloud, Config: cfg.IAM, Region: iamRegion,
		Logger: log.With("component", "iamusers"), Now: now}); err != nil {
		return fail(fmt.Errorf("start IAM identities: %w", err))
	}
	if d.Balancer, err = newBalancer(cfg, o, d, aud, prices, log, now); err != nil {
		return fail(err)
	}
	ro := regions.Options{Services: cfg.Regions.Services, DB: d.DB, Cloud: o.Cloud, Fleet: d.Fleet, Audit: aud,
		Spend: d.Accounting, OnDemand: prices.OnDemand, Log: log.With("component", "regions"), Now: now}
	if o.Regions != nil {
		o.Regions(&ro)
	}
	if d.Regions, err = regions.New(ro); err != nil {
		return fail(err)
	}
	var hooks *broker.Hooks
	if o.PeerUID != nil {
		hooks = &broker.Hooks{PeerUID: o.PeerUID}
	}
	if b, err = broker.New(broker.Options{Config: &cfg, Logger: log, Now: now, Listener: ln, DB: d.DB,
		Cloud: o.Cloud, Fleet: d.Fleet, Audit: aud, Accounting: d.Accounting, Notices: d.Notices, IAM: d.IAM,
		Prices: prices, Balancer: d.Balancer, Regions: d.Regions, Users: o.Users, Hooks: hooks}); err != nil {
		return fail(err)
	}
	d.Broker = b
	if err := d.IAM.Recover(ctx); err != nil {
		return fail(fmt.Errorf("recover IAM intents: %w", err))
	}
	// A fresh process has no cloud call in flight: on SQLite (one host, one daemon)
	// every requested launch and action is settled now. On PostgreSQL another host's
	// daemon may have calls in flight, so only records older than the grace are.
	grace := time.Duration(0)
	if d.DB.Engine() == db.Postgres {
		grace = d.Fleet.Grace()
	}
	if _, err := d.Fleet.Reconcile(ctx, grace); err != nil {
		log.Warn("start-up reconcile failed; will retry", "err", err)
	}
	// Requests and reconcile run on every host; the background work on the one that
	// leads (see leader).
	background := []Runner{
		{"collector", d.Accounting.Run},
		{"enforce", d.Enforcer.Run},
		{"balancer", d.Balancer.Run},
		{"regions", d.Regions.RunLoop},
	}
	if r := cfg.Broker.AuditRefusalRetention; r > 0 {
		p := &audit.Pruner{DB: d.DB, Retention: r, Now: now, Log: log.With("component", "audit")}
		background = append(background, Runner{"audit-prune", p.Run})
	}
	d.Background = background
	d.Runners = []Runner{
		{"socket", b.Serve},
		{"reconcile", d.Fleet.Run},
		{"leader", d.leader(o.LeadPoll, background)},
	}
	return d, nil
}

// leader is the runner of the background work: the collector, the reaper and budgets,
// the balancer, the regional services and the audit pruner run on exactly one daemon of
// those sharing a database, the one holding the lead (db.Lead). A daemon that takes the
// lead first settles the regional runs the previous leader left (they are stopped and
// recorded as interrupted), then starts the runners; losing the lead stops them.
func (d *Daemon) leader(poll time.Duration, runners []Runner) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		return d.DB.Lead(ctx, "background", db.LeadOptions{Poll: poll, OnChange: func(leading bool) {
			d.leading.Store(leading)
			if d.DB.Engine() == db.Postgres {
				d.log.Info("background work", "leading", leading)
			}
		}}, func(ctx context.Context) error {
			if err := d.Regions.Recover(ctx); err != nil {
				d.log.Warn("recovering regional service runs failed", "err", err)
			}
			return runAll(ctx, runners)
		})
	}
}

// Leading reports whether this daemon runs the background work now.
func (d *Daemon) Leading() bool { return d.leading.Load() }

// newBalancer builds the balancer on the fleet: the configured pools, resolved (a
// gbrowse_conf is read now) and validated by the configuration's checks.
func newBalancer(cfg config.Config, o Options, d *Daemon, aud *audit.Writer, prices *accounting.Prices,
	log *slog.Logger, now func() time.Time) (*balancer.Service, error) {
	pools, err := cfg.Balancer.Resolved()
	if err != nil {
		return nil, err
	}
	bo := balancer.Options{Pools: pools, DB: d.DB, Cloud: o.Cloud, Fleet: d.Fleet, Audit: aud, Spend: d.Accounting,
		Notices: d.Notices, Admins: enforce.AdminInbox, OnDemand: prices.OnDemand,
		Log: log.With("component", "balancer"), Now: now}
	if o.Balancer != nil {
		o.Balancer(&bo)
	}
	b, err := balancer.New(bo)
	if err != nil {
		return nil, fmt.Errorf("start the balancer: %w", err)
	}
	return b, nil
}

// OpenDB opens the configured database: on PostgreSQL with the password of
// database_password_file or the environment; an SQLite file after preparing its
// directory (owned by the daemon, closed to others) and checking the files.
func OpenDB(ctx context.Context, b config.Broker) (*db.DB, error) {
	if db.IsPostgres(b.Database) {
		pw, err := config.DatabasePassword(b)
		if err != nil {
			return nil, err
		}
		return db.Open(ctx, b.Database, db.Options{Password: pw})
	}
	path := b.Database
	if err := fsafe.PrepareDir(filepath.Dir(path), 0o750, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	if err := db.CheckDBFiles(path); err != nil {
		return nil, err
	}
	if err := fsafe.Writable(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	return db.Open(ctx, path)
}

// Run runs every runner until ctx ends or one of them fails, which stops the others;
// then it closes the database.
func (d *Daemon) Run(ctx context.Context) error {
	return errors.Join(runAll(ctx, d.Runners), d.DB.Close())
}

// runAll runs every runner until ctx ends or one of them fails, which stops the others.
func runAll(ctx context.Context, runners []Runner) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error {
			err := r.Run(gctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Close abandons a daemon that was built but not run (or whose Run returned early).
func (d *Daemon) Close() error {
	return errors.Join(d.Broker.Close(), d.DB.Close())
}

// checkRoot refuses to run as root (euid 0) unless allowed.
func checkRoot(euid int, allow bool) error {
	if euid == 0 && !allow {
		return errors.New("tollgated refuses to run as root: run it as its own system user (systemd User=tollgate), or pass --allow-root")
	}
	return nil
}
