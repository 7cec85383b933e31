package accounting

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
)

var benchRegions = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"}

// launchMany launches n instances spread over e's regions, a tenth of them untracked.
func launchMany(b *testing.B, e *testEnv, n int) {
	b.Helper()
	for i, r := range e.regions {
		per := n / len(e.regions)
		if i < n%len(e.regions) {
			per++
		}
		for left := per; left > 0; {
			k := min(left, 500)
			owner := fmt.Sprintf("u%03d", left%1000)
			if left%10 == 0 {
				owner = ""
			}
			e.launch(r, owner, "t3.micro", k, false, 0)
			left -= k
		}
	}
}

func newService(b *testing.B, e *testEnv, target string) (*Service, *db.DB) {
	b.Helper()
	d, err := db.Open(context.Background(), target)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Options{DB: d, Cloud: e.cl, Regions: e.regions, Now: e.sim.Now,
		Config: config.Accounting{Prices: simPrices(e.regions)}})
	if err != nil {
		b.Fatal(err)
	}
	return svc, d
}

// benchTarget is a fresh database on engine for a benchmark: on SQLite a file named name
// in a fast temporary directory.
func benchTarget(b *testing.B, engine db.Engine, name string) string {
	if engine == db.SQLite {
		return filepath.Join(fastTempDir(b), name)
	}
	return dbtest.Target(b, engine)
}

// BenchmarkCollect ingests 10,000 instances across 6 regions from awssim, on each
// engine: "first" is a snapshot into an empty database, "unchanged" a snapshot that
// finds nothing new.
func BenchmarkCollect(b *testing.B) {
	e := newEnv(b, envOptions{regions: benchRegions})
	launchMany(b, e, 10_000)
	e.sim.Advance(time.Minute)
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) { benchCollect(b, e, engine) })
	}
}

func benchCollect(b *testing.B, e *testEnv, engine db.Engine) {
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		rows := 0
		var collect, describe, cpu time.Duration
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			svc, d := newService(b, e, benchTarget(b, engine, fmt.Sprintf("first%d.db", i)))
			describe += describeAll(b, e)
			b.StartTimer()
			t0, c0 := time.Now(), cpuTime(b)
			res, err := svc.Collect(ctx)
			collect, cpu = collect+time.Since(t0), cpu+cpuTime(b)-c0
			if err != nil || res.Instances != 10_000 {
				b.Fatalf("collect: %d instances, %v", res.Instances, err)
			}
			rows = res.RowsWritten
			b.StopTimer()
			d.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(rows), "rows/op")
		// The bare DescribeInstances paging of the same instances, regions at once as the
		// collector fetches them, measured in the same run: what a snapshot cannot avoid.
		b.ReportMetric(float64(describe.Milliseconds())/float64(b.N), "describe-ms/op")
		b.ReportMetric(float64(collect)/float64(describe), "x-describe")
		// CPU time of the process (the simulator's serving included) per collect.
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
	b.Run("unchanged", func(b *testing.B) {
		svc, d := newService(b, e, benchTarget(b, engine, "unchanged.db"))
		defer d.Close()
		if _, err := svc.Collect(ctx); err != nil {
			b.Fatal(err)
		}
		rows := 0
		for b.Loop() {
			e.sim.Advance(5 * time.Minute)
			res, err := svc.Collect(ctx)
			if err != nil {
				b.Fatal(err)
			}
			rows = res.RowsWritten
		}
		b.ReportMetric(float64(rows), "rows/op")
	})
}

