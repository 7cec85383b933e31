package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
)

// benchUsers is how many users admissions rotate over, so each user's holdings stay a
// realistic handful of rows however large b.N grows.
const benchUsers = 512

// onEngines runs bench once per engine of dbtest.Engines, as sub-benchmarks named after
// the engine, each with a fresh database on that engine, so `make bench` reports both
// in one run on one machine.
func onEngines(b *testing.B, bench func(b *testing.B, engine func(*config.Config))) {
	for _, e := range dbtest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			bench(b, func(c *config.Config) { c.Broker.Database = dbtest.Target(b, e) })
		})
	}
}

func benchHarness(b *testing.B, engine func(*config.Config)) (*harness, []*caller) {
	b.Helper()
	h := newHarness(b, engine, func(c *config.Config) {
		c.Policy.Default.MaxInstances = 1 << 20
		c.Policy.Default.MaxVCPUs = 1 << 24
		c.Policy.Default.BudgetUSD = 1e12
	})
	now := h.sim.Now()
	callers := make([]*caller, benchUsers)
	err := h.d.DB().Immediate(h.ctx, func(tx *db.Tx) error {
		for i := range callers {
			u := db.User{Name: fmt.Sprintf("u%03d", i), UID: 10000 + i, Source: db.SourceAdmin, CreatedAt: now}
			if err := db.InsertUser(h.ctx, tx, u); err != nil {
				return err
			}
			if _, err := tx.ExecContext(h.ctx, `INSERT INTO ssh_keys(user, public_key, fingerprint, updated_at) VALUES (?, 'k', 'SHA256:x', ?)`,
				u.Name, db.Time(now)); err != nil {
				return err
			}
			callers[i] = &caller{UserInfo: UserInfo{Name: u.Name, UID: u.UID}, Enrolled: true, row: &u}
		}
		_, err := tx.ExecContext(h.ctx, `CREATE TABLE IF NOT EXISTS bench_raw (owner TEXT NOT NULL, at TEXT NOT NULL)`)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return h, callers
}

// rawInsert is one single-row insert transaction through Immediate (BEGIN IMMEDIATE on
// SQLite, the writers' advisory lock on PostgreSQL), same pool and settings.
func rawInsert(ctx context.Context, d *db.DB, i int) error {
	return d.Immediate(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO bench_raw(owner, at) VALUES (?, ?)`, fmt.Sprintf("u%03d", i%benchUsers), db.Time(time.Now()))
		return err
	})
}

// BenchmarkAdmission measures the admission path (policy, holdings, quota.Admit, launch
// record and audit entry in one Immediate transaction; no cloud call), then times as many
// raw single-row insert transactions on the same database and reports both and the ratio
// of admission throughput to raw insert throughput, on each engine.
func BenchmarkAdmission(b *testing.B) { onEngines(b, benchAdmission) }

func benchAdmission(b *testing.B, engine func(*config.Config)) {
	h, callers := benchHarness(b, engine)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := h.d.admit(ctx, callers[i%benchUsers], api.LaunchRequest{}); err != nil {
			b.Fatal(err)
		}
	}
	adm := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if err := rawInsert(ctx, h.d.DB(), i); err != nil {
			b.Fatal(err)
		}
	}
	raw := time.Since(start)
	b.ReportMetric(float64(b.N)/adm.Seconds(), "admissions/s")
	b.ReportMetric(float64(b.N)/raw.Seconds(), "raw_inserts/s")
	b.ReportMetric(raw.Seconds()/adm.Seconds(), "ratio")
}

// BenchmarkRawInsert is the baseline alone: single-row insert transactions.
func BenchmarkRawInsert(b *testing.B) { onEngines(b, benchRawInsert) }

func benchRawInsert(b *testing.B, engine func(*config.Config)) {
	h, _ := benchHarness(b, engine)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rawInsert(ctx, h.d.DB(), i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuotaParallel runs GET /v1/quota round trips from 32 concurrent clients, each
// on its own connection, and reports throughput and the p50/p99 latency. In the same run
// it times as many round trips to a trivial handler (a constant JSON body) behind the
// same listener, server settings and client, and reports the ratio of quota throughput
// to that baseline: the share of a round trip's cost that is the daemon's own work.
func BenchmarkQuotaParallel(b *testing.B) { onEngines(b, benchQuotaParallel) }

func benchQuotaParallel(b *testing.B, engine func(*config.Config)) {
	const clients = 32
	// All clients act as alice: room for them and the harness's own client.
	h := newHarnessOpts(b, func(o *Options) { o.MaxConnsPerUID = 2 * clients }, engine)
	h.enrol("alice", "alice")
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{Count: 2}); err != nil {
		b.Fatal(err)
	}
	quota := func(c *api.Client) error { _, err := c.Quota(h.ctx); return err }
	cs := make([]*api.Client, clients)
	for i := range cs {
		cs[i] = api.NewClient(h.d.Socket())
		if err := quota(cs[i]); err != nil { // warm the connection
			b.Fatal(err)
		}
	}
	trivialSocket := serveTrivial(b)
	ts := make([]*api.Client, clients)
	trivial := func(c *api.Client) error { _, err := c.WhoAmI(h.ctx); return err }
	for i := range ts {
		ts[i] = api.NewClient(trivialSocket)
		if err := trivial(ts[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	elapsed, lat := roundTrips(b, cs, quota)
	b.StopTimer()
	base, baseLat := roundTrips(b, ts, trivial)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(float64(b.N)/base.Seconds(), "trivial_req/s")
	b.ReportMetric(percentile(baseLat, 0.99), "trivial_p99_ms")
	b.ReportMetric(base.Seconds()/elapsed.Seconds(), "ratio")
}

// roundTrips spreads b.N calls over the clients, one goroutine each, and returns the
// wall time and every call's latency, sorted.
func roundTrips(b *testing.B, cs []*api.Client, call func(*api.Client) error) (time.Duration, []time.Duration) {
	lat := make([][]time.Duration, len(cs))
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cs {
		n := b.N / len(cs)
		if w < b.N%len(cs) {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := make([]time.Duration, 0, n)
			for range n {
				t0 := time.Now()
				if err := call(cs[w]); err != nil {
					b.Error(err)
					return
				}
				ls = append(ls, time.Since(t0))
			}
			lat[w] = ls
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, ls := range lat {
		all = append(all, ls...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return elapsed, all
}

// percentile is the p-th latency of sorted, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
}

// serveTrivial serves a constant JSON object on a fresh unix socket, through the
// daemon's own listener wrapper and server settings, and returns the socket's path.
func serveTrivial(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("", "tgb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "t.sock")
	ln, err := listenSocket(path, 0o600, os.Geteuid())
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("{}")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}),
		ConnContext: connContext, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout,
	}
	go srv.Serve(peerListener{UnixListener: ln, limits: newConnLimiter(1024, 1024), log: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { srv.Close() })
	return path
}
