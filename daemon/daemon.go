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

	log *slog.Logger
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
	if d.DB, err = OpenDB(ctx, cfg.Broker.Database); err != nil {
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
		Policy: policyOf, Adopt: d.Fleet.Adopt, Logger: log.With("component", "accounting"), Now: now,
	}); err != nil {
		return fail(fmt.Errorf("start accounting: %w", err))
	}
	if d.Enforcer, err = enforce.New(enforce.Options{DB: d.DB, Fleet: d.Fleet, Spend: d.Accounting,
		Notices: d.Notices, Policy: policyOf, Logger: log.With("component", "enforce"), Now: now}); err != nil {
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
	// A fresh process has no cloud call in flight: every requested launch and action is
	// settled now.
	if _, err := d.Fleet.Reconcile(ctx, 0); err != nil {
		log.Warn("start-up reconcile failed; will retry", "err", err)
	}
	// Runs a previous process left running are stopped and recorded as interrupted.
	if err := d.Regions.Recover(ctx); err != nil {
		log.Warn("recovering regional service runs failed", "err", err)
	}
	d.Runners = []Runner{
		{"socket", b.Serve},
		{"reconcile", d.Fleet.Run},
		{"collector", d.Accounting.Run},
		{"enforce", d.Enforcer.Run},
		{"balancer", d.Balancer.Run},
		{"regions", d.Regions.RunLoop},
	}
	if r := cfg.Broker.AuditRefusalRetention; r > 0 {
		p := &audit.Pruner{DB: d.DB, Retention: r, Now: now, Log: log.With("component", "audit")}
		d.Runners = append(d.Runners, Runner{"audit-prune", p.Run})
	}
	return d, nil
}

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

// OpenDB prepares the database's directory (owned by the daemon, closed to others),
// checks the files and opens the database.
func OpenDB(ctx context.Context, path string) (*db.DB, error) {
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
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range d.Runners {
		g.Go(func() error {
			err := r.Run(gctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			return nil
		})
	}
	return errors.Join(g.Wait(), d.DB.Close())
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
