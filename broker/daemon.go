package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/iamusers"
	"github.com/tollgate/tollgate/quota"
)

// Version is reported by whoami; cmd may set it at link time.
var Version = "dev"

// nssCacheTTL is how long a name-service answer is reused.
const nssCacheTTL = 30 * time.Second

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
}

// Notices is what the broker needs of users' notices; *enforce.Notifier satisfies it.
type Notices interface {
	Notices(ctx context.Context, user string, all bool) ([]enforce.Notice, error)
	UnreadNotices(ctx context.Context, user string) (int, error)
	Notify(ctx context.Context, user, kind, ref, message string) (bool, error)
}

// The real services satisfy the broker's interfaces; a missing method is a build error.
var (
	_ Accounting = (*accounting.Service)(nil)
	_ Notices    = (*enforce.Notifier)(nil)
	_ IAM        = (*iamusers.Service)(nil)
	_ Prices     = (*accounting.Prices)(nil)
	_ Cloud      = (*cloud.Client)(nil)
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
}

// Hooks are test-only; nil in production.
type Hooks struct {
	// PeerUID maps the kernel's peer uid to the uid the request is treated as: tests run
	// as one OS user and use it to act as several.
	PeerUID func(real int) int
}

// Options wires a Daemon. The services are built by the caller (cmd/tollgated's
// composition root, package daemon; tests with their fakes); every one is required.
type Options struct {
	Config   *config.Config
	Logger   *slog.Logger
	Now      func() time.Time  // default time.Now
	Listener *net.UnixListener // from Listen
	DB       *db.DB
	Cloud    Cloud
	Fleet    *fleet.Fleet
	Audit    *audit.Writer

	Accounting Accounting
	Notices    Notices
	IAM        IAM
	Prices     Prices
	Balancer   Balancer // nil: the daemon runs no balancer
	Regions    Regions  // nil: no regional services
	Users      UserDB   // default: os/user (NSS), cached briefly
	Hooks      *Hooks   // test-only

	// ReconcileGrace is the grace of an admin's reconcile request (default
	// fleet.DefaultReconcileGrace).
	ReconcileGrace time.Duration
	// MutationRate and MutationBurst override DefaultMutationRate and
	// DefaultMutationBurst: each non-admin uid's token bucket for POST requests.
	MutationRate  float64
	MutationBurst int
	// MaxConnsPerUID and MaxConns override DefaultMaxConnsPerUID and DefaultMaxConns.
	MaxConnsPerUID int
	MaxConns       int
	// ReadTimeout, WriteTimeout and IdleTimeout override the server's defaults
	// (DefaultReadTimeout, ...).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// Daemon is tollgated's broker: the socket server, identification, admission and the
// requests, on the services it is given. Build it with New, serve with Serve, Close it.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	cloud    Cloud
	users    UserDB
	hooks    *Hooks
	db       *db.DB
	auditor  *audit.Writer
	fleet    *fleet.Fleet
	acct     Accounting
	notices  Notices
	iam      IAM
	prices   Prices
	balancer Balancer
	regions  Regions
	grace    time.Duration
	socket   string

	ln  *net.UnixListener
	srv *http.Server

	images *ttlCache[string, cloud.Image]

	limiter  *userLimiter
	conns    *connLimiter
	userRows *userRows

	closeOnce sync.Once
	closeErr  error
}

// Listen claims the broker's socket (see listenSocket): done first at start-up, because a
// live daemon on it means this process must not touch the database.
func Listen(b config.Broker) (*net.UnixListener, error) {
	b.Defaults()
	return listenSocket(b.Socket, os.FileMode(b.SocketMode), os.Geteuid())
}

// New builds the broker on its services and listener. Serve serves it.
func New(opts Options) (*Daemon, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("broker: no configuration")
	case opts.Listener == nil || opts.DB == nil || opts.Cloud == nil || opts.Fleet == nil || opts.Audit == nil:
		return nil, errors.New("broker: Listener, DB, Cloud, Fleet and Audit are required")
	case opts.Accounting == nil || opts.Notices == nil || opts.IAM == nil || opts.Prices == nil:
		return nil, errors.New("broker: Accounting, Notices, IAM and Prices are required")
	}
	cfg := *opts.Config
	cfg.Broker.Defaults()
	d := &Daemon{
		cfg: &cfg, log: opts.Logger, now: opts.Now, cloud: opts.Cloud, users: opts.Users, hooks: opts.Hooks,
		db: opts.DB, auditor: opts.Audit, fleet: opts.Fleet, acct: opts.Accounting, notices: opts.Notices,
		iam: opts.IAM, prices: opts.Prices, balancer: opts.Balancer, regions: opts.Regions, grace: opts.ReconcileGrace, socket: cfg.Broker.Socket,
		ln: opts.Listener, images: newTTLCache[string, cloud.Image](imageTTL, maxImages),
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
		d.grace = fleet.DefaultReconcileGrace
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
	d.srv = &http.Server{
		Handler:           d.routes(),
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	return d, nil
}

// PolicyOf is an enrolled user's effective policy by name, for the services that act
// without a connection to take a uid from (accounting, enforcement, adoption).
func (d *Daemon) PolicyOf(ctx context.Context, user string) (quota.Policy, error) {
	return d.policyOf(ctx, user)
}

// Serve serves the socket until ctx ends, then shuts down gracefully (requests in flight
// get 10 seconds) and closes the listener. It is one of the daemon's runners.
func (d *Daemon) Serve(ctx context.Context) error {
	d.log.Info("tollgated listening", logPath, d.socket)
	errc := make(chan error, 1)
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
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := d.srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("shut down: %w", serr)
	}
	return errors.Join(err, d.Close())
}

// Close stops listening. It does not wait for requests in flight (Serve's graceful
// shutdown does); a launch or action interrupted here is settled by the next start-up's
// reconcile, exactly as after a crash. The database is its opener's to close.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		errs = append(errs, ignoreClosed(d.srv.Close()))
		errs = append(errs, ignoreClosed(d.ln.Close()))
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
