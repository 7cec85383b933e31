package accounting

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
)

// TestConcurrentCollectors runs a "cron" collector (its own database handle, as a
// separate process would have) beside the daemon's, both every snapshot, and checks the
// result is what one collector would have written.
func TestConcurrentCollectors(t *testing.T) {
	regions := []string{"us-west-2", "eu-west-1"}
	e := newEnv(t, envOptions{regions: regions})
	ctx := context.Background()
	d2, err := db.Open(ctx, e.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	cron, err := New(Options{DB: d2, Cloud: e.cl, Regions: regions, Now: e.sim.Now,
		Config: config.Accounting{Prices: simPrices(regions)}})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range regions {
		all = append(all, ids(e.launch(r, "ann", "t3.micro", 10, false, 0))...)
	}
	for step := range 36 {
		switch step {
		case 6:
			e.stop("us-west-2", all[:5]...)
		case 12:
			e.start("us-west-2", all[:5]...)
		case 20:
			e.terminate("eu-west-1", all[10:15]...)
		case 24:
			e.sim.Forget(all[15])
		}
		e.sim.Advance(5 * time.Minute)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, svc := range []*Service{e.svc, cron} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := svc.Collect(ctx)
				for _, r := range res.Regions {
					if err == nil && !r.OK {
						err = errorString(r.Region + ": " + r.Error)
					}
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	var periods, instances int
	if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM acct_periods`).Scan(&periods); err != nil {
		t.Fatal(err)
	}
	if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM instances`).Scan(&instances); err != nil {
		t.Fatal(err)
	}
	if periods != 25 || instances != 20 {
		t.Errorf("got %d periods for %d instances, want 25 for 20 (5 restarted)", periods, instances)
	}
	ours, total := checkAgainstLedger(t, e, 5*time.Minute)
	t.Logf("ours $%.6f, ledger $%.6f", ours, total)
}

type errorString string

func (e errorString) Error() string { return string(e) }
