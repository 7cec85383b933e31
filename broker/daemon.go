package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
	"github.com/tollgate/tollgate/quota"
)

// Version is reported by whoami; cmd may set it at link time.
var Version = "dev"

const (
	// DefaultReconcileGrace is how old a requested launch must be before reconcile may
	// close it as failed: younger ones may still have a RunInstances call in flight.
	DefaultReconcileGrace = 2 * time.Minute
	nssCacheTTL           = 30 * time.Second
)

// Slog attribute keys: constant, so log lines can be searched.
const (
	logUser     = "user"
	logUID      = "uid"
	logRequest  = "request"
	logRegion   = "region"
	logInstance = "instance"
	logErr      = "err"
	logPath     = "path"
	logCount    = "count"
)

// Accounting is what the broker needs of the accounting engine; *accounting.Service
// satisfies it.
type Accounting interface {
	Usage(ctx context.Context, user string) (accounting.Usage, error)
	SpentUSD(ctx context.Context, user string, since time.Time) (float64, error)
	// InstanceCosts is each instance's cost over its owner's current budget period.
	InstanceCosts(ctx context.Context, ids []string) (map[string]float64, error)
	// PeriodFor is the budget period of pol at now (one computation for the broker and
	// accounting, with the same fallback).
	PeriodFor(pol quota.Policy, user string, now time.Time) (start, end time.Time)
	Collect(ctx context.Context) (accounting.CollectResult, error)
	Report(ctx context.Context, req accounting.ReportRequest) (accounting.Report, error)
	Notices(ctx context.Context, user string, all bool) ([]accounting.Notice, error)
	UnreadNotices(ctx context.Context, user string) (int, error)
	Notify(ctx context.Context, user, kind, ref, message string) (bool, error)
	Run(ctx context.Context) error
}

// The real services satisfy the broker's interfaces; a missing method is a build error.
var (
	_ Accounting = (*accounting.Service)(nil)
	_ IAM        = (*iamusers.Service)(nil)
	_ Prices     = (*accounting.Prices)(nil)
)

// Prices is what admission needs of the price table; *accounting.Prices satisfies it.
type Prices interface {
	OnDemand(region, typ string) (float64, error)
	VCPUs(typ string) (int, error)
}

// IAM is what the broker needs of per-user IAM identities; *iamusers.Service satisfies it.
type IAM interface {
	Issue(ctx context.Context, user string, rotate bool) (iamusers.Credentials, error)
	List(ctx context.Context) ([]iamusers.Identity, error)
	Revoke(ctx context.Context, user string) error
	RevokeAll(ctx context.Context) (iamusers.RevokeResult, error)
	Recover(ctx context.Context) error
}

// Hooks are test-only crash points in the launch; nil in production. A hook that panics
// with http.ErrAbortHandler kills the launch at that step as kill -9 would.
type Hooks struct {
	AfterIntent  func() // the launch record is committed (state requested)
	BeforeRun    func() // the keypair is in place, RunInstances is next
	AfterRun     func() // RunInstances returned (with or without an error)
	BeforeRecord func() // the instances are about to be recorded
	// PeerUID maps the kernel's peer uid to the uid the request is treated as: tests run
	// as one OS user and use it to act as several.
	PeerUID func(real int) int
}

func (h *Hooks) call(f func(h *Hooks) func()) {
	if h == nil {
		return
	}
	if fn := f(h); fn != nil {
		fn()
	}
}