// termDB writes what a 16-week term of users leaves in the database, directly (the
// collector's own writes are measured by BenchmarkCollect and the accuracy test): each
// user launches three instances a week, each runs one to three periods of up to 8 hours,
// with an 8 GB volume, some spot, a few untracked instances.
func termDB(b *testing.B, engine db.Engine, users, weeks int) (*Service, *db.DB, time.Time, time.Time) {
	b.Helper()
	ctx := context.Background()
	path := benchTarget(b, engine, "term.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 7*weeks)
	rng := rand.New(rand.NewPCG(16, 1000))
	regions := []string{"us-west-2", "eu-west-1"}
	types := []string{"t3.micro", "t3.medium", "m5.large", "c5.xlarge"}
	err = d.Immediate(ctx, func(tx *db.Tx) error {
		for u := range users {
			name := fmt.Sprintf("u%04d", u)
			if _, err := tx.ExecContext(ctx, `INSERT INTO users(name, uid, source, grp, created_at, updated_at) VALUES (?, ?, 'roster', ?, ?, ?)`,
				name, 10000+u, fmt.Sprintf("section-%02d", u%20), db.Time(start), db.Time(start)); err != nil {
				return err
			}
		}
		n := 0
		for w := range weeks {
			for u := range users {
				for k := range 3 {
					n++
					id := fmt.Sprintf("i-%017x", n)
					region, typ := regions[rng.IntN(2)], types[rng.IntN(len(types))]
					spot := rng.IntN(10) == 0
					launch := start.AddDate(0, 0, 7*w).Add(time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
					var owner any = fmt.Sprintf("u%04d", u)
					tracked := 1
					if k == 0 && u%50 == 0 {
						owner, tracked = nil, 0
					}
					t := launch.Unix()
					var last int64
					for range 1 + rng.IntN(3) {
						run := 60 + rng.Int64N(8*3600)
						if _, err := tx.ExecContext(ctx, `INSERT INTO acct_periods(instance_id, region, az, type, spot, start_s, end_s, end_how)
							VALUES (?, ?, ?, ?, ?, ?, ?, 'reason')`, id, region, region+"a", typ, spot, t, t+run); err != nil {
							return err
						}
						last = t + run
						t = last + 600 + rng.Int64N(24*3600)
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO instances(id, owner, uid, region, type, image, purpose, spot, tracked,
						state, launched_at, last_seen, gone_at) VALUES (?, ?, ?, ?, ?, 'ami-0123456789abcdef0', 'user', ?, ?,
						'terminated', ?, ?, ?)`, id, owner, 10000+u, region, typ, spot, tracked, db.Time(launch),
						secTime(last), secTime(last)); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s, end_s)
						VALUES (?, ?, ?, 'gp3', 8, ?, ?)`, "vol-"+id[2:], id, region, launch.Unix(), last); err != nil {
						return err
					}
				}
			}
		}
		for _, r := range regions {
			for _, typ := range types {
				for _, az := range []string{r + "a"} {
					for at := start.Unix(); at < end.Unix(); at += 4 * 3600 {
						if _, err := tx.ExecContext(ctx, `INSERT INTO acct_spot_prices(region, type, az, at_s, price) VALUES (?, ?, ?, ?, ?)`,
							r, typ, az, at, 0.01+rng.Float64()*0.05); err != nil {
							return err
						}
					}
				}
			}
			if _, err := recordRun(ctx, tx, r, end.Unix(), true, "", 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	var nInst, nPer int
	_ = d.QueryRowContext(context.Background(), `SELECT (SELECT count(*) FROM instances), (SELECT count(*) FROM acct_periods)`).Scan(&nInst, &nPer)
	if st, err := os.Stat(path); err == nil {
		b.Logf("term database: %d users × %d weeks, %d instances, %d periods: %.1f MiB",
			users, weeks, nInst, nPer, float64(st.Size())/(1<<20))
	}
	p, err := LoadPrices(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Options{DB: d, Cloud: nopCloud{}, Prices: p, Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	return svc, d, start, end
}

// BenchmarkReport reports a term of 1,000 users × 16 weeks, on each engine.
func BenchmarkReport(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) { benchReport(b, engine) })
	}
}

func benchReport(b *testing.B, engine db.Engine) {
	svc, d, start, end := termDB(b, engine, 1000, 16)
	for _, by := range []string{ByUser, ByDay} {
		b.Run(by, func(b *testing.B) {
			var report, scan, cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				scan += scanPeriods(b, d)
				b.StartTimer()
				t0, c0 := time.Now(), cpuTime(b)
				r, err := svc.Report(context.Background(), ReportRequest{Since: start, Until: end, By: by})
				report, cpu = report+time.Since(t0), cpu+cpuTime(b)-c0
				if err != nil || len(r.Instances) == 0 {
					b.Fatalf("report: %d instances, %v", len(r.Instances), err)
				}
			}
			// A plain scan of every period row inside the engine, measured in the same run: the
			// machine's speed today, so the figure compares across runs and machines.
			b.ReportMetric(float64(scan.Microseconds())/1000/float64(b.N), "scan-ms/op")
			b.ReportMetric(float64(report)/float64(scan), "x-scan")
			// CPU time (all threads) varies less than wall time when others load the machine.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
	b.Run("SpentUSD", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := svc.SpentUSD(context.Background(), fmt.Sprintf("u%04d", i%1000), start); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// describeAll times paging through DescribeInstances for every instance of e's regions,
// the regions at once.
func describeAll(b *testing.B, e *testEnv) time.Duration {
	b.Helper()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(e.regions))
	for i, r := range e.regions {
		wg.Go(func() { _, errs[i] = e.cl.DescribeInstances(context.Background(), r, cloud.Filter{}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// scanPeriods times a full scan of the period rows that the engine does alone (no row
// reaches the driver): the floor under any report that reads them.
func scanPeriods(b *testing.B, d *db.DB) time.Duration {
	b.Helper()
	t0 := time.Now()
	var n, secs int64
	if err := d.QueryRowContext(context.Background(), `SELECT count(*), sum(coalesce(end_s, start_s) - start_s) FROM acct_periods`).Scan(&n, &secs); err != nil || n == 0 {
		b.Fatalf("scan periods: %d rows, %v", n, err)
	}
	return time.Since(t0)
}

// cpuTime is the CPU time this process has used so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// nopCloud is a cloud with nothing in it, for benchmarks that only read.
type nopCloud struct{}

func (nopCloud) DescribeInstances(context.Context, string, cloud.Filter) ([]cloud.Instance, error) {
	return nil, nil
}
func (nopCloud) StopInstances(context.Context, string, []string) ([]cloud.StateChange, error) {
	return nil, nil
}
func (nopCloud) TerminateInstances(context.Context, string, []string) ([]cloud.StateChange, error) {
	return nil, nil
}
func (nopCloud) DescribeSpotPriceHistory(context.Context, string, []string, time.Time, time.Time) ([]cloud.SpotPrice, error) {
	return nil, nil
}
func (nopCloud) DescribeVolumes(context.Context, string, []string) ([]cloud.Volume, error) {
	return nil, nil
}
