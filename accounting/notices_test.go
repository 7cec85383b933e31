package accounting

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
)

func TestNotifyOncePerRef(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	tests := []struct {
		name, user, kind, ref string
		wantNew               bool
	}{
		{"first", "ann", KindBudget80, "2026-01-01", true},
		{"same again", "ann", KindBudget80, "2026-01-01", false},
		{"next period", "ann", KindBudget80, "2026-02-01", true},
		{"other kind", "ann", KindBudget100, "2026-01-01", true},
		{"other user", "ben", KindBudget80, "2026-01-01", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.Notify(ctx, tt.user, tt.kind, tt.ref, "text")
			if err != nil || got != tt.wantNew {
				t.Errorf("Notify: got %v, %v; want %v", got, err, tt.wantNew)
			}
		})
	}
	if n, _ := e.svc.UnreadNotices(ctx, "ann"); n != 3 {
		t.Errorf("ann unread: got %d, want 3", n)
	}
	if len(e.mails) != 4 {
		t.Errorf("mails: got %d, want one per new notice (4)", len(e.mails))
	}
	all, err := e.svc.Notices(ctx, "ann", false)
	if err != nil || len(all) != 3 {
		t.Fatalf("Notices: got %d, %v; want 3", len(all), err)
	}
	again, err := e.svc.Notices(ctx, "ann", true)
	if err != nil || len(again) != 3 || !again[0].Read {
		t.Errorf("Notices(all) after reading: got %+v, %v; want 3 marked read", again, err)
	}
}

func TestMailCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mail.txt")
	e := newEnv(t, envOptions{})
	d, err := db.Open(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// tee writes stdin to the file named by its argument: no shell is involved, and
	// "{to}" shows argument substitution.
	svc, err := New(Options{DB: d, Cloud: e.cl, Now: e.sim.Now, Config: config.Accounting{
		MailCommand: []string{"tee", out + ".{to}"}, MailDomain: "example.edu"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Notify(context.Background(), "ann", KindLeaseWarning, "i-1@x", "Instance i-1 expires soon; $(rm -rf /)"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out + ".ann@example.edu")
	if err != nil {
		t.Fatalf("mail command did not run: %v", err)
	}
	for _, want := range []string{"To: ann@example.edu\n", "Subject: tollgate: lease warning\n", "\n\nInstance i-1 expires soon; $(rm -rf /)\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("mail text %q lacks %q", b, want)
		}
	}
}

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
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM acct_periods`).Scan(&periods); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM instances`).Scan(&instances); err != nil {
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

func TestMailCommandGetsNoSecrets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env.txt")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "marker-aws-secret")
	t.Setenv("EC2_SECRET_KEY", "marker-ec2-secret")
	if err := runMailCommand(context.Background(), []string{"/bin/sh", "-c", "env > " + out}, "ann", "s", "b"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "marker-") || strings.Contains(string(b), "AWS_") || strings.Contains(string(b), "EC2_") {
		t.Errorf("the mail command's environment holds cloud variables:\n%s", b)
	}
}

func TestMailRecipientRefused(t *testing.T) {
	for _, to := range []string{"-oQ/tmp/x", "ann bob", "ann,bob@example.edu", "ann\n", ""} {
		t.Run(to, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			err := runMailCommand(context.Background(), []string{"/bin/sh", "-c", "touch " + marker}, to, "s", "b")
			if err == nil {
				t.Fatalf("recipient %q accepted", to)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("mail command ran for recipient %q", to)
			}
		})
	}
}