// Options wires a Daemon.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	Cloud  Cloud            // required
	Users  UserDB           // default: os/user (NSS), cached briefly
	Hooks  *Hooks           // test-only crash points

	// Accounting, IAM and Prices default to accounting.New, iamusers.New and
	// accounting.LoadPrices built from Config; tests may inject their own.
	Accounting Accounting
	IAM        IAM
	Prices     Prices
	// ReconcileGrace overrides DefaultReconcileGrace.
	ReconcileGrace time.Duration
	// MutationRate and MutationBurst override DefaultMutationRate and
	// DefaultMutationBurst: each non-admin uid's token bucket for POST requests.
	MutationRate  float64
	MutationBurst int
	// MaxConnsPerUID and MaxConns override DefaultMaxConnsPerUID and DefaultMaxConns.
	MaxConnsPerUID int
	MaxConns       int
	// AllowRoot lets the daemon run as root. It refuses by default: it only needs its
	// socket, database and cloud credentials, and everything it creates as root would be
	// root's (cmd's --allow-root sets it).
	AllowRoot bool
	// ReadTimeout, WriteTimeout and IdleTimeout override the server's defaults
	// (DefaultReadTimeout, ...).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// Daemon is tollgated's broker: the socket server, admission, the crash-safe launch and
// reconcile. Start it with New, serve with Run, and Close it.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	now     func() time.Time
	cloud   Cloud
	users   UserDB
	hooks   *Hooks
	db      *db.DB
	acct    Accounting
	iam     IAM
	prices  Prices
	regions []string
	grace   time.Duration
	socket  string

	ln  *net.UnixListener
	srv *http.Server

	keyMu    sync.Mutex
	keyLocks map[string]*sync.Mutex

	images *ttlCache[string, cloud.Image]

	limiter  *userLimiter
	conns    *connLimiter
	userRows *userRows

	reconcileMu sync.Mutex
	closeOnce   sync.Once
	closeErr    error
}

// New opens the database, builds accounting and IAM, settles IAM intents and launches
// left by a previous run, and listens on the socket. It refuses to start if a live
// daemon answers on the socket. Serve with Run.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Config == nil {
		return nil, errors.New("broker: no configuration")
	}
	if opts.Cloud == nil {
		return nil, errors.New("broker: no cloud client")
	}
	euid := os.Geteuid()
	if err := checkRoot(euid, opts.AllowRoot); err != nil {
		return nil, err
	}
	cfg := *opts.Config
	cfg.Broker.Defaults()
	d := &Daemon{
		cfg:      &cfg,
		log:      opts.Logger,
		now:      opts.Now,
		cloud:    opts.Cloud,
		users:    opts.Users,
		hooks:    opts.Hooks,
		grace:    opts.ReconcileGrace,
		socket:   cfg.Broker.Socket,
		keyLocks: map[string]*sync.Mutex{},
		images:   newTTLCache[string, cloud.Image](imageTTL, maxImages),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.users == nil {
		d.users = newCachedUsers(OSUsers{}, nssCacheTTL, d.now)
	}
	if d.grace == 0 {
		d.grace = DefaultReconcileGrace
	}
	mrate, mburst := opts.MutationRate, opts.MutationBurst
	if mrate <= 0 {
		mrate = DefaultMutationRate
	}
	if mburst <= 0 {
		mburst = DefaultMutationBurst
	}
	d.limiter = newUserLimiter(d.now, mrate, mburst)
	d.userRows = newUserRows(d.now)
	d.conns = newConnLimiter(orDefault(opts.MaxConnsPerUID, DefaultMaxConnsPerUID), orDefault(opts.MaxConns, DefaultMaxConns))
	d.regions = cfg.AllRegions()

	// Claim the socket first: a live daemon means we must not touch its database.
	ln, err := listenSocket(d.socket, os.FileMode(cfg.Broker.SocketMode), euid)
	if err != nil {
		return nil, err
	}
	d.ln = ln
	fail := func(err error) (*Daemon, error) {
		d.Close()
		return nil, err
	}
	if err := db.PrepareDir(filepath.Dir(cfg.Broker.Database), 0o750, euid); err != nil {
		return fail(fmt.Errorf("database directory: %w", err))
	}
	if err := db.CheckDBFiles(cfg.Broker.Database); err != nil {
		return fail(err)
	}
	if d.db, err = db.Open(ctx, cfg.Broker.Database); err != nil {
		return fail(err)
	}
	d.db.Now = d.now
	if err := d.buildServices(opts); err != nil {
		return fail(err)
	}
	if err := d.iam.Recover(ctx); err != nil {
		return fail(fmt.Errorf("recover IAM intents: %w", err))
	}
	// A fresh process has no RunInstances in flight: every requested launch is settled.
	if _, err := d.reconcile(ctx, 0); err != nil {
		d.log.Warn("start-up reconcile failed; will retry", logErr, err)
	}
	d.srv = &http.Server{
		Handler:           d.routes(),
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	d.log.Info("tollgated listening", logPath, d.socket)
	return d, nil
}

func (d *Daemon) buildServices(opts Options) error {
	d.prices = opts.Prices
	if d.prices == nil {
		p, err := accounting.LoadPrices(d.cfg.Accounting.Prices, d.cfg.Accounting.VolumePrices)
		if err != nil {
			return fmt.Errorf("load prices: %w", err)
		}
		d.prices = p
	}
	d.acct = opts.Accounting
	if d.acct == nil {
		ac, ok := d.cloud.(accounting.Cloud)
		if !ok {
			return errors.New("broker: the cloud client does not offer what accounting needs; pass Options.Accounting")
		}
		p, _ := d.prices.(*accounting.Prices)
		svc, err := accounting.New(accounting.Options{
			DB: d.db, Cloud: ac, Config: d.cfg.Accounting, Regions: d.regions, Prices: p,
			Policy: d.policyOf, Adopt: d.adopt, Logger: d.log.With("component", "accounting"), Now: d.now,
		})
		if err != nil {
			return fmt.Errorf("start accounting: %w", err)
		}
		d.acct = svc
	}
	d.iam = opts.IAM
	if d.iam == nil {
		ic, ok := d.cloud.(iamusers.Cloud)
		if !ok {
			return errors.New("broker: the cloud client does not offer what IAM identities need; pass Options.IAM")
		}
		region := ""
		if len(d.regions) > 0 {
			region = d.regions[0]
		}
		svc, err := iamusers.New(iamusers.Options{
			DB: d.db, Cloud: ic, Config: d.cfg.IAM, Region: region,
			Logger: d.log.With("component", "iamusers"), Now: d.now,
		})
		if err != nil {
			return fmt.Errorf("start IAM identities: %w", err)
		}
		d.iam = svc
	}
	return nil
}

// checkRoot refuses to run as root (euid 0) unless allowed.
func checkRoot(euid int, allow bool) error {
	if euid == 0 && !allow {
		return errors.New("tollgated refuses to run as root: run it as its own system user (systemd User=tollgate), or pass --allow-root")
	}
	return nil
}

// Run serves the socket, reconciles every broker.reconcile_interval and runs accounting
// until ctx ends, then shuts down gracefully and closes the daemon.
func (d *Daemon) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		var mapUID func(int) int
		if d.hooks != nil {
			mapUID = d.hooks.PeerUID
		}
		err := d.srv.Serve(peerListener{UnixListener: d.ln, limits: d.conns, mapUID: mapUID, log: d.log})
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := d.acct.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("accounting stopped", logErr, err)
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(d.cfg.Broker.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if _, err := d.reconcile(bg, d.grace); err != nil && bg.Err() == nil {
					d.log.Warn("reconcile failed", logErr, err)
				}
			}
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := d.srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("shut down: %w", serr)
	}
	wg.Wait()
	return errors.Join(err, d.Close())
}

// Close stops listening and closes the database. It does not wait for requests in
// flight (Run's graceful shutdown does); a launch interrupted here is settled by the next
// start-up's reconcile, exactly as after a crash.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if d.srv != nil {
			errs = append(errs, ignoreClosed(d.srv.Close()))
		}
		if d.ln != nil {
			errs = append(errs, ignoreClosed(d.ln.Close()))
		}
		if d.db != nil {
			errs = append(errs, d.db.Close())
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// orDefault is v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Socket is the socket path the daemon listens on.
func (d *Daemon) Socket() string { return d.socket }

// DB is the daemon's database.
func (d *Daemon) DB() *db.DB { return d.db }
